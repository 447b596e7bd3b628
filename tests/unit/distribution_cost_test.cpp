// distribution_cost_test.cpp — a distribution's cost: summed prices, units that do not add up, the estimate.
#include "api/distribution_cost.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace wagate::api {
namespace {

std::string dumped(const json::Value& value) { return json::dump(value.get()); }

TEST(DistributionCost, OneUnitIsSummedWithWhatIsStillPending) {
  const std::vector<CostGroup> groups = {{"USD", "0.04080", 3, 0, 0}, {std::nullopt, "0", 0, 2, 1}};
  EXPECT_EQ(dumped(cost_json(groups, std::nullopt)),
            R"({"amount":"0.04080","unit":"USD","priced":3,"pending":2,"unpriced":1,"estimate":null})");
}

TEST(DistributionCost, NothingPricedYetShowsZeroInTheEstimatesUnit) {
  const std::vector<CostGroup> groups = {{std::nullopt, "0", 0, 0, 0}};
  EXPECT_EQ(dumped(cost_json(groups, PriceHistory{"USD", "0.50000", 40})),
            R"({"amount":"0","unit":"USD","priced":0,"pending":0,"unpriced":0,)"
            R"("estimate":{"amount":"0.50000","unit":"USD","basis":"tenant_recent_average","sample":40}})");
  EXPECT_EQ(dumped(cost_json({}, std::nullopt)),
            R"({"amount":"0","unit":null,"priced":0,"pending":0,"unpriced":0,"estimate":null})");
}

TEST(DistributionCost, MixedUnitsAreListedNotAdded) {
  const std::vector<CostGroup> groups = {{"EUR", "0.10000", 2, 0, 0}, {"USD", "0.00500", 1, 0, 0}};
  EXPECT_EQ(dumped(cost_json(groups, std::nullopt)),
            R"({"amount":null,"unit":null,"by_unit":[{"amount":"0.10000","unit":"EUR"},)"
            R"({"amount":"0.00500","unit":"USD"}],"priced":3,"pending":0,"unpriced":0,"estimate":null})");
}

}  // namespace
}  // namespace wagate::api
