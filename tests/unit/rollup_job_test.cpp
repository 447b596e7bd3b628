// rollup_job_test.cpp — which hours and days one rollup statement recomputes: every changed hour once, every day whole.
//
// Which hours changed (the snapshot watermark) and the sums themselves are
// SQL, checked against a full recount by tests/integration/worker_sql_test.sh.
#include "maint/rollup_job.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <utility>

namespace wagate::maint {
namespace {

constexpr long long kHour = 3600;
constexpr long long kDay = 24 * kHour;
constexpr long long kMonday = 1700438400;  // 2023-11-20T00:00:00Z

std::vector<TenantPeriod> every_hour(long long tenant_id, long long from, int count) {
  std::vector<TenantPeriod> hours;
  for (int i = 0; i < count; ++i) hours.push_back({tenant_id, from + i * kHour});
  return hours;
}

// The invariants the SQL relies on, for any sorted list of changed hours.
void expect_well_planned(const std::vector<TenantPeriod>& hours, const std::vector<RollupChunk>& chunks,
                         size_t chunk_hours) {
  std::vector<TenantPeriod> seen;
  std::map<std::pair<long long, long long>, size_t> chunk_of_day;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const RollupChunk& chunk = chunks[c];
    ASSERT_FALSE(chunk.hours.empty());
    if (c + 1 < chunks.size()) {
      EXPECT_GE(chunk.hours.size(), chunk_hours) << "chunk " << c;
    }
    std::set<std::pair<long long, long long>> days_of_hours;
    for (const TenantPeriod& hour : chunk.hours) {
      seen.push_back(hour);
      days_of_hours.insert({hour.tenant_id, hour.start - hour.start % kDay});
    }
    // Exactly the days of its hours, each once.
    std::set<std::pair<long long, long long>> days;
    for (const TenantPeriod& day : chunk.days) {
      EXPECT_EQ(day.start % kDay, 0) << "a day starts at midnight UTC";
      EXPECT_TRUE(days.insert({day.tenant_id, day.start}).second) << "day listed twice in chunk " << c;
      // A day summed in two chunks would be summed once from hours not yet recomputed.
      EXPECT_TRUE(chunk_of_day.emplace(std::pair{day.tenant_id, day.start}, c).second)
          << "tenant " << day.tenant_id << " day " << day.start << " in two chunks";
    }
    EXPECT_EQ(days, days_of_hours) << "chunk " << c;
  }
  EXPECT_EQ(seen, hours) << "every changed hour recomputed once, in order";
}

TEST(RollupPlan, NothingChangedMeansNothingToRecompute) {
  EXPECT_TRUE(plan_chunks({}).empty());
}

TEST(RollupPlan, ChangedHoursOfOneDayAreOneChunkWithThatDay) {
  const std::vector<TenantPeriod> hours = {{1, kMonday + 3 * kHour}, {1, kMonday + 17 * kHour}};
  const auto chunks = plan_chunks(hours);
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].hours, hours);
  EXPECT_EQ(chunks[0].days, (std::vector<TenantPeriod>{{1, kMonday}}));
}

TEST(RollupPlan, ALateChangeInAnOldHourRecomputesThatHourAndItsDayOnly) {
  // A callback for a message sent last week moves it in its own hour: that
  // hour and its day are redone, next to the current hour, nothing between.
  const long long old_hour = kMonday - 6 * kDay + 13 * kHour;
  const long long now_hour = kMonday + 9 * kHour;
  const auto chunks = plan_chunks({{1, old_hour}, {1, now_hour}});
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].hours.size(), 2U);
  EXPECT_EQ(chunks[0].days, (std::vector<TenantPeriod>{{1, kMonday - 6 * kDay}, {1, kMonday}}));
}

TEST(RollupPlan, HoursEitherSideOfMidnightBelongToTheirOwnDays) {
  const auto chunks = plan_chunks({{1, kMonday - kHour}, {1, kMonday}});
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].days, (std::vector<TenantPeriod>{{1, kMonday - kDay}, {1, kMonday}}));
}

TEST(RollupPlan, TenantsKeepTheirOwnDays) {
  const auto chunks = plan_chunks({{1, kMonday + kHour}, {2, kMonday + kHour}});
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].days, (std::vector<TenantPeriod>{{1, kMonday}, {2, kMonday}}));
}

TEST(RollupPlan, AFirstRunOverALongHistoryIsCutIntoWholeDays) {
  // Ten full days: chunks of three days (72 hours), then the last day.
  const std::vector<TenantPeriod> hours = every_hour(1, kMonday, 240);
  const auto chunks = plan_chunks(hours);
  ASSERT_EQ(chunks.size(), 4U);
  EXPECT_EQ(chunks[0].hours.size(), 72U);
  EXPECT_EQ(chunks[0].days.size(), 3U);
  EXPECT_EQ(chunks[3].hours.size(), 24U);
  EXPECT_EQ(chunks[3].days, (std::vector<TenantPeriod>{{1, kMonday + 9 * kDay}}));
  expect_well_planned(hours, chunks, kRollupChunkHours);
}

TEST(RollupPlan, AChunkNeverEndsInsideADay) {
  // From 20:00: the 72nd hour is 19:00 three days on, mid-day, so the chunk
  // runs on to that day's midnight.
  const std::vector<TenantPeriod> hours = every_hour(1, kMonday + 20 * kHour, 100);
  const auto chunks = plan_chunks(hours);
  ASSERT_EQ(chunks.size(), 2U);
  EXPECT_EQ(chunks[0].hours.size(), 4U + 72U);
  EXPECT_EQ(chunks[0].hours.back().start, kMonday + 4 * kDay - kHour);
  expect_well_planned(hours, chunks, kRollupChunkHours);
}

TEST(RollupPlan, AnySortedListOfChangedHoursIsPlannedWell) {
  std::mt19937_64 random(20231120);
  for (int round = 0; round < 200; ++round) {
    std::set<std::pair<long long, long long>> picked;
    const int count = static_cast<int>(random() % 300);
    for (int i = 0; i < count; ++i) {
      const long long tenant = 1 + static_cast<long long>(random() % 3);
      const long long hour = kMonday + static_cast<long long>(random() % (20 * 24)) * kHour;
      picked.insert({tenant, hour});
    }
    std::vector<TenantPeriod> hours;
    for (const auto& [tenant, hour] : picked) hours.push_back({tenant, hour});
    const size_t chunk_hours = 1 + random() % 80;
    SCOPED_TRACE("round " + std::to_string(round) + ", chunk_hours " + std::to_string(chunk_hours));
    expect_well_planned(hours, plan_chunks(hours, chunk_hours), chunk_hours);
  }
}

}  // namespace
}  // namespace wagate::maint
