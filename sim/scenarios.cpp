// scenarios.cpp — the scenario table and its choice by the recipient's number.
#include "scenarios.hpp"

#include <array>

namespace wagate::sim {
namespace {

// Twilio's wording for each delivery error the scenarios produce.
constexpr std::string_view kMessage63016 =
    "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, "
    "please use a Message Template.";
constexpr std::string_view kMessage63024 = "Invalid message recipient";
constexpr std::string_view kMessage30003 = "Unreachable destination handset";
constexpr std::string_view kMessage30007 = "Message filtered";
constexpr std::string_view kMessage63049 = "Meta chose not to deliver this WhatsApp marketing message";

constexpr CallbackStep kSent{"sent", 0, {}};
constexpr CallbackStep kDelivered{"delivered", 0, {}};
constexpr CallbackStep kRead{"read", 0, {}};

constexpr std::array kDeliverRead{kSent, kDelivered, kRead};
constexpr std::array kDeliver{kSent, kDelivered};
constexpr std::array kOutOfOrder{kRead, kDelivered, kSent};
constexpr std::array kDuplicate{kSent, kSent, kDelivered, kDelivered, kRead, kRead};
constexpr std::array kSkipSent{kDelivered, kRead};
constexpr std::array kFail63016{CallbackStep{"failed", 63016, kMessage63016}};
constexpr std::array kFail63024{CallbackStep{"failed", 63024, kMessage63024}};
constexpr std::array kFail30003{CallbackStep{"failed", 30003, kMessage30003}};
constexpr std::array kFail30007{CallbackStep{"failed", 30007, kMessage30007}};
constexpr std::array kFail63049{CallbackStep{"failed", 63049, kMessage63049}};
constexpr std::array kUndeliveredThenFailed{CallbackStep{"undelivered", 30003, kMessage30003},
                                            CallbackStep{"failed", 30003, kMessage30003}};

// The numbers are part of the contract with every test that picks a scenario
// by its To number (docs/simulator.md lists them): append, never renumber.
const std::array kScenarios{
    Scenario{"deliver_read", 0, ApiBehaviour::Create, kDeliverRead, "sent, delivered, read"},
    Scenario{"deliver", 1, ApiBehaviour::Create, kDeliver, "sent, delivered"},
    Scenario{"out_of_order", 2, ApiBehaviour::Create, kOutOfOrder, "read, delivered, sent"},
    Scenario{"duplicate", 3, ApiBehaviour::Create, kDuplicate, "sent, delivered, read, each posted twice"},
    Scenario{"skip_sent", 4, ApiBehaviour::Create, kSkipSent, "delivered, read (no sent)"},
    Scenario{"fail_63016", 5, ApiBehaviour::Create, kFail63016, "failed 63016 (outside the 24 h window)"},
    Scenario{"fail_63024", 6, ApiBehaviour::Create, kFail63024, "failed 63024 (invalid recipient)"},
    Scenario{"fail_30003", 7, ApiBehaviour::Create, kFail30003, "failed 30003 (unreachable handset)"},
    Scenario{"fail_30007", 8, ApiBehaviour::Create, kFail30007, "failed 30007 (filtered)"},
    Scenario{"fail_63049", 9, ApiBehaviour::Create, kFail63049, "failed 63049 (Meta did not deliver marketing)"},
    Scenario{"undelivered_then_failed", 10, ApiBehaviour::Create, kUndeliveredThenFailed,
             "undelivered 30003, then failed 30003"},
    Scenario{"api_error_21211", 11, ApiBehaviour::Reject21211, {}, "400 / 21211 at the API, nothing created"},
    Scenario{"rate_limited", 12, ApiBehaviour::RateLimitedTwice, kDeliverRead,
             "first 2 attempts per To: 429 / 20429; then 201 and sent, delivered, read"},
    Scenario{"unavailable_once", 13, ApiBehaviour::UnavailableOnce, kDeliverRead,
             "first attempt per To: 503 / 20503; then 201 and sent, delivered, read"},
    Scenario{"timeout", 14, ApiBehaviour::SlowAnswer, kDeliverRead,
             "created and sent, delivered, read posted, but the 201 is held back 30 s"},
    Scenario{"no_callbacks", 15, ApiBehaviour::Create, {}, "201, then nothing (stays queued)"},
};

}  // namespace

std::span<const Scenario> scenarios() { return kScenarios; }

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& scenario : kScenarios) {
    if (scenario.name == name) return &scenario;
  }
  return nullptr;
}

const Scenario& default_scenario() { return kScenarios.front(); }

std::optional<int> scenario_number(std::string_view to) {
  // Only the trailing digits count: the prefix (whatsapp:, +, country, area)
  // is free, so that tests can use many distinct numbers per scenario.
  constexpr size_t kTail = kScenarioMarker.size() + 2;
  if (to.size() < kTail) return std::nullopt;
  const std::string_view tail = to.substr(to.size() - kTail);
  if (tail.substr(0, kScenarioMarker.size()) != kScenarioMarker) return std::nullopt;
  const char tens = tail[kTail - 2];
  const char ones = tail[kTail - 1];
  if (tens < '0' || tens > '9' || ones < '0' || ones > '9') return std::nullopt;
  return (tens - '0') * 10 + (ones - '0');
}

const Scenario& scenario_for(std::string_view to, const Scenario& fallback) {
  const std::optional<int> number = scenario_number(to);
  if (!number) return fallback;
  for (const Scenario& scenario : kScenarios) {
    if (scenario.number == *number) return scenario;
  }
  return fallback;
}

}  // namespace wagate::sim
