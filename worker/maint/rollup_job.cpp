// rollup_job.cpp — the rollup job: recomputes the delivery-metrics rollup of exactly the hours that changed.
#include "rollup_job.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/pg.hpp"

namespace wagate::maint {
namespace {

constexpr long long kHourSeconds = 3600;
constexpr long long kDaySeconds = 24 * kHourSeconds;
// Both arrays of a list of (tenant, start) pairs, for unnest($1, $2).
std::pair<std::string, std::string> arrays(const std::vector<TenantPeriod>& pairs) {
  std::string tenants = "{";
  std::string starts = "{";
  for (const TenantPeriod& pair : pairs) {
    if (tenants.size() > 1) {
      tenants += ',';
      starts += ',';
    }
    tenants += std::to_string(pair.tenant_id);
    starts += std::to_string(pair.start);
  }
  return {tenants + "}", starts + "}"};
}

// Hours whose rows the snapshot `previous` could not see, and hours of
// deleted rows; with no previous run, every hour that has messages or
// rollup rows.
std::vector<TenantPeriod> changed_hours(pg::Connection& db, const std::optional<std::string>& previous) {
  pg::Result rows = [&] {
    if (!previous) {
      return db.exec(
          "SELECT tenant_id, extract(epoch FROM hour)::bigint FROM ("
          "  SELECT DISTINCT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour FROM messages"
          "   WHERE direction = 'outbound'"
          "  UNION SELECT tenant_id, period_start FROM delivery_rollup_counts WHERE period = 'hour'"
          "  UNION SELECT tenant_id, period_start FROM delivery_rollup_times WHERE period = 'hour'"
          "  UNION SELECT tenant_id, period_start FROM delivery_rollup_buckets WHERE period = 'hour'"
          "  UNION SELECT tenant_id, period_start FROM delivery_rollup_statuses WHERE period = 'hour'"
          "  UNION SELECT tenant_id, hour FROM metrics_dirty_hours) d"
          " ORDER BY 1, 2");
    }
    // The xmin bound is what the index on metrics_xid answers; the
    // visibility test then drops the rows the snapshot did see.
    const std::string xmin = previous->substr(0, previous->find(':'));
    return db.exec(
        "SELECT tenant_id, extract(epoch FROM hour)::bigint FROM ("
        "  SELECT DISTINCT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour FROM messages"
        "   WHERE direction = 'outbound' AND metrics_xid >= $1::xid8"
        "     AND NOT pg_visible_in_snapshot(metrics_xid, $2::pg_snapshot)"
        "  UNION SELECT tenant_id, hour FROM metrics_dirty_hours) d"
        " ORDER BY 1, 2",
        {xmin, *previous});
  }();
  std::vector<TenantPeriod> hours;
  hours.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) hours.push_back({rows.get_int(i, 0), rows.get_int(i, 1)});
  return hours;
}

// Deletes the rows of every rollup table for the periods of one kind
// ('hour' or 'day') starting at `starts` (seconds since the epoch), one
// tenant each.
void delete_periods(pg::Connection& db, std::string_view period, const std::string& tenants,
                    const std::string& starts) {
  std::string sql =
      "WITH d AS (SELECT tenant_id, to_timestamp(s) AS start FROM unnest($1::bigint[], $2::bigint[]) AS d(tenant_id, s))";
  std::string counted;
  for (const auto& [name, table] : {std::pair<std::string_view, std::string_view>{"c", "delivery_rollup_counts"},
                                    {"t", "delivery_rollup_times"},
                                    {"b", "delivery_rollup_buckets"},
                                    {"s", "delivery_rollup_statuses"}}) {
    sql += ", " + std::string(name) + " AS (DELETE FROM " + std::string(table) +
           " r USING d WHERE r.tenant_id = d.tenant_id AND r.period = '" + std::string(period) +
           "' AND r.period_start = d.start RETURNING 1)";
    counted += std::string(counted.empty() ? " SELECT " : " + ") + "(SELECT count(*) FROM " + std::string(name) + ")";
  }
  db.exec(sql + counted, {tenants, starts});
}

// The rest of an insert statement whose CTE c inserted counts and t
// delivery times of `period`: the bucket totals (b) from t and the status
// counts per period and sender (s) from c, then the rows written in all.
std::string derived_rows(std::string_view period) {
  const std::string quoted = "'" + std::string(period) + "'";
  return "b AS (INSERT INTO delivery_rollup_buckets (tenant_id, period, period_start, sender, buckets, counts)"
         " SELECT tenant_id, " + quoted + ", period_start, sender, array_agg(bucket ORDER BY bucket),"
         " array_agg(messages ORDER BY bucket) FROM t GROUP BY tenant_id, period_start, sender RETURNING 1),"
         " s AS (INSERT INTO delivery_rollup_statuses (tenant_id, period, period_start, sender, statuses, messages)"
         " SELECT tenant_id, " + quoted + ", period_start, sender, array_agg(status ORDER BY status),"
         " array_agg(n ORDER BY status)"
         " FROM (SELECT tenant_id, period_start, sender, status, sum(messages)::bigint AS n FROM c"
         " GROUP BY tenant_id, period_start, sender, status) x"
         " GROUP BY tenant_id, period_start, sender RETURNING 1)"
         " SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM t) + (SELECT count(*) FROM b)"
         " + (SELECT count(*) FROM s)";
}

// Replaces the hourly rows of the chunk's hours from the messages, then the
// daily rows of its days from the hourly rows. Returns the rows written.
long long recompute(pg::Connection& db, const RollupChunk& chunk, RollupStats& stats) {
  const auto [hour_tenants, hour_starts] = arrays(chunk.hours);
  const auto [day_tenants, day_starts] = arrays(chunk.days);

  delete_periods(db, "hour", hour_tenants, hour_starts);

  // One pass over the messages of these hours feeds every table. Each
  // sender gets its rows, and the grouping set without the sender gives
  // the all-senders rows ('*'). OFFSET 0 keeps the lateral subquery apart,
  // so each hour is one range scan of the primary key instead of the
  // planner joining the hour list against every message.
  const pg::Result written = db.exec(
      "WITH src AS MATERIALIZED ("
      "  SELECT d.tenant_id, to_timestamp(d.h) AS hour, m.sender, m.status, m.error_code, m.delivery_ms"
      "    FROM unnest($1::bigint[], $2::bigint[]) AS d(tenant_id, h)"
      "   CROSS JOIN LATERAL ("
      "     SELECT coalesce(m.from_addr, '') AS sender, m.status, coalesce(m.error_code, 0) AS error_code,"
      "            m.delivery_ms"
      "       FROM messages m"
      "      WHERE m.tenant_id = d.tenant_id AND m.created_at >= to_timestamp(d.h)"
      "        AND m.created_at < to_timestamp(d.h) + interval '1 hour' AND m.direction = 'outbound'"
      "     OFFSET 0) m),"
      " c AS (INSERT INTO delivery_rollup_counts (tenant_id, period, period_start, sender, status, error_code,"
      "                                           messages, timed, delivery_ms_sum)"
      "       SELECT tenant_id, 'hour', hour, CASE WHEN grouping(sender) = 1 THEN '*' ELSE sender END, status,"
      "              error_code, count(*), count(delivery_ms), coalesce(sum(delivery_ms), 0)"
      "         FROM src"
      "        GROUP BY GROUPING SETS ((tenant_id, hour, status, error_code, sender),"
      "                                (tenant_id, hour, status, error_code))"
      "       RETURNING tenant_id, period_start, sender, status, messages),"
      " t AS (INSERT INTO delivery_rollup_times (tenant_id, period, period_start, sender, bucket, messages,"
      "                                          delivery_ms, counts)"
      "       SELECT tenant_id, 'hour', hour, sender, wagate_delivery_time_bucket(ms), sum(n),"
      "              array_agg(ms ORDER BY ms), array_agg(n ORDER BY ms)"
      "         FROM (SELECT tenant_id, hour, CASE WHEN grouping(sender) = 1 THEN '*' ELSE sender END AS sender,"
      "                      delivery_ms AS ms, count(*) AS n"
      "                 FROM src WHERE delivery_ms IS NOT NULL"
      "                GROUP BY GROUPING SETS ((tenant_id, hour, sender, delivery_ms),"
      "                                        (tenant_id, hour, delivery_ms))) v"
      "        GROUP BY tenant_id, hour, sender, wagate_delivery_time_bucket(ms)"
      "       RETURNING tenant_id, period_start, sender, bucket, messages),"
      " " + derived_rows("hour"),
      {hour_tenants, hour_starts});
  long long rows = written.get_int(0, 0);

  delete_periods(db, "day", day_tenants, day_starts);

  // A day is the sum of its 24 hours (UTC: '24 hours', never '1 day',
  // which would follow the session's daylight-saving changes).
  const pg::Result daily = db.exec(
      "WITH d AS (SELECT tenant_id, to_timestamp(s) AS day FROM unnest($1::bigint[], $2::bigint[]) AS d(tenant_id, s)),"
      " c AS (INSERT INTO delivery_rollup_counts (tenant_id, period, period_start, sender, status, error_code,"
      "                                           messages, timed, delivery_ms_sum)"
      "       SELECT d.tenant_id, 'day', d.day, r.sender, r.status, r.error_code, sum(r.messages), sum(r.timed),"
      "              sum(r.delivery_ms_sum)"
      "         FROM d CROSS JOIN LATERAL ("
      "                SELECT r.sender, r.status, r.error_code, r.messages, r.timed, r.delivery_ms_sum"
      "                  FROM delivery_rollup_counts r"
      "                 WHERE r.tenant_id = d.tenant_id AND r.period = 'hour'"
      "                   AND r.period_start >= d.day AND r.period_start < d.day + interval '24 hours'"
      "                OFFSET 0) r"
      "        GROUP BY d.tenant_id, d.day, r.sender, r.status, r.error_code"
      "       RETURNING tenant_id, period_start, sender, status, messages),"
      " t AS (INSERT INTO delivery_rollup_times (tenant_id, period, period_start, sender, bucket, messages,"
      "                                          delivery_ms, counts)"
      "       SELECT tenant_id, 'day', day, sender, bucket, sum(n), array_agg(ms ORDER BY ms),"
      "              array_agg(n ORDER BY ms)"
      "         FROM (SELECT d.tenant_id, d.day, r.sender, r.bucket, v.ms, sum(v.n)::bigint AS n"
      "                 FROM d CROSS JOIN LATERAL ("
      "                        SELECT r.sender, r.bucket, r.delivery_ms, r.counts FROM delivery_rollup_times r"
      "                         WHERE r.tenant_id = d.tenant_id AND r.period = 'hour'"
      "                           AND r.period_start >= d.day AND r.period_start < d.day + interval '24 hours'"
      "                        OFFSET 0) r,"
      "                      unnest(r.delivery_ms, r.counts) AS v(ms, n)"
      "                GROUP BY 1, 2, 3, 4, 5) x"
      "        GROUP BY tenant_id, day, sender, bucket"
      "       RETURNING tenant_id, period_start, sender, bucket, messages),"
      " " + derived_rows("day"),
      {day_tenants, day_starts});
  rows += daily.get_int(0, 0);

  stats.hours += static_cast<long long>(chunk.hours.size());
  stats.days += static_cast<long long>(chunk.days.size());
  return rows;
}

}  // namespace

