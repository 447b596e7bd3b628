// distribution_cost.cpp — a distribution's cost: Twilio's prices of its messages summed, and an estimate before launch.
#include "distribution_cost.hpp"

#include <vector>

namespace wagate::api {

json::Value cost_json(std::span<const CostGroup> groups, const std::optional<PriceHistory>& history) {
  json::Value out = json::object();
  json_t* o = out.get();
  std::vector<const CostGroup*> priced;
  long long priced_count = 0;
  long long pending = 0;
  long long unpriced = 0;
  for (const CostGroup& group : groups) {
    priced_count += group.priced;
    pending += group.pending;
    unpriced += group.unpriced;
    if (group.unit && group.priced > 0) priced.push_back(&group);
  }
  if (priced.empty()) {
    json::set(o, "amount", json::string("0"));
    json::set(o, "unit", history ? json::string(history->unit) : json::null());
  } else if (priced.size() == 1) {
    json::set(o, "amount", json::string(priced.front()->amount));
    json::set(o, "unit", json::string(*priced.front()->unit));
  } else {
    // Amounts in different currencies do not add up: each is shown alone.
    json::set(o, "amount", json::null());
    json::set(o, "unit", json::null());
    json::Value by_unit = json::array();
    for (const CostGroup* group : priced) {
      json::Value item = json::object();
      json::set(item.get(), "amount", json::string(group->amount));
      json::set(item.get(), "unit", json::string(*group->unit));
      json::append(by_unit.get(), std::move(item));
    }
    json::set(o, "by_unit", std::move(by_unit));
  }
  json::set(o, "priced", json::integer(priced_count));
  json::set(o, "pending", json::integer(pending));
  json::set(o, "unpriced", json::integer(unpriced));
  if (history) {
    json::Value estimate = json::object();
    json::set(estimate.get(), "amount", json::string(history->estimate));
    json::set(estimate.get(), "unit", json::string(history->unit));
    json::set(estimate.get(), "basis", json::string("tenant_recent_average"));
    json::set(estimate.get(), "sample", json::integer(history->sample));
    json::set(o, "estimate", std::move(estimate));
  } else {
    json::set(o, "estimate", json::null());
  }
  return out;
}

}  // namespace wagate::api
