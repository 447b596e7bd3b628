// delivery_metrics.cpp — GET /api/v1/whatsapp/delivery-metrics: counts, rates, delivery-time percentiles, errors and a series, exact and fresh.
#include "delivery_metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <utility>

#include "auth.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/form.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"
#include "wagate/phone.hpp"

namespace wagate::api {
namespace {

constexpr std::string_view kExample = "2024-05-01T00:00:00Z";
constexpr std::string_view kAllSenders = "*";  // delivery_rollup_*.sender of the all-senders rows
constexpr size_t kMaxQueryParams = 16;

// Outbound statuses in rank order (sql/002_status_callbacks.sql), so that
// by_status reads in the order a message moves.
constexpr std::array<std::string_view, 14> kStatusOrder = {
    "accepted",    "scheduled", "retrying", "dispatching", "queued",    "unknown",   "sending",
    "sent",        "partially_delivered",   "undelivered", "failed",    "canceled",  "delivered", "read"};

[[noreturn]] void invalid(std::string_view field, const std::string& message) {
  throw ApiError(400, "invalid_parameter", message, std::string(field));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The number written by text[pos, pos + count), all digits; -1 otherwise.
long long digits_at(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return -1;
  long long value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool leap_year(long long year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

long long days_in_month(long long year, long long month) {
  constexpr std::array<long long, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : kDays[static_cast<size_t>(month - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date (years >= 1).
long long days_from_civil(long long year, long long month, long long day) {
  year -= month <= 2 ? 1 : 0;
  const long long era = year / 400;
  const long long year_of_era = year - era * 400;
  const long long shifted_month = month > 2 ? month - 3 : month + 9;
  const long long day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const long long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct Civil {
  long long year = 0;
  long long month = 0;
  long long day = 0;
};

Civil civil_from_days(long long days) {
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const long long day_of_era = days - era * 146097;
  const long long year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const long long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const long long shifted_month = (5 * day_of_year + 2) / 153;
  Civil civil;
  civil.day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  civil.month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  civil.year = year_of_era + era * 400 + (civil.month <= 2 ? 1 : 0);
  return civil;
}

// ---- what one request adds up ----

// Messages by status: the known outbound statuses in a fixed array (most
// rows are one of them), anything else by name.
class Tally {
 public:
  void add(std::string_view status, long long count) {
    messages_ += count;
    for (size_t i = 0; i < kStatusOrder.size(); ++i) {
      if (kStatusOrder[i] == status) {
        known_[i] += count;
        return;
      }
    }
    auto it = other_.find(status);
    if (it == other_.end()) it = other_.emplace(std::string(status), 0).first;
    it->second += count;
  }
  [[nodiscard]] long long messages() const { return messages_; }
  [[nodiscard]] long long of(std::string_view status) const {
    for (size_t i = 0; i < kStatusOrder.size(); ++i) {
      if (kStatusOrder[i] == status) return known_[i];
    }
    const auto it = other_.find(status);
    return it == other_.end() ? 0 : it->second;
  }
  [[nodiscard]] long long delivered() const { return of("delivered") + of("read"); }
  [[nodiscard]] long long failed() const { return of("failed") + of("undelivered"); }
  // Every status with a count, known ones in rank order first.
  template <typename Visit>
  void each(Visit&& visit) const {
    for (size_t i = 0; i < kStatusOrder.size(); ++i) {
      if (known_[i] != 0) visit(kStatusOrder[i], known_[i]);
    }
    for (const auto& [status, count] : other_) {
      if (count != 0) visit(std::string_view(status), count);
    }
  }

 private:
  long long messages_ = 0;
  std::array<long long, kStatusOrder.size()> known_{};
  std::map<std::string, long long, std::less<>> other_;
};

struct Report {
  Tally total;
  std::vector<Tally> series;
  std::map<long long, long long> errors;  // error code (0: none) -> failed or undelivered messages
  long long timed = 0;                    // messages with a delivery time
  long long delivery_ms_sum = 0;
  std::optional<long long> min_ms;
  std::optional<long long> max_ms;
  std::vector<std::pair<int, long long>> percentiles;  // percentile -> delivery ms
};

bool is_failure(std::string_view status) { return status == "failed" || status == "undelivered"; }

// An integer cell. Result::get_int names the column in an error message it
// builds for every cell; thousands of cells per request make that count.
long long number(const pg::Result& rows, int row, int col) {
  const std::string_view text = rows.get(row, col);
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw Error("delivery metrics: column " + std::to_string(col) + " is not an integer");
  }
  return value;
}

// A Postgres bigint[] in text form ("{1,2,3}").
std::vector<long long> integer_list(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') throw Error("delivery metrics: not an array");
  std::vector<long long> values;
  const char* pos = text.data() + 1;
  const char* const end = text.data() + text.size() - 1;
  while (pos < end) {
    long long value = 0;
    const auto [next, error] = std::from_chars(pos, end, value);
    if (error != std::errc() || (next != end && *next != ',')) throw Error("delivery metrics: malformed array");
    values.push_back(value);
    pos = next == end ? end : next + 1;
  }
  return values;
}

// A list of hour or day starts as a Postgres array literal.
std::string timestamp_array(const std::vector<long long>& starts) {
  std::string out = "{";
  for (const long long start : starts) {
    if (out.size() > 1) out += ',';
    out += format_instant(start);
  }
  out += '}';
  return out;
}

std::string range_array(const std::vector<TimeRange>& ranges, bool begins) {
  std::vector<long long> points;
  points.reserve(ranges.size());
  for (const TimeRange& range : ranges) points.push_back(begins ? range.begin : range.end);
  return timestamp_array(points);
}

// Runs of consecutive periods: one index range each instead of one probe
// per period (an hourly series of 90 days names 2160 hours).
std::vector<TimeRange> runs(const std::vector<long long>& starts, long long unit) {
  std::vector<TimeRange> out;
  for (const long long start : starts) {
    if (!out.empty() && out.back().end == start) {
      out.back().end = start + unit;
    } else {
      out.push_back({start, start + unit});
    }
  }
  return out;
}

// The ranges cut at every hour boundary.
std::vector<TimeRange> within_hours(const std::vector<TimeRange>& ranges) {
  std::vector<TimeRange> out;
  for (const TimeRange& range : ranges) {
    for (long long begin = range.begin; begin < range.end;) {
      const long long end = std::min(range.end, floor_to(begin, kHourMicros) + kHourMicros);
      out.push_back({begin, end});
      begin = end;
    }
  }
  return out;
}

std::string integer_array(const std::set<long long>& values) {
  std::string out = "{";
  for (const long long value : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(value);
  }
  out += '}';
  return out;
}

// The hours whose rollup rows may not match the messages: rows the rollup
// job's last snapshot could not see (changed, or inserted, since), and
// hours of deleted rows it has not recomputed yet. Read in the same
// snapshot as the rollup rows, so the two agree.
std::set<long long> changed_hours(pg::Connection& db, const std::string& tenant, const std::string& snapshot,
                                  long long from_hour, long long to_hour) {
  const std::string xmin = snapshot.substr(0, snapshot.find(':'));
  if (xmin.empty() || !std::all_of(xmin.begin(), xmin.end(), is_digit)) {
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
      {tenant, format_instant(from_hour), format_instant(to_hour), xmin, snapshot});
  std::set<long long> hours;
  for (int i = 0; i < rows.rows(); ++i) hours.insert(number(rows, i, 0) * kSecondMicros);
  return hours;
}

size_t series_index(long long t, const MetricsQuery& query, size_t buckets) {
  const long long unit = granularity_micros(query.granularity);
  const long long index = (floor_to(t, unit) - floor_to(query.from, unit)) / unit;
  if (index < 0 || static_cast<size_t>(index) >= buckets) {
    throw Error("delivery metrics: a row outside the window (" + format_instant(t) + ")");
  }
  return static_cast<size_t>(index);
}

void add_counts(Report& report, size_t index, std::string_view status, long long error_code, long long messages) {
  report.total.add(status, messages);
  report.series[index].add(status, messages);
  if (is_failure(status)) report.errors[error_code] += messages;
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
      const long long range = number(raw, i, 0);
      if (range < 1 || static_cast<size_t>(range) > raw_ranges.size()) throw Error("delivery metrics: bad range");
      const long long count = static_cast<size_t>(range) <= added_ranges ? number(raw, i, 5) : -number(raw, i, 5);
      add_counts(report, series_index(raw_ranges[static_cast<size_t>(range - 1)].begin, query, report.series.size()),
                 raw.get(i, 1), number(raw, i, 2), count);
      if (raw.is_null(i, 3)) continue;
      const long long ms = number(raw, i, 3);
      report.timed += count;
      report.delivery_ms_sum += ms * count;
      buckets[number(raw, i, 4)] += count;
      values[number(raw, i, 4)].emplace_back(ms, count);
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
      const long long messages = number(*rows, i, 2);
      report.total.add(status, messages);
      if (is_failure(status)) report.errors[number(*rows, i, 1)] += messages;
      report.timed += number(*rows, i, 3);
      report.delivery_ms_sum += number(*rows, i, 4);
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
      report.series[series_index(number(*rows, i, 0) * kSecondMicros, query, report.series.size())].add(
          rows->get(i, 1), number(*rows, i, 2));
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
      const std::vector<long long> keys = integer_list(rows.get(i, 0));
      const std::vector<long long> counts = integer_list(rows.get(i, 1));
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
    const pg::Result rows = db.exec_prepared("delivery_metrics_times", {tenant, sender, hours, days, integer_array(needed)});
    for (int i = 0; i < rows.rows(); ++i) {
      const std::vector<long long> ms = integer_list(rows.get(i, 1));
      const std::vector<long long> counts = integer_list(rows.get(i, 2));
      if (ms.size() != counts.size()) throw Error("delivery metrics: malformed delivery times");
      ValueCounts& into = values[number(rows, i, 0)];
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

// ---- the answer ----

// JSON written straight into one string: an hourly series of 90 days has
// thousands of points, and building them as a tree and dumping it cost
// more than the queries. Keys are literals; strings from elsewhere go
// through json::string so that they are escaped like every other answer.
class JsonText {
 public:
  JsonText& key(std::string_view name) {
    comma();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    after_key_ = true;
    return *this;
  }
  JsonText& open(char bracket) {
    comma();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonText& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  JsonText& integer(long long value) {
    comma();
    char buffer[24];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, end);
    return *this;
  }
  // Shortest text that reads back as the same double.
  JsonText& real(double value) {
    comma();
    char buffer[32];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, end);
    return *this;
  }
  JsonText& null() {
    comma();
    out_ += "null";
    return *this;
  }
  JsonText& text(std::string_view value) {
    comma();
    out_ += json::dump(json::string(value).get());
    return *this;
  }
  // Text known to need no escaping (times, fixed words).
  JsonText& plain(std::string_view value) {
    comma();
    out_ += '"';
    out_ += value;
    out_ += '"';
    return *this;
  }
  JsonText& optional_integer(const std::optional<long long>& value) { return value ? integer(*value) : null(); }
  JsonText& ratio(long long part, long long whole) {
    return whole == 0 ? null() : real(static_cast<double>(part) / static_cast<double>(whole));
  }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void comma() {
    if (!after_key_ && !first_) out_ += ',';
    after_key_ = false;
    first_ = false;
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

// The counts and rates of a tally, as the top level and each series point
// carry them.
void write_outcomes(JsonText& out, const Tally& tally) {
  const long long delivered = tally.delivered();
  const long long failed = tally.failed();
  const long long final_outcomes = delivered + failed;
  out.key("messages").integer(tally.messages());
  out.key("by_status").open('{');
  tally.each([&out](std::string_view status, long long count) {
    if (std::find(kStatusOrder.begin(), kStatusOrder.end(), status) != kStatusOrder.end()) {
      out.key(status).integer(count);  // a known name: plain ASCII
    } else {
      // A status this version does not know: its name as the database holds it.
      const std::string quoted = json::dump(json::string(status).get());
      out.key(std::string_view(quoted).substr(1, quoted.size() - 2)).integer(count);
    }
  });
  out.close('}');
  out.key("delivered").integer(delivered);
  out.key("read").integer(tally.of("read"));
  out.key("failed").integer(failed);
  out.key("in_flight").integer(tally.messages() - final_outcomes - tally.of("canceled"));
  out.key("rates").open('{');
  out.key("delivery").ratio(delivered, final_outcomes);
  out.key("read").ratio(tally.of("read"), delivered);
  out.key("failure").ratio(failed, final_outcomes);
  out.close('}');
}

std::string render(const MetricsQuery& query, const Report& report) {
  JsonText out;
  out.open('{');
  out.key("from").plain(format_instant(query.from));
  out.key("to").plain(format_instant(query.to));
  out.key("granularity").plain(query.granularity == Granularity::Hour ? "hour" : "day");
  out.key("sender");
  if (query.sender) {
    out.text(*query.sender);
  } else {
    out.null();
  }
  write_outcomes(out, report.total);

  out.key("delivery_time_ms").open('{');
  out.key("count").integer(report.timed);
  out.key("avg").ratio(report.delivery_ms_sum, report.timed);
  out.key("min").optional_integer(report.min_ms);
  for (const int p : kPercentiles) {
    std::optional<long long> value;
    for (const auto& [percentile, ms] : report.percentiles) {
      if (percentile == p) value = ms;
    }
    out.key("p" + std::to_string(p)).optional_integer(value);
  }
  out.key("max").optional_integer(report.max_ms);
  out.close('}');

  // Most frequent first; ties by code, "no code" last.
  std::vector<std::pair<long long, long long>> errors(report.errors.begin(), report.errors.end());
  std::sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    if ((a.first == 0) != (b.first == 0)) return b.first == 0;
    return a.first < b.first;
  });
  out.key("errors").open('[');
  for (const auto& [code, count] : errors) {
    if (count == 0) continue;  // all of them in a part taken out
    out.open('{');
    out.key("code").optional_integer(code == 0 ? std::nullopt : std::optional<long long>(code));
    out.key("count").integer(count);
    const error_codes::ErrorCode* known = code == 0 ? nullptr : error_codes::find(static_cast<int>(code));
    out.key("description");
    if (known != nullptr) {
      out.text(known->description);
    } else {
      out.null();
    }
    out.close('}');
  }
  out.close(']');

  out.key("series").open('[');
  const std::vector<TimeRange> ranges = series_buckets(query.from, query.to, query.granularity);
  for (size_t i = 0; i < ranges.size(); ++i) {
    out.open('{');
    out.key("start").plain(format_instant(ranges[i].begin));
    out.key("end").plain(format_instant(ranges[i].end));
    write_outcomes(out, report.series[i]);
    out.close('}');
  }
  out.close(']');
  out.close('}');
  return out.take();
}

std::string shown(std::string_view text) {
  constexpr size_t kMax = 64;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

}  // namespace

long long granularity_micros(Granularity granularity) {
  return granularity == Granularity::Hour ? kHourMicros : kDayMicros;
}

std::optional<long long> parse_instant(std::string_view text) {
  const long long year = digits_at(text, 0, 4);
  const long long month = digits_at(text, 5, 2);
  const long long day = digits_at(text, 8, 2);
  if (text.size() < 10 || text[4] != '-' || text[7] != '-' || year < 1970 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month)) {
    return std::nullopt;
  }
  long long micros = days_from_civil(year, month, day) * kDayMicros;
  if (text.size() == 10) return micros;

  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
  const long long hour = digits_at(text, 11, 2);
  const long long minute = digits_at(text, 14, 2);
  if (hour < 0 || hour > 23 || text.size() < 16 || text[13] != ':' || minute < 0 || minute > 59) return std::nullopt;
  micros += hour * kHourMicros + minute * 60 * kSecondMicros;
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    const long long second = digits_at(text, pos + 1, 2);
    if (second < 0 || second > 59) return std::nullopt;
    micros += second * kSecondMicros;
    pos += 3;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      long long fraction = 0;
      size_t digits = 0;
      while (pos < text.size() && is_digit(text[pos])) {
        if (++digits > 6) return std::nullopt;  // finer than Postgres keeps: it would round
        fraction = fraction * 10 + (text[pos++] - '0');
      }
      if (digits == 0) return std::nullopt;
      for (size_t i = digits; i < 6; ++i) fraction *= 10;
      micros += fraction;
    }
  }
  if (pos == text.size()) return micros;
  const std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") return micros;
  if (zone[0] != '+' && zone[0] != '-' && zone[0] != ' ') return std::nullopt;
  const long long sign = zone[0] == '-' ? -1 : 1;
  long long offset_minutes = 0;
  const long long offset_hours = digits_at(zone, 1, 2);
  if (zone.size() == 3) {
    offset_minutes = 0;
  } else if (zone.size() == 6 && zone[3] == ':') {
    offset_minutes = digits_at(zone, 4, 2);
  } else if (zone.size() == 5) {
    offset_minutes = digits_at(zone, 3, 2);
  } else {
    return std::nullopt;
  }
  if (offset_hours < 0 || offset_hours > 23 || offset_minutes < 0 || offset_minutes > 59) return std::nullopt;
  return micros - sign * (offset_hours * 60 + offset_minutes) * 60 * kSecondMicros;
}

std::string format_instant(long long micros) {
  const long long day = floor_to(micros, kDayMicros) / kDayMicros;
  const long long in_day = micros - day * kDayMicros;
  const Civil civil = civil_from_days(day);
  const long long seconds = in_day / kSecondMicros;
  const long long fraction = in_day % kSecondMicros;
  char buffer[40];
  int length = std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", civil.year,
                             civil.month, civil.day, seconds / 3600, seconds / 60 % 60, seconds % 60);
  if (fraction != 0) {
    length += std::snprintf(buffer + length, sizeof buffer - static_cast<size_t>(length), ".%06lld", fraction);
  }
  return std::string(buffer, static_cast<size_t>(length)) + "Z";
}

long long floor_to(long long t, long long unit) {
  const long long remainder = t % unit;
  return remainder < 0 ? t - remainder - unit : t - remainder;
}

std::vector<TimeRange> series_buckets(long long from, long long to, Granularity granularity) {
  const long long unit = granularity_micros(granularity);
  std::vector<TimeRange> buckets;
  for (long long begin = from; begin < to;) {
    const long long end = std::min(to, floor_to(begin, unit) + unit);
    buckets.push_back({begin, end});
    begin = end;
  }
  return buckets;
}

WindowPlan plan_window(long long from, long long to, const std::set<long long>& dirty, bool use_days) {
  WindowPlan plan;
  const auto add_raw = [&plan](long long begin, long long end) {
    if (begin >= end) return;
    if (!plan.raw.empty() && plan.raw.back().end == begin) {
      plan.raw.back().end = end;
    } else {
      plan.raw.push_back({begin, end});
    }
  };
  // An hour the window covers only in part, [begin, end): its messages, or,
  // when the part left out is the smaller one and the hour's rollup is
  // current, the rollup minus the messages of the part left out. A window
  // ending now covers the current hour up to now, and nothing is after now.
  const auto partial = [&](long long hour, long long begin, long long end) {
    const long long covered = end - begin;
    if (dirty.contains(hour) || kHourMicros - covered >= covered) {
      add_raw(begin, end);
      return;
    }
    plan.hours.push_back(hour);
    if (hour < begin) plan.subtract.push_back({hour, begin});
    if (end < hour + kHourMicros) plan.subtract.push_back({end, hour + kHourMicros});
  };
  const long long first_hour = floor_to(from + kHourMicros - 1, kHourMicros);
  const long long last_hour = floor_to(to, kHourMicros);
  if (first_hour > last_hour) {
    partial(last_hour, from, to);
    return plan;
  }
  if (from < first_hour) partial(first_hour - kHourMicros, from, first_hour);
  const auto is_dirty_day = [&dirty](long long day) {
    const auto it = dirty.lower_bound(day);
    return it != dirty.end() && *it < day + kDayMicros;
  };
  for (long long hour = first_hour; hour < last_hour;) {
    if (use_days && hour % kDayMicros == 0 && hour + kDayMicros <= last_hour && !is_dirty_day(hour)) {
      plan.days.push_back(hour);
      hour += kDayMicros;
      continue;
    }
    if (dirty.contains(hour)) {
      add_raw(hour, hour + kHourMicros);
    } else {
      plan.hours.push_back(hour);
    }
    hour += kHourMicros;
  }
  if (last_hour < to) partial(last_hour, last_hour, to);
  return plan;
}

long long nearest_rank(int percentile, long long n) {
  if (n <= 0) return 0;
  const long long rank = (static_cast<long long>(percentile) * n + 99) / 100;
  return std::clamp(rank, 1LL, n);
}

std::optional<long long> value_at_rank(std::vector<std::pair<long long, long long>> counts, long long rank) {
  if (rank < 1) return std::nullopt;
  std::sort(counts.begin(), counts.end());
  long long before = 0;
  for (size_t i = 0; i < counts.size();) {
    // All pairs of one value first: with subtracted pairs, only a value's
    // net count says whether the rank falls on it.
    const long long value = counts[i].first;
    for (; i < counts.size() && counts[i].first == value; ++i) before += counts[i].second;
    if (rank <= before) return value;
  }
  return std::nullopt;
}

MetricsQuery parse_metrics_query(std::string_view query_string, long long now) {
  const form::ParseResult parsed = form::parse(query_string, kMaxQueryParams);
  if (!parsed.ok()) throw ApiError(400, "invalid_parameter", "the query string is malformed: " + parsed.error);
  std::optional<std::string_view> from_text;
  std::optional<std::string_view> to_text;
  std::optional<std::string_view> granularity_text;
  std::optional<std::string_view> sender_text;
  for (const form::Param& param : parsed.params.items()) {
    std::optional<std::string_view>* slot = nullptr;
    if (param.name == "from") slot = &from_text;
    if (param.name == "to") slot = &to_text;
    if (param.name == "granularity") slot = &granularity_text;
    if (param.name == "sender") slot = &sender_text;
    if (slot == nullptr) {
      invalid(shown(param.name),
              "unknown parameter '" + shown(param.name) + "'; the parameters are from, to, granularity and sender");
    }
    if (slot->has_value()) invalid(param.name, param.name + " is given more than once");
    if (param.value.empty()) invalid(param.name, param.name + " is empty; leave it out for its default");
    *slot = param.value;
  }

  const auto instant = [](std::string_view name, std::string_view text) {
    const std::optional<long long> value = parse_instant(text);
    if (!value) {
      invalid(name, std::string(name) + " '" + shown(text) + "' is not an ISO 8601 time such as " +
                        std::string(kExample) + " (years 1970-9999, at most 6 fractional digits)");
    }
    return *value;
  };
  MetricsQuery query;
  query.to = to_text ? instant("to", *to_text) : now;
  query.from = from_text ? instant("from", *from_text) : query.to - kDefaultMetricsSpan;
  if (query.to <= query.from) {
    invalid(to_text ? "to" : "from", "to (" + format_instant(query.to) + ") must be after from (" +
                                         format_instant(query.from) + ")");
  }
  if (query.to - query.from > kMaxMetricsSpan) {
    invalid(from_text ? "from" : "to", "the window from " + format_instant(query.from) + " to " +
                                           format_instant(query.to) + " is longer than " +
                                           std::to_string(kMaxMetricsSpan / kDayMicros) + " days");
  }

  if (granularity_text) {
    if (*granularity_text == "hour") {
      query.granularity = Granularity::Hour;
    } else if (*granularity_text == "day") {
      query.granularity = Granularity::Day;
    } else {
      invalid("granularity", "granularity must be hour or day, not '" + shown(*granularity_text) + "'");
    }
  } else {
    query.granularity = query.to - query.from <= kHourlyByDefaultUpTo ? Granularity::Hour : Granularity::Day;
  }

  if (sender_text) {
    // The international form only: a sender number has no "home country"
    // to complete a national one with.
    const phone::Normalized number = phone::normalize(*sender_text, "");
    if (!number.ok()) invalid("sender", "sender " + number.reason);
    query.sender = "whatsapp:" + *number.e164;
  }
  return query;
}

http::Response delivery_metrics(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const long long now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const MetricsQuery query = parse_metrics_query(request.query, now);
  const Report report = compute(context.db(), auth.key->tenant_id, query);
  return http::Response::json(200, render(query, report));
}

}  // namespace wagate::api
