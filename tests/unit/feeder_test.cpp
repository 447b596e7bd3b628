// feeder_test.cpp — the feeder's pure parts: the budget of a pass (fractions carried, bursts capped), phone → time zone.
#include "sender/feeder.hpp"

#include <gtest/gtest.h>

#include <string>

#include "wagate/json.hpp"

namespace wagate::sender {
namespace {

// Runs `passes` passes of `interval` seconds at `rate`, each feeding its
// whole budget; returns how many messages they made in all.
long long fed_over(double rate, double interval, int passes) {
  double credit = 0;
  long long total = 0;
  for (int i = 0; i < passes; ++i) {
    const FeedBudget budget = feed_budget(credit, rate, interval, interval);
    total += budget.count;
    credit = credit_after(budget, budget.count);
  }
  return total;
}

TEST(FeederBudget, WholeRateIsOneIntervalsWorth) {
  const FeedBudget budget = feed_budget(0, 10, 1.0, 1.0);
  EXPECT_EQ(budget.count, 10);
  EXPECT_NEAR(credit_after(budget, 10), 0.0, 1e-9);
}

TEST(FeederBudget, FractionsCarrySoTheRateHoldsOverTime) {
  // 3/s at 300 ms is 0.9 a pass: not 0 for ever, not 1 every pass.
  EXPECT_EQ(fed_over(3, 0.3, 100), 90);
  // 1/s at 100 ms: one message every tenth pass.
  EXPECT_EQ(fed_over(1, 0.1, 50), 5);
  // 2.5 per pass alternates 2 and 3.
  EXPECT_EQ(fed_over(5, 0.5, 4), 10);
}

TEST(FeederBudget, ALongGapDoesNotBurstPastOneInterval) {
  // A pause, a window or a crash of 10 minutes: one interval's worth, plus
  // the one message that room for a carried fraction allows.
  const FeedBudget budget = feed_budget(0, 10, 600, 1.0);
  EXPECT_EQ(budget.count, 11);
  // And unused credit does not pile up either.
  const FeedBudget next = feed_budget(credit_after(budget, 0), 10, 1.0, 1.0);
  EXPECT_EQ(next.count, 11);
}

TEST(FeederBudget, PassesThatComeLateKeepTheRate) {
  // The loop is never exactly on time: 1.05 s between 1 s passes at 10/s
  // must still make 10.5 a pass on average.
  double credit = 0;
  long long total = 0;
  for (int i = 0; i < 20; ++i) {
    const FeedBudget budget = feed_budget(credit, 10, 1.05, 1.0);
    total += budget.count;
    credit = credit_after(budget, budget.count);
  }
  EXPECT_EQ(total, 210);
}

TEST(FeederBudget, ASlowRateStillGetsOneMessageAPass) {
  // 1/s at 100 ms: the cap is at least one message, or it would never send.
  const FeedBudget budget = feed_budget(0.95, 1, 0.1, 0.1);
  EXPECT_EQ(budget.count, 1);
}

TEST(FeederBudget, WhatIsNotFedIsKeptForTheNextPass) {
  const FeedBudget budget = feed_budget(0.4, 10, 1.0, 1.0);  // 10.4
  EXPECT_EQ(budget.count, 10);
  EXPECT_NEAR(credit_after(budget, 3), 7.4, 1e-9);  // kept; the next pass caps it again
  EXPECT_NEAR(credit_after(budget, 10), 0.4, 1e-9);  // the fraction
}

TEST(FeederBudget, ClockGoingBackwardsGivesNothingNegative) {
  const FeedBudget budget = feed_budget(0, 10, -5, 1.0);
  EXPECT_EQ(budget.count, 0);
  EXPECT_GE(credit_after(budget, 0), 0.0);
}

TEST(FeederTimezone, CountryCodesMapToTheirMostPopulousZone) {
  EXPECT_EQ(timezone_for_phone("+351912000001"), "Europe/Lisbon");
  EXPECT_EQ(timezone_for_phone("+14155550100"), "America/New_York");
  EXPECT_EQ(timezone_for_phone("+5511987654321"), "America/Sao_Paulo");
  EXPECT_EQ(timezone_for_phone("+79161234567"), "Europe/Moscow");
  EXPECT_EQ(timezone_for_phone("+61412345678"), "Australia/Sydney");
  EXPECT_EQ(timezone_for_phone("+919812345678"), "Asia/Kolkata");
}

TEST(FeederTimezone, LongestPrefixWins) {
  // +351 is Portugal, not +35x or +3.
  EXPECT_EQ(timezone_for_phone("+353861234567"), "Europe/Dublin");
  EXPECT_EQ(timezone_for_phone("+358401234567"), "Europe/Helsinki");
  EXPECT_EQ(timezone_for_phone("+212612345678"), "Africa/Casablanca");
  EXPECT_EQ(timezone_for_phone("+27821234567"), "Africa/Johannesburg");
}

TEST(FeederTimezone, UnknownCodesAndNonsenseAreUtc) {
  EXPECT_EQ(timezone_for_phone("+999123456789"), "UTC");
  EXPECT_EQ(timezone_for_phone("+"), "UTC");
  EXPECT_EQ(timezone_for_phone(""), "UTC");
  EXPECT_EQ(timezone_for_phone("351912000001"), "UTC");
}

TEST(FeederTimezone, TheJsonTableTheSqlUsesIsTheSameTable) {
  const json::ParseResult parsed = json::parse(calling_code_timezones_json());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(json_object_size(parsed.value.get()), calling_code_timezones().size());
  for (const auto& [code, zone] : calling_code_timezones()) {
    EXPECT_EQ(json::get_string(parsed.value.get(), std::string(code).c_str()).value_or(""), zone) << code;
    EXPECT_EQ(timezone_for_phone("+" + std::string(code) + "1234567"), zone) << code;
  }
}

}  // namespace
}  // namespace wagate::sender
