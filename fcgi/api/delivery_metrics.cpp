// delivery_metrics.cpp — GET /api/v1/whatsapp/delivery-metrics: counts, rates, delivery-time percentiles, errors and a series, exact and fresh.
#include "delivery_metrics.hpp"

#include <algorithm>
#include <array>
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

struct Tally {
  long long messages = 0;
  std::map<std::string, long long, std::less<>> by_status;

  void add(std::string_view status, long long count) {
    messages += count;
    auto it = by_status.find(status);
    if (it == by_status.end()) it = by_status.emplace(std::string(status), 0).first;
    it->second += count;
  }
  [[nodiscard]] long long of(std::string_view status) const {
    const auto it = by_status.find(status);
    return it == by_status.end() ? 0 : it->second;
  }
  [[nodiscard]] long long delivered() const { return of("delivered") + of("read"); }
  [[nodiscard]] long long failed() const { return of("failed") + of("undelivered"); }
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

// Turns a sorted list of hour or day starts into a Postgres array literal.
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
    throw DbError("metrics_rollup_state holds a malformed snapshot");
  }
  // metrics_xid >= xmin first: it is what the index answers, and it bounds
  // the work by what changed since the last run, not by the history.
  const pg::Result rows = db.exec(
      "SELECT (extract(epoch FROM h) * 1000000)::bigint FROM ("
      "  SELECT date_trunc('hour', m.created_at, 'UTC') AS h FROM messages m"
      "   WHERE m.tenant_id = $1 AND m.direction = 'outbound' AND m.created_at >= $2 AND m.created_at < $3"
      "     AND m.metrics_xid >= $4::xid8 AND NOT pg_visible_in_snapshot(m.metrics_xid, $5::pg_snapshot)"
      "  UNION"
      "  SELECT hour FROM metrics_dirty_hours WHERE tenant_id = $1 AND hour >= $2 AND hour < $3) d",
      {tenant, format_instant(from_hour), format_instant(to_hour), xmin, snapshot});
  std::set<long long> hours;
  for (int i = 0; i < rows.rows(); ++i) hours.insert(rows.get_int(i, 0));
  return hours;
}

size_t series_index(long long t, const MetricsQuery& query, size_t buckets) {
  const long long unit = granularity_micros(query.granularity);
  const long long index = (floor_to(t, unit) - floor_to(query.from, unit)) / unit;
  if (index < 0 || static_cast<size_t>(index) >= buckets) {
    throw DbError("delivery metrics: a row outside the window (" + format_instant(t) + ")");
  }
  return static_cast<size_t>(index);
}

void add_counts(Report& report, size_t index, std::string_view status, long long error_code, long long messages) {
  report.total.add(status, messages);
  report.series[index].add(status, messages);
  if (is_failure(status)) report.errors[error_code] += messages;
}

