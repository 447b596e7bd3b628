// distribution_cost.hpp — a distribution's cost: Twilio's prices of its messages summed, and an estimate before launch.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "wagate/json.hpp"

namespace wagate::api {

// The messages of a distribution that share a price_unit (one row of a
// GROUP BY price_unit over its recipients' messages).
struct CostGroup {
  std::optional<std::string> unit;  // nullopt: messages without a price
  std::string amount;               // sum of abs(price) as numeric text; "0" without a price
  long long priced = 0;             // messages with a price
  long long pending = 0;            // final, not priced yet (the price job still asks Twilio)
  long long unpriced = 0;           // final, given up: Twilio never priced them
};

// The estimate from the tenant's recent prices: the average abs(price) of
// its last priced messages (of their most common unit) times the planned
// recipients, computed in numeric by Postgres.
struct PriceHistory {
  std::string unit;
  std::string estimate;  // numeric text, five decimals
  long long sample = 0;  // priced messages averaged
};

// {"amount", "unit", "priced", "pending", "unpriced", "estimate"}. amount is
// the sum of the absolute prices (a cost is positive; Twilio writes charges
// negative), as a decimal string; unit is null while nothing is priced. With
// more than one unit, amount and unit are null and "by_unit" lists each
// [{"amount", "unit"}]. estimate: {"amount", "unit", "basis", "sample"} =
// planned × average (basis "tenant_recent_average"), or null without history.
[[nodiscard]] json::Value cost_json(std::span<const CostGroup> groups, const std::optional<PriceHistory>& history);

}  // namespace wagate::api
