// send_decision.cpp — what the sender makes of one attempt: send it or not, then Twilio's answer to outcome and next step.
#include "send_decision.hpp"

#include <utility>

namespace wagate::sender {
namespace {

// What the operator reads in last_error: the HTTP status and Twilio's code.
std::string describe(const twilio::Response& response, const twilio::SendResult& result) {
  if (response.failure != twilio::Failure::None) return result.error_message;
  std::string text = "HTTP " + std::to_string(response.http_status);
  if (result.error_code) text += " (Twilio error " + std::to_string(*result.error_code) + ")";
  return text;
}

}  // namespace

DispatchPlan plan_dispatch(ClaimOutcome claim, bool has_sender, bool has_auth_token) {
  if (claim == ClaimOutcome::CanceledOptedOut) return {DispatchStep::Cancel, {}};
  if (!has_sender) return {DispatchStep::Refuse, "tenant has neither a WhatsApp sender nor a Messaging Service"};
  if (!has_auth_token) return {DispatchStep::Refuse, "tenant has no auth token"};
  return {DispatchStep::Send, {}};
}

std::string_view SendDecision::record_outcome() const {
  switch (step) {
    case NextStep::Sent: return "created";
    case NextStep::Retry: return "retrying";
    case NextStep::Fail: return "failed";
    case NextStep::Reconcile: return "unknown";
  }
  return "unknown";
}

SendDecision decide_send(const twilio::Response& response, const Attempt& attempt) {
  const twilio::SendResult result = twilio::classify_create(response);
  SendDecision decision;
  decision.outcome = result.outcome;
  if (response.failure != twilio::Failure::None) decision.transport_error = response.error;
  const std::string why = describe(response, result);
  switch (result.outcome) {
    case twilio::Outcome::Created:
      decision.step = NextStep::Sent;
      decision.sid = result.sid;
      break;
    case twilio::Outcome::Rejected:
      decision.step = NextStep::Fail;
      decision.error_code = result.error_code;
      decision.error_message = result.error_message;
      decision.last_error = why;
      break;
    case twilio::Outcome::Retryable:
      if (attempt.number >= attempt.max_attempts) {
        decision.step = NextStep::Fail;
        decision.error_code = result.error_code;
        decision.error_message =
            "gave up after " + std::to_string(attempt.number) + " attempts; last: " + result.error_message;
      } else {
        decision.step = NextStep::Retry;
        decision.retry_in = backoff::full_jitter(attempt.policy, attempt.number, attempt.jitter_draw);
      }
      decision.last_error = why;
      break;
    case twilio::Outcome::Unknown:
      decision.step = NextStep::Reconcile;
      decision.last_error = why;
      break;
  }
  return decision;
}

twilio::Response never_sent(std::string why) {
  twilio::Response response;
  response.failure = twilio::Failure::Connect;
  response.error = std::move(why);
  response.request_sent = false;
  return response;
}

SendDecision refused(std::string why) {
  SendDecision decision;
  decision.step = NextStep::Fail;
  decision.outcome = twilio::Outcome::Rejected;
  decision.error_message = why;
  decision.last_error = std::move(why);
  return decision;
}

}  // namespace wagate::sender
