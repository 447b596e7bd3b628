// delivery_metrics_test.cpp — delivery metrics: parameter checks, bucket and window math, nearest-rank percentiles.
#include "api/delivery_metrics.hpp"
#include "api/delivery_metrics_query.hpp"
#include "api/delivery_metrics_window.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "api_rejection.hpp"
#include "test_context.hpp"
#include "wagate/error.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

using time::kDayMicros;
using time::kHourMicros;
using time::kSecondMicros;

// 2024-05-01T00:00:00Z
constexpr long long kMay1 = 1714521600LL * kSecondMicros;
constexpr long long kNow = kMay1 + 10 * kHourMicros + 17 * 60 * kSecondMicros + 123456;  // 10:17:00.123456

test::Rejection rejection(std::string_view query) {
  return test::rejection(query, [&] { (void)parse_metrics_query(query, kNow); });
}

void expect_invalid(std::string_view query, std::string_view field, std::string_view message_part = {}) {
  const test::Rejection r = rejection(query);
  EXPECT_EQ(r.status, 400) << query;
  EXPECT_EQ(r.code, "invalid_parameter") << query;
  EXPECT_EQ(r.field, field) << query << ": " << r.message;
  if (!message_part.empty()) {
    EXPECT_NE(r.message.find(message_part), std::string::npos) << r.message;
  }
}

long long at(std::string_view text) {
  const std::optional<long long> value = time::parse_iso8601(text);
  EXPECT_TRUE(value.has_value()) << text;
  return value.value_or(0);
}

// ---- parameters ----

TEST(MetricsQuery, DefaultsToTheLastDayHourly) {
  const MetricsQuery q = parse_metrics_query("", kNow);
  EXPECT_EQ(q.to, kNow);
  EXPECT_EQ(q.from, kNow - kDayMicros);
  EXPECT_EQ(q.granularity, Granularity::Hour);
  EXPECT_FALSE(q.sender.has_value());
}

TEST(MetricsQuery, FromAloneRunsToNowAndLongWindowsDefaultToDays) {
  const MetricsQuery q = parse_metrics_query("from=2024-04-01", kNow);
  EXPECT_EQ(q.from, at("2024-04-01T00:00:00Z"));
  EXPECT_EQ(q.to, kNow);
  EXPECT_EQ(q.granularity, Granularity::Day);
  // Exactly two days still defaults to hours; a microsecond more does not.
  EXPECT_EQ(parse_metrics_query("from=2024-04-29T10:17:00.123456Z", kNow).granularity, Granularity::Hour);
  EXPECT_EQ(parse_metrics_query("from=2024-04-29T10:17:00.123455Z", kNow).granularity, Granularity::Day);
}

TEST(MetricsQuery, ExplicitWindowGranularityAndSender) {
  const MetricsQuery q = parse_metrics_query(
      "from=2024-04-01T00%3A00%3A00Z&to=2024-04-03T12:00:00%2B02:00&granularity=hour&sender=whatsapp%3A%2B14155238886",
      kNow);
  EXPECT_EQ(q.from, at("2024-04-01T00:00:00Z"));
  EXPECT_EQ(q.to, at("2024-04-03T10:00:00Z"));
  EXPECT_EQ(q.granularity, Granularity::Hour);
  EXPECT_EQ(q.sender, "whatsapp:+14155238886");
  // A bare number and a '+' sent unencoded (it arrives as a blank) both work.
  EXPECT_EQ(parse_metrics_query("sender=%2B1 415 523 8886", kNow).sender, "whatsapp:+14155238886");
  EXPECT_EQ(parse_metrics_query("to=2024-04-03T12:00:00+02:00", kNow).to, at("2024-04-03T10:00:00Z"));
}

TEST(MetricsQuery, EachBadParameterIsNamed) {
  expect_invalid("form=2024-04-01", "form", "unknown parameter 'form'");
  expect_invalid("from=2024-04-01&from=2024-04-02", "from", "more than once");
  expect_invalid("from=", "from", "empty");
  expect_invalid("from=yesterday", "from", "ISO 8601");
  expect_invalid("to=2024-13-01", "to", "ISO 8601");
  expect_invalid("from=2024-04-01T00:00:00Z&to=2024-04-01T00:00:00Z", "to", "must be after from");
  expect_invalid("from=2024-05-02", "from", "must be after from");  // after now, to defaults to now
  expect_invalid("from=2024-01-01&to=2024-04-01T00:00:01Z", "from", "longer than 90 days");
  expect_invalid("to=2024-01-01&from=2023-01-01", "from", "longer than 90 days");
  expect_invalid("granularity=week", "granularity", "hour or day");
  expect_invalid("sender=4155238886", "sender");
  expect_invalid("sender=whatsapp:%2B1555CALLNOW", "sender");
  expect_invalid("from=%zz", "", "malformed");
}

