// distribution_breaker.cpp — the circuit breaker: a running distribution whose recent messages fail pauses itself.
#include "distribution_breaker.hpp"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "wagate/config.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"

namespace wagate::maint {
namespace {

bool is_marketing_limit(const MessageOutcome& outcome) {
  return outcome.failed && outcome.error_code &&
         std::ranges::find(kMarketingLimitCodes, *outcome.error_code) != std::end(kMarketingLimitCodes);
}

std::string reason(std::string_view what, long long count, long long of) {
  return "circuit_breaker: " + std::string(what) + " for " + std::to_string(count) + " of the last " +
         std::to_string(of) + " messages";
}

bool reaches_share(long long count, long long of, int percent) { return count * 100 >= of * percent; }

}  // namespace

std::optional<std::string> breaker_verdict(std::span<const MessageOutcome> recent, const BreakerRule& rule) {
  const auto judged = recent.first(std::min(recent.size(), static_cast<std::size_t>(std::max(rule.window, 0))));
  const auto total = static_cast<long long>(judged.size());
  long long failed = 0;
  long long outside_window = 0;
  long long marketing = 0;
  bool codes_seen[std::size(kMarketingLimitCodes)] = {};
  for (const MessageOutcome& outcome : judged) {
    if (!outcome.failed) continue;
    ++failed;
    if (outcome.error_code == kOutsideWindowCode) ++outside_window;
    if (is_marketing_limit(outcome)) {
      ++marketing;
      const auto* code = std::ranges::find(kMarketingLimitCodes, *outcome.error_code);
      codes_seen[code - std::begin(kMarketingLimitCodes)] = true;
    }
  }
  if (marketing >= rule.marketing_limit) {
    std::string codes;
    for (std::size_t i = 0; i < std::size(kMarketingLimitCodes); ++i) {
      if (!codes_seen[i]) continue;
      if (!codes.empty()) codes += '/';
      codes += std::to_string(kMarketingLimitCodes[i]);
    }
    return reason(codes, marketing, total);
  }
  if (total == 0 || total < rule.min_outcomes) return std::nullopt;
  if (reaches_share(outside_window, total, rule.failure_percent)) {
    return reason(std::to_string(kOutsideWindowCode), outside_window, total);
  }
  if (reaches_share(failed, total, rule.failure_percent)) return reason("failures", failed, total);
  return std::nullopt;
}

BreakerRule breaker_rule(const config::Config& config) {
  return {.window = static_cast<int>(config.integer("breaker_window")),
          .marketing_limit = static_cast<int>(config.integer("breaker_marketing_limit")),
          .min_outcomes = static_cast<int>(config.integer("breaker_min_outcomes")),
          .failure_percent = static_cast<int>(config.integer("breaker_failure_percent"))};
}

}  // namespace wagate::maint
