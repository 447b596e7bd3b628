// delivery_metrics_window.cpp — where each part of a metrics window is read from, and percentiles by nearest rank.
#include "delivery_metrics_window.hpp"

#include <algorithm>

#include "wagate/time.hpp"

namespace wagate::api {

using time::floor_to;
using time::kDayMicros;
using time::kHourMicros;

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

}  // namespace wagate::api
