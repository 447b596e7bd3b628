// scenarios.hpp — what the simulator does with a message, chosen by the recipient's number.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace wagate::sim {

// One status callback as the scenario posts it.
struct CallbackStep {
  std::string_view status;         // MessageStatus / SmsStatus
  int error_code = 0;              // 0: no ErrorCode parameter
  std::string_view error_message;  // Twilio's wording for error_code
};

// How the Messages.json create answers before (or instead of) creating.
enum class ApiBehaviour {
  Create,            // 201 at once
  Reject21211,       // 400 / 21211, nothing created
  RateLimitedTwice,  // the first 2 attempts for the To number: 429 / 20429, then 201
  UnavailableOnce,   // the first attempt for the To number: 503 / 20503, then 201
  SlowAnswer,        // created and its callbacks sent, but the 201 is held back kSlowAnswer
};

struct Scenario {
  std::string_view name;
  int number;  // NN in a To number ending in 55501NN
  ApiBehaviour api;
  std::span<const CallbackStep> steps;  // posted in this order, one after another
  std::string_view summary;             // one line for docs and GET /sim/scenarios
};

// A To number whose digits end in kScenarioMarker followed by two digits NN
// picks scenario NN (whatever the country and area code, so a test can use as
// many distinct numbers per scenario as it needs). 555-0100..0199 are the
// numbers reserved for fiction, so random benchmark numbers rarely land here.
inline constexpr std::string_view kScenarioMarker = "55501";

[[nodiscard]] std::span<const Scenario> scenarios();
[[nodiscard]] const Scenario* find_scenario(std::string_view name);
[[nodiscard]] const Scenario& default_scenario();  // deliver_read

// NN when to ("whatsapp:+12025550102" or "+12025550102") ends in 55501NN.
[[nodiscard]] std::optional<int> scenario_number(std::string_view to);

// The scenario of the number's NN when it names one, else fallback.
[[nodiscard]] const Scenario& scenario_for(std::string_view to, const Scenario& fallback);

}  // namespace wagate::sim
