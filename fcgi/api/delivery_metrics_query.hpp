// delivery_metrics_query.hpp — the delivery-metrics request: its window, granularity and sender, checked.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "wagate/time.hpp"

namespace wagate::api {

// The longest window one request may ask for, and the default one.
inline constexpr long long kMaxMetricsSpan = 90 * time::kDayMicros;
inline constexpr long long kDefaultMetricsSpan = time::kDayMicros;
// Without granularity: hourly buckets up to this span, daily beyond.
inline constexpr long long kHourlyByDefaultUpTo = 2 * time::kDayMicros;
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

// Reads from, to (times in the grammar of time::parse_iso8601), granularity
// and sender from a raw query string; `now` is the default end. Throws
// ApiError 400 `invalid_parameter` naming the parameter (unknown, repeated,
// empty, malformed, out of range).
[[nodiscard]] MetricsQuery parse_metrics_query(std::string_view query_string, long long now);

}  // namespace wagate::api
