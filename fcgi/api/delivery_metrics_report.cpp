// delivery_metrics_report.cpp — what a delivery-metrics window adds up to, read from the rollups and the messages.
#include "delivery_metrics_report.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "delivery_metrics_window.hpp"
#include "wagate/error.hpp"
#include "wagate/pg.hpp"
#include "wagate/pg_array.hpp"
#include "wagate/text.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

using time::floor_to;
using time::kDayMicros;
using time::kHourMicros;
using time::kSecondMicros;

constexpr std::string_view kAllSenders = "*";  // delivery_rollup_*.sender of the all-senders rows

// A list of hour or day starts as a Postgres array literal.
std::string timestamp_array(const std::vector<long long>& starts) {
  std::vector<std::string> texts;
  texts.reserve(starts.size());
  for (const long long start : starts) texts.push_back(time::format_iso8601(start));
  return pg::array_literal(texts);
}

std::string range_array(const std::vector<TimeRange>& ranges, bool begins) {
  std::vector<long long> points;
  points.reserve(ranges.size());
  for (const TimeRange& range : ranges) points.push_back(begins ? range.begin : range.end);
  return timestamp_array(points);
}

// The hours whose rollup rows may not match the messages: rows the rollup
// job's last snapshot could not see (changed, or inserted, since), and
// hours of deleted rows it has not recomputed yet. Read in the same
// snapshot as the rollup rows, so the two agree.
std::set<long long> changed_hours(pg::Connection& db, const std::string& tenant, const std::string& snapshot,
                                  long long from_hour, long long to_hour) {
  const std::string xmin = snapshot.substr(0, snapshot.find(':'));
  if (xmin.empty() || !std::all_of(xmin.begin(), xmin.end(), text::is_digit)) {
    throw Error("delivery metrics: metrics_rollup_state holds a malformed snapshot");
  }
  // metrics_xid >= xmin first: it is what the index answers, and it bounds
  // the work by what changed since the last run, not by the history.
  const pg::Result rows = db.exec(
      "SELECT date_part('epoch', h)::bigint FROM ("
      "  SELECT date_trunc('hour', m.created_at, 'UTC') AS h FROM messages m"
      "   WHERE m.tenant_id = $1 AND m.direction = 'outbound' AND m.created_at >= $2 AND m.created_at < $3"
      "     AND m.metrics_xid >= $4::xid8 AND NOT pg_visible_in_snapshot(m.metrics_xid, $5::pg_snapshot)"
      "  UNION"
      "  SELECT hour FROM metrics_dirty_hours WHERE tenant_id = $1 AND hour >= $2 AND hour < $3) d",
      {tenant, time::format_iso8601(from_hour), time::format_iso8601(to_hour), xmin, snapshot});
  std::set<long long> hours;
  for (int i = 0; i < rows.rows(); ++i) hours.insert(rows.get_int(i, 0) * kSecondMicros);
  return hours;
}

size_t series_index(long long t, const MetricsQuery& query, size_t buckets) {
  const long long unit = granularity_micros(query.granularity);
  const long long index = (floor_to(t, unit) - floor_to(query.from, unit)) / unit;
  if (index < 0 || static_cast<size_t>(index) >= buckets) {
    throw Error("delivery metrics: a row outside the window (" + time::format_iso8601(t) + ")");
  }
  return static_cast<size_t>(index);
}

void add_counts(Report& report, size_t index, std::string_view status, long long error_code, long long messages) {
  report.total.add(status, messages);
  report.series[index].add(status, messages);
  if (message_status::is_failure(status)) report.errors[error_code] += messages;
}

// `columns` of `table` for the hours and days a plan names ($3 hour
// starts, $4 day starts), $1 tenant and $2 sender, with `also` joined and
// `where` added. One index probe per period (and per row of `also`): OFFSET
// 0 keeps the planner from trading them for a scan of the tenant's rollup.
std::string rollup_rows(std::string_view columns, std::string_view table, std::string_view also = {},
                        std::string_view where = {}) {
  std::string sql;
  for (const auto& [period, param] :
       {std::pair<std::string_view, std::string_view>{"hour", "$3"}, {"day", "$4"}}) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT r.* FROM unnest(";
    sql += param;
    sql += "::timestamptz[]) AS u(start)";
    sql += also;
    sql += " CROSS JOIN LATERAL (SELECT ";
    sql += columns;
    sql += " FROM ";
    sql += table;
    sql += " WHERE tenant_id = $1 AND period = '";
    sql += period;
    sql += "' AND period_start = u.start AND sender = $2";
    sql += where;
    sql += " OFFSET 0) r";
  }
  return sql;
}

