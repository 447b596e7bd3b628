// sim_scenarios_test.cpp — the simulator's scenario table and its choice by the To number.
#include "sim/scenarios.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace wagate::sim {
namespace {

std::vector<std::string_view> statuses(const Scenario& scenario) {
  std::vector<std::string_view> out;
  for (const CallbackStep& step : scenario.steps) out.push_back(step.status);
  return out;
}

// Tests everywhere pick scenarios by these numbers (docs/simulator.md): a
// renumbering would silently change what they exercise.
TEST(SimScenarios, NumbersPickTheDocumentedScenario) {
  const Scenario& fallback = default_scenario();
  const std::vector<std::pair<std::string, std::string_view>> table = {
      {"whatsapp:+12025550100", "deliver_read"},       {"whatsapp:+12025550101", "deliver"},
      {"whatsapp:+12025550102", "out_of_order"},       {"whatsapp:+12025550103", "duplicate"},
      {"whatsapp:+12025550104", "skip_sent"},          {"whatsapp:+12025550105", "fail_63016"},
      {"whatsapp:+12025550106", "fail_63024"},         {"whatsapp:+12025550107", "fail_30003"},
      {"whatsapp:+12025550108", "fail_30007"},         {"whatsapp:+12025550109", "fail_63049"},
      {"whatsapp:+12025550110", "undelivered_then_failed"}, {"whatsapp:+12025550111", "api_error_21211"},
      {"whatsapp:+12025550112", "rate_limited"},       {"whatsapp:+12025550113", "unavailable_once"},
      {"whatsapp:+12025550114", "timeout"},            {"whatsapp:+12025550115", "no_callbacks"},
  };
  for (const auto& [to, name] : table) EXPECT_EQ(scenario_for(to, fallback).name, name) << to;
}

TEST(SimScenarios, PrefixIsFreeSoTestsCanUseManyNumbersPerScenario) {
  const Scenario& fallback = default_scenario();
  EXPECT_EQ(scenario_for("whatsapp:+447975550102", fallback).name, "out_of_order");
  EXPECT_EQ(scenario_for("+5511955501 02", fallback).name, "deliver_read");  // a blank breaks the marker
  EXPECT_EQ(scenario_for("+12065550112", fallback).name, "rate_limited");
  EXPECT_EQ(scenario_number("whatsapp:+12025550199"), 99);
}

TEST(SimScenarios, OtherNumbersGetTheFallback) {
  const Scenario* fallback = find_scenario("deliver");
  ASSERT_NE(fallback, nullptr);
  for (const std::string_view to : {"whatsapp:+12025550000", "whatsapp:+12025551234", "whatsapp:+12025550199",
                               "whatsapp:+15550102x", "", "02"}) {
    EXPECT_EQ(&scenario_for(to, *fallback), fallback) << to;
  }
  EXPECT_FALSE(scenario_number("whatsapp:+12025550000"));
  EXPECT_FALSE(scenario_number("5550"));
}

TEST(SimScenarios, StepsAreTheDocumentedSequences) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(statuses(*find_scenario("deliver_read")), (V{"sent", "delivered", "read"}));
  EXPECT_EQ(statuses(*find_scenario("out_of_order")), (V{"read", "delivered", "sent"}));
  EXPECT_EQ(statuses(*find_scenario("duplicate")), (V{"sent", "sent", "delivered", "delivered", "read", "read"}));
  EXPECT_EQ(statuses(*find_scenario("skip_sent")), (V{"delivered", "read"}));
  EXPECT_EQ(statuses(*find_scenario("undelivered_then_failed")), (V{"undelivered", "failed"}));
  EXPECT_TRUE(find_scenario("no_callbacks")->steps.empty());
  EXPECT_TRUE(find_scenario("api_error_21211")->steps.empty());
  EXPECT_EQ(find_scenario("rate_limited")->api, ApiBehaviour::RateLimitedTwice);
  EXPECT_EQ(find_scenario("unavailable_once")->api, ApiBehaviour::UnavailableOnce);
  EXPECT_EQ(find_scenario("timeout")->api, ApiBehaviour::SlowAnswer);
  EXPECT_EQ(find_scenario("nonexistent"), nullptr);
}

TEST(SimScenarios, FailuresCarryTheirRealErrorCode) {
  for (const auto& [name, code] : std::vector<std::pair<std::string_view, int>>{
           {"fail_63016", 63016}, {"fail_63024", 63024}, {"fail_30003", 30003}, {"fail_30007", 30007},
           {"fail_63049", 63049}}) {
    const Scenario* scenario = find_scenario(name);
    ASSERT_NE(scenario, nullptr) << name;
    ASSERT_EQ(scenario->steps.size(), 1U) << name;
    EXPECT_EQ(scenario->steps[0].status, "failed") << name;
    EXPECT_EQ(scenario->steps[0].error_code, code) << name;
    EXPECT_FALSE(scenario->steps[0].error_message.empty()) << name;
  }
  for (const CallbackStep& step : find_scenario("undelivered_then_failed")->steps) EXPECT_EQ(step.error_code, 30003);
}

TEST(SimScenarios, NamesAndNumbersAreUnique) {
  std::set<std::string_view> names;
  std::set<int> numbers;
  for (const Scenario& scenario : scenarios()) {
    EXPECT_TRUE(names.insert(scenario.name).second) << scenario.name;
    EXPECT_TRUE(numbers.insert(scenario.number).second) << scenario.name;
    EXPECT_GE(scenario.number, 0);
    EXPECT_LE(scenario.number, 99);
  }
}

}  // namespace
}  // namespace wagate::sim
