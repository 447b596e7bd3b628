// distribution_breaker.hpp — the circuit breaker: a running distribution whose recent messages fail pauses itself.
#pragma once

#include <optional>
#include <span>
#include <string>

namespace wagate::pg {
class Connection;
}
namespace wagate::config {
class Config;
}

namespace wagate::maint {

// Meta's marketing-message limits: the person got too many marketing
// messages (63049 through Twilio, 131049 as Meta's own code).
inline constexpr int kMarketingLimitCodes[] = {63049, 131049};
// Free-form text outside the contact's 24-hour window.
inline constexpr int kOutsideWindowCode = 63016;

// The thresholds, from the breaker_* configuration keys.
struct BreakerRule {
  int window = 50;            // the most recent final outcomes judged
  int marketing_limit = 10;   // marketing-limit failures among them that trip it
  int min_outcomes = 20;      // outcomes needed before a share is judged
  int failure_percent = 80;   // share of 63016, or of any failure, that trips it
};

// One message's final outcome: delivered or read (not failed), or failed
// or undelivered with Twilio's error code when it gave one.
struct MessageOutcome {
  bool failed = false;
  std::optional<int> error_code;
};

// The reason to pause, or nullopt to go on. `recent` is newest first; only
// its first rule.window outcomes count. The rules, in this order:
//   1. at least marketing_limit of them failed with 63049 or 131049;
//   2. at least min_outcomes of them, and failure_percent of them failed
//      with 63016;
//   3. at least min_outcomes of them, and failure_percent of them failed.
// The reason names the rule, e.g. "circuit_breaker: 63049 for 12 of the
// last 50 messages", "circuit_breaker: failures for 45 of the last 50 messages".
[[nodiscard]] std::optional<std::string> breaker_verdict(std::span<const MessageOutcome> recent,
                                                         const BreakerRule& rule);

[[nodiscard]] BreakerRule breaker_rule(const config::Config& config);

// What one run did, for its log line and for tests.
struct BreakerStats {
  long long checked = 0;  // running distributions looked at
  long long paused = 0;   // paused by this run
};

// One run, under the caller's advisory lock: the recent outcomes of every
// running distribution in one statement (only those after breaker_since,
// the time of its last resume), the verdicts, and one conditional UPDATE
// (status = 'running') that pauses the tripped ones with their reason, so
// a resume or cancel committed meanwhile wins. Throws DbError.
BreakerStats distribution_breaker(pg::Connection& db, const config::Config& config);

}  // namespace wagate::maint
