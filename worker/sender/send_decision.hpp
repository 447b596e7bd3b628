// send_decision.hpp — what the sender makes of one attempt: send it or not, then Twilio's answer to outcome and next step.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "send_store.hpp"
#include "wagate/backoff.hpp"
#include "wagate/twilio_client.hpp"

namespace wagate::sender {

// What happens to a message the claim statement returned, before any
// request is made.
enum class DispatchStep {
  Send,      // make the request
  Cancel,    // the claim canceled it (opt-out): nothing to send or record, only its entry to acknowledge
  Refuse,    // failed without asking Twilio: the tenant cannot send at all
};

struct DispatchPlan {
  DispatchStep step = DispatchStep::Send;
  std::string why;  // Refuse: the message's error_message
};

// `has_sender`: the message or its tenant names a WhatsApp sender or a
// Messaging Service. `has_auth_token`: the tenant's credentials are usable.
[[nodiscard]] DispatchPlan plan_dispatch(ClaimOutcome claim, bool has_sender, bool has_auth_token);

// What the sender does next with a message after one attempt.
enum class NextStep {
  Sent,       // Twilio has it (a SID): callbacks take it from here
  Retry,      // nothing was created: the sweeper sends it again after retry_in
  Fail,       // final, with Twilio's code when it gave one
  Reconcile,  // the request may have created a message: never sent again by the sender, only reconcile resolves it
};

struct Attempt {
  int number = 1;        // the claim's attempt count, 1 for the first request
  int max_attempts = 5;  // send_max_attempts: the attempt that may not be retried any more
  backoff::Policy policy;
  double jitter_draw = 0;  // uniform in [0, 1]: where in [0, backoff ceiling] the retry falls
};

struct SendDecision {
  NextStep step = NextStep::Reconcile;
  twilio::Outcome outcome = twilio::Outcome::Unknown;  // Twilio's answer, classified
  std::string sid;                                     // Sent
  std::optional<int> error_code;                       // Fail: Twilio's code, when it gave one
  std::string error_message;                           // Fail: the message's error_message
  std::chrono::milliseconds retry_in{0};               // Retry: from the time it is recorded
  std::string last_error;                              // what an operator reads in last_error
  std::string transport_error;                         // libcurl's error, for the log line

  // The outcome in wagate_record_send_results' words: created, retrying, failed, unknown.
  [[nodiscard]] std::string_view record_outcome() const;
};

// Twilio's answer to attempt `attempt`, classified (twilio::classify_create)
// and turned into the next step.
[[nodiscard]] SendDecision decide_send(const twilio::Response& response, const Attempt& attempt);

// A request that never left this host (libcurl refused the handle): retried
// like a connection that never opened.
[[nodiscard]] twilio::Response never_sent(std::string why);

// Refused before asking Twilio: failed like Twilio's own refusal, without a code.
[[nodiscard]] SendDecision refused(std::string why);

}  // namespace wagate::sender