// `select` over the `columns` (read as c) of `table`'s rows of tenant
// and sender in the plan's whole hours and days, with `tail` (a GROUP BY)
// after; nothing when the plan reads no period from the rollup. Each run
// of consecutive periods is one range of the table's key; OFFSET 0 keeps
// each range a scan of it, never a join against the tenant's rollup.
std::optional<pg::Result> read_periods(pg::Connection& db, const std::string& name, std::string_view select,
                                       std::string_view columns, std::string_view table, std::string_view tail,
                                       const std::string& tenant, const std::string& sender, const WindowPlan& plan) {
  const std::vector<TimeRange> hours = runs(plan.hours, kHourMicros);
  const std::vector<TimeRange> days = runs(plan.days, kDayMicros);
  if (hours.empty() && days.empty()) return std::nullopt;
  std::string sql = "SELECT ";
  sql += select;
  sql += " FROM (SELECT 'hour' AS period, lo, hi FROM unnest($3::timestamptz[], $4::timestamptz[]) AS r(lo, hi)"
         " UNION ALL"
         " SELECT 'day', lo, hi FROM unnest($5::timestamptz[], $6::timestamptz[]) AS r(lo, hi)) r"
         " CROSS JOIN LATERAL (SELECT ";
  sql += columns;
  sql += " FROM ";
  sql += table;
  sql += " WHERE tenant_id = $1 AND period = r.period AND sender = $2 AND period_start >= r.lo"
         " AND period_start < r.hi OFFSET 0) c";
  sql += tail;
  db.prepare(name, sql);
  return db.exec_prepared(name, {tenant, sender, range_array(hours, true), range_array(hours, false),
                                 range_array(days, true), range_array(days, false)});
}

}  // namespace