TEST(MetricsQuery, NinetyDaysExactlyIsAllowed) {
  const MetricsQuery q = parse_metrics_query("from=2024-01-01&to=2024-03-31", kNow);
  EXPECT_EQ(q.to - q.from, kMaxMetricsSpan);
}

// ---- buckets and windows ----

TEST(Buckets, SeriesCutsAtUtcBoundariesWithPartialEnds) {
  const long long from = kMay1 + 10 * kHourMicros + 30 * 60 * kSecondMicros;  // 10:30
  const long long to = kMay1 + 13 * kHourMicros + 15 * 60 * kSecondMicros;    // 13:15
  const std::vector<TimeRange> hours = series_buckets(from, to, Granularity::Hour);
  ASSERT_EQ(hours.size(), 4U);
  EXPECT_EQ(hours[0], (TimeRange{from, kMay1 + 11 * kHourMicros}));
  EXPECT_EQ(hours[1], (TimeRange{kMay1 + 11 * kHourMicros, kMay1 + 12 * kHourMicros}));
  EXPECT_EQ(hours[3], (TimeRange{kMay1 + 13 * kHourMicros, to}));

  const std::vector<TimeRange> days = series_buckets(from, from + 2 * kDayMicros, Granularity::Day);
  ASSERT_EQ(days.size(), 3U);
  EXPECT_EQ(days[0], (TimeRange{from, kMay1 + kDayMicros}));
  EXPECT_EQ(days[1], (TimeRange{kMay1 + kDayMicros, kMay1 + 2 * kDayMicros}));
  EXPECT_EQ(days[2], (TimeRange{kMay1 + 2 * kDayMicros, from + 2 * kDayMicros}));

  // Aligned: whole buckets only.
  EXPECT_EQ(series_buckets(kMay1, kMay1 + kDayMicros, Granularity::Hour).size(), 24U);
  EXPECT_EQ(series_buckets(kMay1, kMay1 + kDayMicros, Granularity::Day).size(), 1U);
}

TEST(Window, AlignedDaysComeFromTheDailyRollup) {
  const WindowPlan plan = plan_window(kMay1, kMay1 + 3 * kDayMicros, {}, true);
  EXPECT_TRUE(plan.raw.empty());
  EXPECT_TRUE(plan.hours.empty());
  EXPECT_EQ(plan.days, (std::vector<long long>{kMay1, kMay1 + kDayMicros, kMay1 + 2 * kDayMicros}));
}

TEST(Window, PartialHoursAreRawPartialDaysHourly) {
  const long long from = kMay1 - 2 * kHourMicros - 1;  // 2024-04-30T21:59:59.999999
  const long long to = kMay1 + kDayMicros + kHourMicros + 5;
  const WindowPlan plan = plan_window(from, to, {}, true);
  EXPECT_EQ(plan.raw, (std::vector<TimeRange>{{from, kMay1 - 2 * kHourMicros}, {kMay1 + kDayMicros + kHourMicros, to}}));
  EXPECT_EQ(plan.hours, (std::vector<long long>{kMay1 - 2 * kHourMicros, kMay1 - kHourMicros, kMay1 + kDayMicros}));
  EXPECT_EQ(plan.days, (std::vector<long long>{kMay1}));
}

TEST(Window, WithinOneHourTheSmallerPartIsRead) {
  const long long minute = 60 * kSecondMicros;
  // 20 minutes of the hour: those 20 from the messages.
  const WindowPlan small = plan_window(kMay1 + 10 * minute, kMay1 + 30 * minute, {}, true);
  EXPECT_EQ(small.raw, (std::vector<TimeRange>{{kMay1 + 10 * minute, kMay1 + 30 * minute}}));
  EXPECT_TRUE(small.hours.empty());
  EXPECT_TRUE(small.subtract.empty());
  // 40 minutes: the hour's rollup minus the 20 left out.
  const WindowPlan large = plan_window(kMay1 + 10 * minute, kMay1 + 50 * minute, {}, true);
  EXPECT_TRUE(large.raw.empty());
  EXPECT_EQ(large.hours, (std::vector<long long>{kMay1}));
  EXPECT_EQ(large.subtract, (std::vector<TimeRange>{{kMay1, kMay1 + 10 * minute},
                                                    {kMay1 + 50 * minute, kMay1 + kHourMicros}}));
  // Unless the hour changed since the rollup: then its messages.
  EXPECT_EQ(plan_window(kMay1 + 10 * minute, kMay1 + 50 * minute, {kMay1}, true).raw,
            (std::vector<TimeRange>{{kMay1 + 10 * minute, kMay1 + 50 * minute}}));
}

