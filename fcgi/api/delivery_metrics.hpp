// delivery_metrics.hpp — GET /api/v1/whatsapp/delivery-metrics: counts, rates, delivery-time percentiles, errors and a series, exact and fresh.
#pragma once

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// Times are UTC microseconds since 1970-01-01, like Postgres keeps them.
inline constexpr long long kSecondMicros = 1'000'000;
inline constexpr long long kHourMicros = 3600 * kSecondMicros;
inline constexpr long long kDayMicros = 24 * kHourMicros;
// The longest window one request may ask for, and the default one.
inline constexpr long long kMaxMetricsSpan = 90 * kDayMicros;
inline constexpr long long kDefaultMetricsSpan = kDayMicros;
// Without granularity: hourly buckets up to this span, daily beyond.
inline constexpr long long kHourlyByDefaultUpTo = 2 * kDayMicros;
// The delivery-time percentiles reported (nearest rank), besides min and max.
inline constexpr std::array<int, 4> kPercentiles = {50, 90, 95, 99};

enum class Granularity { Hour, Day };

[[nodiscard]] long long granularity_micros(Granularity granularity);

// A checked request: [from, to) with from < to, at most kMaxMetricsSpan.
struct MetricsQuery {
  long long from = 0;
  long long to = 0;
  Granularity granularity = Granularity::Hour;
  std::optional<std::string> sender;  // "whatsapp:+E164", the From of the messages
};

// Reads from, to, granularity and sender from a raw query string; `now` is
// the default end. Throws ApiError 400 `invalid_parameter` naming the
// parameter (unknown, repeated, empty, malformed, out of range).
[[nodiscard]] MetricsQuery parse_metrics_query(std::string_view query_string, long long now);

// ISO 8601 instant: "2024-05-01", "2024-05-01T10:00Z", "2024-05-01T10:00:00.5+02:00" (offset Z, ±HH:MM,
// ±HHMM or ±HH; none means UTC; at most 6 fractional digits; years 1970-9999). A blank where the
// offset's sign belongs is read as '+', because an unencoded '+' in a query string arrives as a blank.
[[nodiscard]] std::optional<long long> parse_instant(std::string_view text);
// "2024-05-01T10:00:00Z", with ".ffffff" only when the microseconds are not zero.
[[nodiscard]] std::string format_instant(long long micros);

// The largest multiple of unit at or before t (also for t < 0).
[[nodiscard]] long long floor_to(long long t, long long unit);

struct TimeRange {
  long long begin = 0;
  long long end = 0;  // exclusive
  bool operator==(const TimeRange&) const = default;
};

// The window cut at every UTC hour or day boundary: the first and last
// buckets may be partial. Each entry is one point of the series.
[[nodiscard]] std::vector<TimeRange> series_buckets(long long from, long long to, Granularity granularity);

// Where each part of a window is read from, so that reading costs the same
// whatever the history holds: whole days from the daily rollup, whole hours
// from the hourly rollup, and from the messages themselves only the hours
// that changed since the last rollup and the edges of the window: an hour
// the window covers in part is read from its messages, or, when less than
// half of it is left out and its rollup is current, as the hourly rollup
// minus the messages of the part left out (at most half an hour each).
struct WindowPlan {
  std::vector<TimeRange> raw;       // counted from messages; adjacent ranges merged
  std::vector<TimeRange> subtract;  // messages taken out of the hours they are in
  std::vector<long long> hours;     // starts of hours read from the hourly rollup, ascending
  std::vector<long long> days;      // starts of days read from the daily rollup, ascending
};
// `dirty`: starts of the hours whose rollup may be stale, the partial hours
// at the edges included. With use_days false every whole hour is read
// hourly (an hourly series needs them).
[[nodiscard]] WindowPlan plan_window(long long from, long long to, const std::set<long long>& dirty, bool use_days);

// Nearest rank: the p-th percentile of n sorted values is the one at rank
// ceil(p/100 * n) (1-based), at least 1. 0 when n is 0.
[[nodiscard]] long long nearest_rank(int percentile, long long n);
// The value at a 1-based rank of a distribution given as (value, count)
// pairs in any order, a value possibly in several pairs; nullopt when the
// rank is outside it.
[[nodiscard]] std::optional<long long> value_at_rank(std::vector<std::pair<long long, long long>> counts,
                                                     long long rank);

// The route (scope read, the caller's tenant only).
http::Response delivery_metrics(http::Request& request, Context& context);

}  // namespace wagate::api
