// rollup_job.hpp — the rollup job: recomputes the delivery-metrics rollup of exactly the hours that changed.
#pragma once

#include <cstddef>
#include <vector>

namespace wagate::pg {
class Connection;
}

namespace wagate::maint {

// What one run did, for its log line and for tests.
struct RollupStats {
  bool full = false;     // no watermark yet: every hour of every tenant was rolled up
  long long hours = 0;   // (tenant, hour) pairs recomputed from the messages
  long long days = 0;    // (tenant, day) pairs recomputed from their hours
  long long rows = 0;    // rollup rows written
};

// A period of one tenant: its start in seconds since the epoch (UTC).
struct TenantPeriod {
  long long tenant_id = 0;
  long long start = 0;
  bool operator==(const TenantPeriod&) const = default;
};

// The hours one statement recomputes, and the days summed again from them.
struct RollupChunk {
  std::vector<TenantPeriod> hours;
  std::vector<TenantPeriod> days;
};

// Hours recomputed per statement: bounds the memory of one statement when a
// first run rolls up a long history.
inline constexpr size_t kRollupChunkHours = 72;

// Splits the changed hours (sorted by tenant, then hour; each a multiple of
// 3600) into chunks of at least `chunk_hours` hours (the last one may hold
// fewer) that end on a (tenant, day) boundary: a day is summed again only
// in the chunk that recomputes the last of its changed hours, so it is
// never summed from hours half recomputed.
[[nodiscard]] std::vector<RollupChunk> plan_chunks(const std::vector<TenantPeriod>& hours,
                                                   size_t chunk_hours = kRollupChunkHours);

// One run, in one REPEATABLE READ transaction: finds the hours holding a
// message row its last snapshot could not see (metrics_xid) or a deleted
// one (metrics_dirty_hours), replaces their hourly rows and their days'
// daily rows, and stores this run's snapshot as the new watermark
// (sql/004_rollups.sql). Work is bounded by what changed since the last run.
// The caller holds the job's advisory lock. Throws DbError.
RollupStats rollup(pg::Connection& db);

}  // namespace wagate::maint
