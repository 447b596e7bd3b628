// distribution_breaker_test.cpp — the circuit breaker's verdict on tables of recent outcomes.
#include "maint/distribution_breaker.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace wagate::maint {
namespace {

// Outcomes, newest first: `n` of each kind appended in order.
struct Outcomes {
  std::vector<MessageOutcome> list;
  Outcomes& delivered(int n) { return add(n, {false, std::nullopt}); }
  Outcomes& failed(int n, std::optional<int> code) { return add(n, {true, code}); }
  Outcomes& add(int n, MessageOutcome outcome) {
    for (int i = 0; i < n; ++i) list.push_back(outcome);
    return *this;
  }
};

const BreakerRule kRule{.window = 50, .marketing_limit = 10, .min_outcomes = 20, .failure_percent = 80};

std::optional<std::string> verdict(const Outcomes& outcomes, const BreakerRule& rule = kRule) {
  return breaker_verdict(outcomes.list, rule);
}

TEST(DistributionBreaker, HealthyDistributionGoesOn) {
  EXPECT_EQ(verdict(Outcomes{}), std::nullopt);
  EXPECT_EQ(verdict(Outcomes{}.delivered(50)), std::nullopt);
  // Some failures of every kind, each below its threshold.
  EXPECT_EQ(verdict(Outcomes{}.failed(9, 63049).failed(15, 63016).failed(10, 30008).delivered(16)), std::nullopt);
}

TEST(DistributionBreaker, MarketingLimitCodesTripAtTheirCount) {
  EXPECT_EQ(verdict(Outcomes{}.failed(12, 63049).delivered(38)),
            "circuit_breaker: 63049 for 12 of the last 50 messages");
  EXPECT_EQ(verdict(Outcomes{}.failed(10, 131049).delivered(40)),
            "circuit_breaker: 131049 for 10 of the last 50 messages");
  // Both codes are the same limit: they add up, and the reason names both.
  EXPECT_EQ(verdict(Outcomes{}.failed(5, 63049).failed(5, 131049).delivered(40)),
            "circuit_breaker: 63049/131049 for 10 of the last 50 messages");
  // A count, not a share: ten early failures trip it before min_outcomes.
  EXPECT_EQ(verdict(Outcomes{}.failed(10, 63049)), "circuit_breaker: 63049 for 10 of the last 10 messages");
}

TEST(DistributionBreaker, OnlyTheWindowCounts) {
  // Marketing failures older than the last 50 outcomes are forgotten.
  EXPECT_EQ(verdict(Outcomes{}.delivered(45).failed(5, 63049).failed(20, 63049)), std::nullopt);
  EXPECT_EQ(verdict(Outcomes{}.delivered(40).failed(10, 63049).delivered(20)),
            "circuit_breaker: 63049 for 10 of the last 50 messages");
}

TEST(DistributionBreaker, OutsideWindowShareTripsOnceThereAreEnoughOutcomes) {
  EXPECT_EQ(verdict(Outcomes{}.failed(16, 63016).delivered(4)),
            "circuit_breaker: 63016 for 16 of the last 20 messages");
  EXPECT_EQ(verdict(Outcomes{}.failed(15, 63016).delivered(5)), std::nullopt);  // 75 %
  // Too few outcomes to judge a share: 19 of 19 is not enough.
  EXPECT_EQ(verdict(Outcomes{}.failed(19, 63016)), std::nullopt);
}

TEST(DistributionBreaker, AnyFailureShareTrips) {
  EXPECT_EQ(verdict(Outcomes{}.failed(20, 30008).failed(20, std::nullopt).delivered(10)),
            "circuit_breaker: failures for 40 of the last 50 messages");
  EXPECT_EQ(verdict(Outcomes{}.failed(39, 30008).delivered(11)), std::nullopt);
  // 63016 among other failures: the share of 63016 alone is named when it is enough.
  EXPECT_EQ(verdict(Outcomes{}.failed(41, 63016).failed(9, 30008)),
            "circuit_breaker: 63016 for 41 of the last 50 messages");
}

TEST(DistributionBreaker, DeliveredWithAnErrorCodeIsNotAFailure) {
  // A message delivered after a failure callback keeps the code: the handset confirmed it.
  EXPECT_EQ(verdict(Outcomes{}.add(20, {false, 63049}).delivered(30)), std::nullopt);
}

TEST(DistributionBreaker, ThresholdsComeFromTheRule) {
  const BreakerRule strict{.window = 10, .marketing_limit = 2, .min_outcomes = 5, .failure_percent = 50};
  EXPECT_EQ(verdict(Outcomes{}.failed(2, 63049), strict), "circuit_breaker: 63049 for 2 of the last 2 messages");
  EXPECT_EQ(verdict(Outcomes{}.failed(3, 30008).delivered(3), strict),
            "circuit_breaker: failures for 3 of the last 6 messages");
}

}  // namespace
}  // namespace wagate::maint