TEST(Window, AWindowEndingNowTakesTheCurrentHourFromTheRollup) {
  const long long minute = 60 * kSecondMicros;
  const long long now = kMay1 + 10 * kHourMicros + 45 * minute;
  const long long from = now - kDayMicros;
  const WindowPlan plan = plan_window(from, now, {}, true);
  // The first hour is covered for 15 minutes: those from the messages. The
  // current one for 45: its rollup minus what comes after now (nothing yet).
  EXPECT_EQ(plan.raw, (std::vector<TimeRange>{{from, from + 15 * minute}}));
  EXPECT_EQ(plan.subtract, (std::vector<TimeRange>{{now, now + 15 * minute}}));
  EXPECT_EQ(plan.hours.size(), 24U);
  EXPECT_EQ(plan.hours.front(), from + 15 * minute);
  EXPECT_EQ(plan.hours.back(), now - 45 * minute);
  EXPECT_TRUE(std::is_sorted(plan.hours.begin(), plan.hours.end()));
  EXPECT_TRUE(plan.days.empty());
}

TEST(Window, ChangedHoursAreReadFromMessagesAndSplitTheirDay) {
  const long long h = kHourMicros;
  const std::set<long long> dirty = {kMay1 + kDayMicros + 5 * h, kMay1 + kDayMicros + 6 * h};
  const WindowPlan plan = plan_window(kMay1, kMay1 + 3 * kDayMicros, dirty, true);
  EXPECT_EQ(plan.days, (std::vector<long long>{kMay1, kMay1 + 2 * kDayMicros}));
  EXPECT_EQ(plan.raw, (std::vector<TimeRange>{{kMay1 + kDayMicros + 5 * h, kMay1 + kDayMicros + 7 * h}}));
  EXPECT_EQ(plan.hours.size(), 22U);
  EXPECT_EQ(std::count(plan.hours.begin(), plan.hours.end(), kMay1 + kDayMicros + 5 * h), 0);
  // A changed hour next to a partial edge merges into one raw range.
  const WindowPlan edge = plan_window(kMay1 + 30 * 60 * kSecondMicros, kMay1 + 3 * h, {kMay1 + h}, true);
  EXPECT_EQ(edge.raw, (std::vector<TimeRange>{{kMay1 + 30 * 60 * kSecondMicros, kMay1 + 2 * h}}));
  EXPECT_EQ(edge.hours, (std::vector<long long>{kMay1 + 2 * h}));
}

TEST(Window, HourlyPlanNeverUsesDays) {
  const WindowPlan plan = plan_window(kMay1, kMay1 + 2 * kDayMicros, {kMay1 + 3 * kHourMicros}, false);
  EXPECT_TRUE(plan.days.empty());
  EXPECT_EQ(plan.hours.size(), 47U);
  EXPECT_EQ(plan.raw, (std::vector<TimeRange>{{kMay1 + 3 * kHourMicros, kMay1 + 4 * kHourMicros}}));
}

// Raw ranges, hours and days add up, subtracted ranges take away: every
// microsecond of [from, to) must be counted exactly once, nothing outside it.
TEST(Window, EveryMicrosecondIsCountedExactlyOnce) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 500; ++round) {
    const long long from = kMay1 + static_cast<long long>(random() % (5 * kDayMicros));
    const long long to = from + 1 + static_cast<long long>(random() % (round % 2 == 0 ? kHourMicros : 4 * kDayMicros));
    std::set<long long> dirty;
    for (int i = 0; i < 4; ++i) {
      dirty.insert(time::floor_to(from + static_cast<long long>(random() % (to - from)), kHourMicros));
    }
    for (const bool use_days : {true, false}) {
      const WindowPlan plan = plan_window(from, to, dirty, use_days);
      std::map<long long, long long> delta;  // coverage changes at each point
      const auto add = [&delta](long long begin, long long end, long long sign) {
        delta[begin] += sign;
        delta[end] -= sign;
      };
      for (const TimeRange& r : plan.raw) add(r.begin, r.end, 1);
      for (const TimeRange& r : plan.subtract) add(r.begin, r.end, -1);
      for (const long long hour : plan.hours) {
        EXPECT_FALSE(dirty.contains(hour));
        add(hour, hour + kHourMicros, 1);
      }
      for (const long long day : plan.days) add(day, day + kDayMicros, 1);
      if (!use_days) {
        EXPECT_TRUE(plan.days.empty());
      }
      long long coverage = 0;  // from each point to the next
      for (const auto& [point, change] : delta) {
        coverage += change;
        const bool inside = point >= from && point < to;
        EXPECT_EQ(coverage, inside ? 1 : 0) << "from " << time::format_iso8601(point) << " in " << time::format_iso8601(from)
                                            << " .. " << time::format_iso8601(to);
      }
      // Half an hour is the most a partial hour reads from the messages.
      for (const TimeRange& r : plan.subtract) EXPECT_LT(r.end - r.begin, kHourMicros / 2);
    }
  }
}

