// delivery_metrics_window.hpp — where each part of a metrics window is read from, and percentiles by nearest rank.
#pragma once

#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "delivery_metrics_query.hpp"

namespace wagate::api {

struct TimeRange {
  long long begin = 0;
  long long end = 0;  // exclusive
  bool operator==(const TimeRange&) const = default;
};

// The window cut at every UTC hour or day boundary: the first and last
// buckets may be partial. Each entry is one point of the series.
[[nodiscard]] std::vector<TimeRange> series_buckets(long long from, long long to, Granularity granularity);

// Runs of consecutive periods of `unit` starting at `starts` (ascending):
// one range each instead of one per period.
[[nodiscard]] std::vector<TimeRange> runs(const std::vector<long long>& starts, long long unit);
// The ranges cut at every hour boundary.
[[nodiscard]] std::vector<TimeRange> within_hours(const std::vector<TimeRange>& ranges);

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

}  // namespace wagate::api
