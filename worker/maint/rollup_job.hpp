// rollup_job.hpp — the rollup job: recomputes the delivery-metrics rollup of exactly the hours that changed.
#pragma once

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

// One run, in one REPEATABLE READ transaction: finds the hours holding a
// message row its last snapshot could not see (metrics_xid) or a deleted
// one (metrics_dirty_hours), replaces their hourly rows and their days'
// daily rows, and stores this run's snapshot as the new watermark
// (sql/004_rollups.sql). Work is bounded by what changed since the last run.
// The caller holds the job's advisory lock. Throws DbError.
RollupStats rollup(pg::Connection& db);

}  // namespace wagate::maint