// ---- percentiles ----

// Each value as its own pair, in the order given: ties and disorder are
// what the merged rollup rows look like too.
long long percentile_of(const std::vector<long long>& values, int p) {
  std::vector<std::pair<long long, long long>> counts;
  for (const long long v : values) counts.emplace_back(v, 1);
  return value_at_rank(counts, nearest_rank(p, static_cast<long long>(values.size()))).value_or(-999);
}

TEST(Percentile, NearestRankOnSmallArrays) {
  const std::vector<long long> five = {40, 15, 50, 20, 35};
  EXPECT_EQ(percentile_of(five, 5), 15);
  EXPECT_EQ(percentile_of(five, 30), 20);
  EXPECT_EQ(percentile_of(five, 40), 20);
  EXPECT_EQ(percentile_of(five, 50), 35);
  EXPECT_EQ(percentile_of(five, 100), 50);
  const std::vector<long long> ten = {20, 3, 8, 6, 16, 7, 15, 8, 10, 13};
  EXPECT_EQ(percentile_of(ten, 25), 7);
  EXPECT_EQ(percentile_of(ten, 50), 8);
  EXPECT_EQ(percentile_of(ten, 75), 15);
  EXPECT_EQ(percentile_of(ten, 90), 16);
  EXPECT_EQ(percentile_of(ten, 99), 20);
  EXPECT_EQ(percentile_of({42}, 1), 42);
  EXPECT_EQ(percentile_of({42}, 99), 42);
}

TEST(Percentile, RanksAndOutOfRange) {
  EXPECT_EQ(nearest_rank(50, 0), 0);
  EXPECT_EQ(nearest_rank(50, 1), 1);
  EXPECT_EQ(nearest_rank(50, 2), 1);
  EXPECT_EQ(nearest_rank(50, 3), 2);
  EXPECT_EQ(nearest_rank(99, 100), 99);
  EXPECT_EQ(nearest_rank(99, 101), 100);
  EXPECT_EQ(nearest_rank(0, 10), 1);
  const std::vector<std::pair<long long, long long>> counts = {{9, 1}, {5, 1}, {5, 1}};
  EXPECT_EQ(value_at_rank(counts, 2), 5);
  EXPECT_EQ(value_at_rank(counts, 3), 9);
  EXPECT_FALSE(value_at_rank(counts, 0).has_value());
  EXPECT_FALSE(value_at_rank(counts, 4).has_value());
  // Pairs taken out (a part of an hour subtracted from its rollup): only
  // each value's net count counts. Here the distribution is {5, 9}.
  const std::vector<std::pair<long long, long long>> net = {{7, 1}, {5, 2}, {9, 1}, {5, -1}, {7, -1}};
  EXPECT_EQ(value_at_rank(net, 1), 5);
  EXPECT_EQ(value_at_rank(net, 2), 9);
  EXPECT_FALSE(value_at_rank(net, 3).has_value());
}

TEST(Percentile, EqualsTheSortedArrayDefinition) {
  std::mt19937_64 random(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<long long> values(1 + random() % 300);
    for (long long& v : values) v = static_cast<long long>(random() % 50);  // many ties
    std::vector<long long> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    for (const int p : {1, 50, 90, 95, 99, 100}) {
      const auto n = static_cast<long double>(sorted.size());
      // ceil(p/100 * n) computed independently, in long double.
      const auto rank = static_cast<size_t>(std::max<long double>(1, std::ceil(p * n / 100)));
      EXPECT_EQ(percentile_of(values, p), sorted[rank - 1]) << "p" << p << " n=" << sorted.size();
    }
  }
}

// ---- the route ----

TEST(DeliveryMetricsRoute, NeedsAKey) {
  auto context = test::make_context();
  http::Request request;
  request.method = "GET";
  request.path = "/api/v1/whatsapp/delivery-metrics";
  const http::Response response = delivery_metrics(request, *context);
  EXPECT_EQ(response.status, 401);
  EXPECT_NE(response.body.find("unauthorized"), std::string::npos);
}

}  // namespace
}  // namespace wagate::api