Report compute(pg::Connection& db, long long tenant_id, const MetricsQuery& query) {
  const std::string tenant = std::to_string(tenant_id);
  const std::string sender = query.sender.value_or(std::string(kAllSenders));
  Report report;
  report.series.resize(series_buckets(query.from, query.to, query.granularity).size());

  // One snapshot for the watermark, the changed hours, the rollup rows and
  // the messages: a rollup run committing meanwhile cannot be half seen.
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  // The statements below read a few thousand rows at most, yet a large
  // table's estimates can tempt the planner into compiling them for longer
  // than they run.
  db.exec("SET LOCAL jit = off");
  const pg::Result state = db.exec("SELECT snapshot::text FROM metrics_rollup_state WHERE id = 1");
  // Two plans of the same window: the series needs its own periods (hours
  // for an hourly series), the totals and percentiles whole days wherever
  // the window covers one. The raw and subtracted parts are the same in
  // both, so they are read once and count for both.
  WindowPlan series_plan;
  WindowPlan totals_plan;
  if (state.rows() == 0) {
    // Never rolled up: the messages are the only source.
    series_plan.raw = {{query.from, query.to}};
    totals_plan = series_plan;
  } else {
    // Every hour the window touches, the partial ones at its edges included.
    const std::set<long long> dirty =
        changed_hours(db, tenant, std::string(state.get(0, 0)), floor_to(query.from, kHourMicros),
                      floor_to(query.to - 1, kHourMicros) + kHourMicros);
    series_plan = plan_window(query.from, query.to, dirty, query.granularity == Granularity::Day);
    totals_plan = plan_window(query.from, query.to, dirty, true);
  }

  // The statements from here on are prepared and always run their generic
  // plan: each range or period is its own index probe whatever the values,
  // so it is as good as a custom one, and planning over every partition of
  // messages costs more than running. (Not so for changed_hours above: its
  // bound on metrics_xid must be seen to be recent for its index to win.)
  db.exec("SET LOCAL plan_cache_mode = force_generic_plan");

  // The messages of the partial hours and the changed hours, then those
  // taken out of partial hours read from the rollup (both plans read the
  // same ones); each range within one hour, so that a row's range says which
  // point of the series it belongs to. OFFSET 0 keeps each range a scan of
  // the primary key, never a join against the tenant's history.
  std::map<long long, long long> buckets;  // delivery-time bucket -> messages
  using ValueCounts = std::vector<std::pair<long long, long long>>;
  std::map<long long, ValueCounts> values;  // bucket -> (delivery ms, messages), unsorted, repeats allowed
  std::vector<TimeRange> raw_ranges = within_hours(series_plan.raw);
  const size_t added_ranges = raw_ranges.size();
  for (const TimeRange& range : within_hours(series_plan.subtract)) raw_ranges.push_back(range);
  if (!raw_ranges.empty()) {
    db.prepare(
        "delivery_metrics_raw",
        "SELECT r.i, m.status, m.error_code, m.delivery_ms, wagate_delivery_time_bucket(m.delivery_ms), count(*)"
        "  FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS r(lo, hi, i)"
        " CROSS JOIN LATERAL ("
        "   SELECT m.status, coalesce(m.error_code, 0) AS error_code, m.delivery_ms FROM messages m"
        "    WHERE m.tenant_id = $1 AND m.created_at >= r.lo AND m.created_at < r.hi AND m.direction = 'outbound'"
        "      AND ($4::text IS NULL OR m.from_addr = $4)"
        "   OFFSET 0) m"
        " GROUP BY 1, 2, 3, 4");
    const pg::Result raw =
        db.exec_prepared("delivery_metrics_raw", {tenant, range_array(raw_ranges, true),
                                                  range_array(raw_ranges, false),
                                                  query.sender ? pg::Param(*query.sender) : std::nullopt});
    for (int i = 0; i < raw.rows(); ++i) {
      const long long range = raw.get_int(i, 0);
      if (range < 1 || static_cast<size_t>(range) > raw_ranges.size()) throw Error("delivery metrics: bad range");
      const long long count = static_cast<size_t>(range) <= added_ranges ? raw.get_int(i, 5) : -raw.get_int(i, 5);
      add_counts(report, series_index(raw_ranges[static_cast<size_t>(range - 1)].begin, query, report.series.size()),
                 raw.get(i, 1), raw.get_int(i, 2), count);
      if (raw.is_null(i, 3)) continue;
      const long long ms = raw.get_int(i, 3);
      report.timed += count;
      report.delivery_ms_sum += ms * count;
      buckets[raw.get_int(i, 4)] += count;
      values[raw.get_int(i, 4)].emplace_back(ms, count);
    }
  }

  // Totals: the window's counts by status and error code and its delivery
  // time sums, from whole days wherever it covers one.
  if (const auto rows = read_periods(db, "delivery_metrics_totals",
                                     "c.status, c.error_code, sum(c.messages)::bigint, sum(c.timed)::bigint,"
                                     " sum(c.delivery_ms_sum)::bigint",
                                     "status, error_code, messages, timed, delivery_ms_sum", "delivery_rollup_counts",
                                     " GROUP BY c.status, c.error_code", tenant, sender, totals_plan)) {
    for (int i = 0; i < rows->rows(); ++i) {
      const std::string_view status = rows->get(i, 0);
      const long long messages = rows->get_int(i, 2);
      report.total.add(status, messages);
      if (message_status::is_failure(status)) report.errors[rows->get_int(i, 1)] += messages;
      report.timed += rows->get_int(i, 3);
      report.delivery_ms_sum += rows->get_int(i, 4);
    }
  }

  // The series: one row of status counts per point (an hourly series of
  // 30 days reads 720 rows), from the periods of the series' plan.
  if (const auto rows = read_periods(db, "delivery_metrics_series",
                                     "date_part('epoch', c.period_start)::bigint, unnest(c.statuses),"
                                     " unnest(c.messages)",
                                     "period_start, statuses, messages", "delivery_rollup_statuses", "", tenant,
                                     sender, series_plan)) {
    for (int i = 0; i < rows->rows(); ++i) {
      report.series[series_index(rows->get_int(i, 0) * kSecondMicros, query, report.series.size())].add(
          rows->get(i, 1), rows->get_int(i, 2));
    }
  }

  // Percentiles, first step: the bucket totals, one array per period.
  const bool times_from_rollup = !totals_plan.hours.empty() || !totals_plan.days.empty();
  const std::string hours = timestamp_array(totals_plan.hours);
  const std::string days = timestamp_array(totals_plan.days);
  if (times_from_rollup) {
    db.prepare("delivery_metrics_buckets", rollup_rows("buckets::text, counts::text", "delivery_rollup_buckets"));
    const pg::Result rows = db.exec_prepared("delivery_metrics_buckets", {tenant, sender, hours, days});
    for (int i = 0; i < rows.rows(); ++i) {
      const std::vector<long long> keys = pg::parse_bigint_array(rows.get(i, 0));
      const std::vector<long long> counts = pg::parse_bigint_array(rows.get(i, 1));
      if (keys.size() != counts.size()) throw Error("delivery metrics: malformed bucket totals");
      for (size_t k = 0; k < keys.size(); ++k) buckets[keys[k]] += counts[k];
    }
  }

  // Each wanted rank: the bucket that holds it, and its rank within.
  long long total = 0;
  for (const auto& [bucket, count] : buckets) total += count;
  struct Wanted {
    int percentile;  // -1: min, 101: max
    long long bucket;
    long long rank_in_bucket;
  };
  std::vector<Wanted> wanted;
  if (total > 0) {
    std::vector<std::pair<int, long long>> ranks = {{-1, 1}};
    for (const int p : kPercentiles) ranks.emplace_back(p, nearest_rank(p, total));
    ranks.emplace_back(101, total);
    for (const auto& [percentile, rank] : ranks) {
      long long before = 0;
      for (const auto& [bucket, count] : buckets) {
        if (rank <= before + count) {
          wanted.push_back({percentile, bucket, rank - before});
          break;
        }
        before += count;
      }
    }
  }

  // Second step: the values of those few buckets only.
  std::set<long long> needed;
  for (const Wanted& w : wanted) needed.insert(w.bucket);
  if (times_from_rollup && !needed.empty()) {
    // Bucket by bucket too: `bucket = ANY(...)` may be left to a filter by
    // a generic plan, which would read every bucket of every period.
    db.prepare("delivery_metrics_times",
               rollup_rows("bucket, delivery_ms::text, counts::text", "delivery_rollup_times",
                           " CROSS JOIN unnest($5::bigint[]) AS b(bucket)", " AND bucket = b.bucket"));
    const pg::Result rows = db.exec_prepared("delivery_metrics_times", {tenant, sender, hours, days, pg::array_literal(needed)});
    for (int i = 0; i < rows.rows(); ++i) {
      const std::vector<long long> ms = pg::parse_bigint_array(rows.get(i, 1));
      const std::vector<long long> counts = pg::parse_bigint_array(rows.get(i, 2));
      if (ms.size() != counts.size()) throw Error("delivery metrics: malformed delivery times");
      ValueCounts& into = values[rows.get_int(i, 0)];
      for (size_t k = 0; k < ms.size(); ++k) into.emplace_back(ms[k], counts[k]);
    }
  }
  tx.commit();

  for (const Wanted& w : wanted) {
    const std::optional<long long> value = value_at_rank(values[w.bucket], w.rank_in_bucket);
    // The values of a bucket always add up to its total; a gap is a bug
    // in the rollup, better a 500 than a wrong number.
    if (!value) throw Error("delivery metrics: delivery-time bucket " + std::to_string(w.bucket) + " is incomplete");
    if (w.percentile < 0) {
      report.min_ms = value;
    } else if (w.percentile > 100) {
      report.max_ms = value;
    } else {
      report.percentiles.emplace_back(w.percentile, *value);
    }
  }
  return report;
}

}  // namespace wagate::api