std::vector<RollupChunk> plan_chunks(const std::vector<TenantPeriod>& hours, size_t chunk_hours) {
  std::vector<RollupChunk> chunks;
  RollupChunk chunk;
  for (size_t i = 0; i < hours.size(); ++i) {
    const TenantPeriod& hour = hours[i];
    chunk.hours.push_back(hour);
    const long long day = hour.start - hour.start % kDaySeconds;
    if (chunk.days.empty() || chunk.days.back().tenant_id != hour.tenant_id || chunk.days.back().start != day) {
      chunk.days.push_back({hour.tenant_id, day});
    }
    const bool last = i + 1 == hours.size();
    const bool day_ends = last || hours[i + 1].tenant_id != hour.tenant_id ||
                          hours[i + 1].start / kDaySeconds != hour.start / kDaySeconds;
    if (last || (day_ends && chunk.hours.size() >= chunk_hours)) {
      chunks.push_back(std::move(chunk));
      chunk = {};
    }
  }
  return chunks;
}

RollupStats rollup(pg::Connection& db) {
  RollupStats stats;
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  // The first statement fixes the transaction's snapshot: this one is what
  // the run computes from and what it leaves as the watermark.
  const pg::Result snapshots =
      db.exec("SELECT pg_current_snapshot()::text, (SELECT snapshot::text FROM metrics_rollup_state WHERE id = 1)");
  const std::string current(snapshots.get(0, 0));
  const std::optional<std::string> previous = snapshots.optional(0, 1);
  stats.full = !previous.has_value();
  // Sorting and grouping a first run's history stays in memory longer.
  // Every join here goes from a short list of hours to an index on them:
  // a hash or merge join would read the whole history (or rollup) instead.
  // JIT would compile for seconds what runs in milliseconds.
  db.exec("SET LOCAL work_mem = '64MB'");
  db.exec("SET LOCAL enable_hashjoin = off");
  db.exec("SET LOCAL enable_mergejoin = off");
  db.exec("SET LOCAL jit = off");

  for (const RollupChunk& chunk : plan_chunks(changed_hours(db, previous))) stats.rows += recompute(db, chunk, stats);

  // A first run fills the tables from nothing: their statistics would
  // otherwise say "empty" until autovacuum comes by.
  if (stats.full) {
    db.exec("ANALYZE delivery_rollup_counts, delivery_rollup_times, delivery_rollup_buckets, delivery_rollup_statuses");
  }

  // Every entry this snapshot sees was among the hours above.
  db.exec("DELETE FROM metrics_dirty_hours");
  db.exec(
      "INSERT INTO metrics_rollup_state (id, snapshot, rolled_up_at) VALUES (1, $1::pg_snapshot, now())"
      " ON CONFLICT (id) DO UPDATE SET snapshot = EXCLUDED.snapshot, rolled_up_at = EXCLUDED.rolled_up_at",
      {current});
  tx.commit();
  return stats;
}

}  // namespace wagate::maint