// The rollup rows of the hours and days a plan names: `columns` of `table`
// for $1 tenant, $2 sender, $3 hour starts, $4 day starts, both periods in
// one statement (an empty array costs nothing), plus `where`.
std::string rollup_union(std::string_view columns, std::string_view table, std::string_view where = {}) {
  std::string sql;
  for (const std::string_view period : {"hour", "day"}) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT ";
    sql += columns;
    sql += " FROM ";
    sql += table;
    sql += " WHERE tenant_id = $1 AND period = '";
    sql += period;
    sql += period == "hour" ? "' AND period_start = ANY($3::timestamptz[])" : "' AND period_start = ANY($4::timestamptz[])";
    sql += " AND sender = $2";
    sql += where;
  }
  return sql;
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
  const long long first_hour = floor_to(query.from + kHourMicros - 1, kHourMicros);
  const long long last_hour = floor_to(query.to, kHourMicros);
  const pg::Result state = db.exec("SELECT snapshot::text FROM metrics_rollup_state WHERE id = 1");
  WindowPlan counts_plan;
  WindowPlan times_plan;
  if (state.rows() == 0) {
    // Never rolled up: the messages are the only source.
    counts_plan.raw = {{query.from, query.to}};
    times_plan = counts_plan;
  } else {
    std::set<long long> dirty;
    if (first_hour < last_hour) dirty = changed_hours(db, tenant, std::string(state.get(0, 0)), first_hour, last_hour);
    counts_plan = plan_window(query.from, query.to, dirty, query.granularity == Granularity::Day);
    times_plan = plan_window(query.from, query.to, dirty, true);
  }

  // The messages of the partial hours and the changed hours. Both plans
  // read the same ones. OFFSET 0 keeps each range a scan of the primary
  // key, never a join against the tenant's whole history.
  std::map<long long, long long> buckets;                      // delivery-time bucket -> messages
  std::map<long long, std::map<long long, long long>> values;  // bucket -> delivery ms -> messages
  if (!counts_plan.raw.empty()) {
    const pg::Result raw = db.exec(
        "SELECT (extract(epoch FROM date_trunc('hour', m.created_at, 'UTC')) * 1000000)::bigint, m.status,"
        "       m.error_code, m.delivery_ms, wagate_delivery_time_bucket(m.delivery_ms), count(*)"
        "  FROM unnest($2::timestamptz[], $3::timestamptz[]) AS r(lo, hi)"
        " CROSS JOIN LATERAL ("
        "   SELECT m.created_at, m.status, coalesce(m.error_code, 0) AS error_code, m.delivery_ms FROM messages m"
        "    WHERE m.tenant_id = $1 AND m.created_at >= r.lo AND m.created_at < r.hi AND m.direction = 'outbound'"
        "      AND ($4::text IS NULL OR m.from_addr = $4)"
        "   OFFSET 0) m"
        " GROUP BY 1, 2, 3, 4",
        {tenant, range_array(counts_plan.raw, true), range_array(counts_plan.raw, false),
         query.sender ? pg::Param(*query.sender) : std::nullopt});
    for (int i = 0; i < raw.rows(); ++i) {
      const long long count = raw.get_int(i, 5);
      add_counts(report, series_index(raw.get_int(i, 0), query, report.series.size()), raw.get(i, 1),
                 raw.get_int(i, 2), count);
      if (raw.is_null(i, 3)) continue;
      const long long ms = raw.get_int(i, 3);
      const long long bucket = raw.get_int(i, 4);
      report.timed += count;
      report.delivery_ms_sum += ms * count;
      buckets[bucket] += count;
      values[bucket][ms] += count;
    }
  }

  if (!counts_plan.hours.empty() || !counts_plan.days.empty()) {
    const pg::Result rows = db.exec(
        rollup_union("(extract(epoch FROM period_start) * 1000000)::bigint, status, error_code, messages, timed,"
                     " delivery_ms_sum",
                     "delivery_rollup_counts"),
        {tenant, sender, timestamp_array(counts_plan.hours), timestamp_array(counts_plan.days)});
    for (int i = 0; i < rows.rows(); ++i) {
      add_counts(report, series_index(rows.get_int(i, 0), query, report.series.size()), rows.get(i, 1),
                 rows.get_int(i, 2), rows.get_int(i, 3));
      report.timed += rows.get_int(i, 4);
      report.delivery_ms_sum += rows.get_int(i, 5);
    }
  }

  const bool times_from_rollup = !times_plan.hours.empty() || !times_plan.days.empty();
  const std::string hours = timestamp_array(times_plan.hours);
  const std::string days = timestamp_array(times_plan.days);
  if (times_from_rollup) {
    const pg::Result rows =
        db.exec("SELECT bucket, sum(messages)::bigint FROM (" + rollup_union("bucket, messages", "delivery_rollup_times") +
                    ") t GROUP BY bucket",
                {tenant, sender, hours, days});
    for (int i = 0; i < rows.rows(); ++i) buckets[rows.get_int(i, 0)] += rows.get_int(i, 1);
  }

  // Each wanted rank: first the bucket that holds it, then (below) the value.
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
  std::set<long long> needed;
  for (const Wanted& w : wanted) needed.insert(w.bucket);
  if (times_from_rollup && !needed.empty()) {
    const pg::Result rows = db.exec(
        "SELECT bucket, ms, sum(n)::bigint FROM (" +
            rollup_union("bucket, v.ms, v.n", "delivery_rollup_times, unnest(delivery_ms, counts) AS v(ms, n)",
                         " AND bucket = ANY($5::bigint[])") +
            ") t GROUP BY bucket, ms",
        {tenant, sender, hours, days, integer_array(needed)});
    for (int i = 0; i < rows.rows(); ++i) values[rows.get_int(i, 0)][rows.get_int(i, 1)] += rows.get_int(i, 2);
  }
  tx.commit();

  for (const Wanted& w : wanted) {
    const std::optional<long long> value = value_at_rank(values[w.bucket], w.rank_in_bucket);
    // The values of a bucket always add up to its total; a gap is a bug
    // in the rollup, better a 500 than a wrong number.
    if (!value) throw DbError("delivery metrics: delivery-time bucket " + std::to_string(w.bucket) + " is incomplete");
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

json::Value ratio(long long part, long long whole) {
  if (whole == 0) return json::null();
  return json::real(static_cast<double>(part) / static_cast<double>(whole));
}

json::Value status_object(const Tally& tally) {
  json::Value object = json::object();
  for (const std::string_view status : kStatusOrder) {
    const long long count = tally.of(status);
    if (count != 0) json::set(object.get(), std::string(status).c_str(), json::integer(count));
  }
  for (const auto& [status, count] : tally.by_status) {
    const bool known = std::find(kStatusOrder.begin(), kStatusOrder.end(), status) != kStatusOrder.end();
    if (!known && count != 0) json::set(object.get(), status.c_str(), json::integer(count));
  }
  return object;
}

// The counts and rates of a tally, as the top level and each series point
// carry them.
void set_outcomes(json_t* object, const Tally& tally) {
  const long long delivered = tally.delivered();
  const long long failed = tally.failed();
  const long long final_outcomes = delivered + failed;
  json::set(object, "messages", json::integer(tally.messages));
  json::set(object, "by_status", status_object(tally));
  json::set(object, "delivered", json::integer(delivered));
  json::set(object, "read", json::integer(tally.of("read")));
  json::set(object, "failed", json::integer(failed));
  json::set(object, "in_flight", json::integer(tally.messages - final_outcomes - tally.of("canceled")));
  json::Value rates = json::object();
  json::set(rates.get(), "delivery", ratio(delivered, final_outcomes));
  json::set(rates.get(), "read", ratio(tally.of("read"), delivered));
  json::set(rates.get(), "failure", ratio(failed, final_outcomes));
  json::set(object, "rates", std::move(rates));
}

json::Value optional_integer(const std::optional<long long>& value) {
  return value ? json::integer(*value) : json::null();
}

std::string render(const MetricsQuery& query, const Report& report) {
  json::Value root = json::object();
  json::set(root.get(), "from", json::string(format_instant(query.from)));
  json::set(root.get(), "to", json::string(format_instant(query.to)));
  json::set(root.get(), "granularity", json::string(query.granularity == Granularity::Hour ? "hour" : "day"));
  json::set(root.get(), "sender", json::optional_string(query.sender));
  set_outcomes(root.get(), report.total);

  json::Value times = json::object();
  json::set(times.get(), "count", json::integer(report.timed));
  json::set(times.get(), "avg", report.timed == 0 ? json::null()
                                                  : json::real(static_cast<double>(report.delivery_ms_sum) /
                                                               static_cast<double>(report.timed)));
  json::set(times.get(), "min", optional_integer(report.min_ms));
  for (const int p : kPercentiles) {
    std::optional<long long> value;
    for (const auto& [percentile, ms] : report.percentiles) {
      if (percentile == p) value = ms;
    }
    json::set(times.get(), ("p" + std::to_string(p)).c_str(), optional_integer(value));
  }
  json::set(times.get(), "max", optional_integer(report.max_ms));
  json::set(root.get(), "delivery_time_ms", std::move(times));

  // Most frequent first; ties by code, "no code" last.
  std::vector<std::pair<long long, long long>> errors(report.errors.begin(), report.errors.end());
  std::sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    if ((a.first == 0) != (b.first == 0)) return b.first == 0;
    return a.first < b.first;
  });
  json::Value error_list = json::array();
  for (const auto& [code, count] : errors) {
    json::Value item = json::object();
    if (code == 0) {
      json::set(item.get(), "code", json::null());
      json::set(item.get(), "count", json::integer(count));
      json::set(item.get(), "description", json::null());
    } else {
      json::set(item.get(), "code", json::integer(code));
      json::set(item.get(), "count", json::integer(count));
      const error_codes::ErrorCode* known = error_codes::find(static_cast<int>(code));
      json::set(item.get(), "description", known != nullptr ? json::string(known->description) : json::null());
    }
    json::append(error_list.get(), std::move(item));
  }
  json::set(root.get(), "errors", std::move(error_list));

  json::Value series = json::array();
  const std::vector<TimeRange> ranges = series_buckets(query.from, query.to, query.granularity);
  for (size_t i = 0; i < ranges.size(); ++i) {
    json::Value point = json::object();
    json::set(point.get(), "start", json::string(format_instant(ranges[i].begin)));
    json::set(point.get(), "end", json::string(format_instant(ranges[i].end)));
    set_outcomes(point.get(), report.series[i]);
    json::append(series.get(), std::move(point));
  }
  json::set(root.get(), "series", std::move(series));
  return json::dump(root.get());
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
  const long long first_hour = floor_to(from + kHourMicros - 1, kHourMicros);
  const long long last_hour = floor_to(to, kHourMicros);
  if (first_hour >= last_hour) {
    add_raw(from, to);
    return plan;
  }
  add_raw(from, first_hour);
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
  add_raw(last_hour, to);
  return plan;
}

long long nearest_rank(int percentile, long long n) {
  if (n <= 0) return 0;
  const long long rank = (static_cast<long long>(percentile) * n + 99) / 100;
  return std::clamp(rank, 1LL, n);
}

std::optional<long long> value_at_rank(const std::map<long long, long long>& counts, long long rank) {
  if (rank < 1) return std::nullopt;
  long long before = 0;
  for (const auto& [value, count] : counts) {
    before += count;
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
