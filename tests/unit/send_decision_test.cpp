// send_decision_test.cpp — the sender's next step after an attempt: sent, retried when, failed with what, or left to reconcile.
//
// How Twilio's answers are classified is twilio_client_test's business and
// the delay curve is backoff_test's; this file holds what the worker adds on
// top: the step, the retry time for the attempt, the give-up rule, and the
// texts the operator and the API read.
#include "sender/send_decision.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>

namespace wagate::sender {

// Failure messages name the step, not its bytes.
void PrintTo(NextStep step, std::ostream* out) {
  SendDecision decision;
  decision.step = step;
  *out << decision.record_outcome();
}
void PrintTo(DispatchStep step, std::ostream* out) {
  *out << (step == DispatchStep::Send ? "send" : step == DispatchStep::Cancel ? "cancel" : "refuse");
}

namespace {

using std::chrono::milliseconds;

constexpr std::string_view kCreated =
    R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "whatsapp:+14155550100"})";

twilio::Response answer(long status, std::string body) {
  twilio::Response response;
  response.http_status = status;
  response.body = std::move(body);
  response.request_sent = true;
  response.duration = milliseconds(12);
  return response;
}

const char* describe(twilio::Failure failure) {
  switch (failure) {
    case twilio::Failure::None: return "none";
    case twilio::Failure::Connect: return "could not connect";
    case twilio::Failure::Timeout: return "timed out";
    case twilio::Failure::Aborted: return "aborted";
    case twilio::Failure::Other: return "connection broke";
  }
  return "?";
}

twilio::Response transport_failure(twilio::Failure failure, bool sent) {
  twilio::Response response;
  response.failure = failure;
  response.error = describe(failure);
  response.request_sent = sent;
  return response;
}

// Attempt `number` of 5, with the sender's backoff policy (1 s doubling, 5 min cap).
Attempt attempt(int number, double draw = 1.0) {
  Attempt a;
  a.number = number;
  a.max_attempts = 5;
  a.jitter_draw = draw;
  return a;
}

twilio::Response too_many_requests() {
  return answer(429, R"({"code": 20429, "message": "Too Many Requests", "status": 429})");
}

TEST(SendDecision, CreatedIsSentWithTwiliosSidAndNothingElse) {
  const SendDecision d = decide_send(answer(201, std::string(kCreated)), attempt(1));
  EXPECT_EQ(d.step, NextStep::Sent);
  EXPECT_EQ(d.record_outcome(), "created");
  EXPECT_EQ(d.sid, "SM0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(d.error_code.has_value());
  EXPECT_TRUE(d.error_message.empty());
  EXPECT_EQ(d.retry_in, milliseconds(0));
}

TEST(SendDecision, RateLimitedIsRetriedAtTheBackoffOfItsAttempt) {
  // The retry falls at draw × min(5 min, 1 s × 2^(attempt-1)) after the
  // outcome is recorded: later attempts wait longer.
  EXPECT_EQ(decide_send(too_many_requests(), attempt(1, 1.0)).retry_in, milliseconds(1000));
  EXPECT_EQ(decide_send(too_many_requests(), attempt(2, 1.0)).retry_in, milliseconds(2000));
  EXPECT_EQ(decide_send(too_many_requests(), attempt(3, 0.5)).retry_in, milliseconds(2000));
  EXPECT_EQ(decide_send(too_many_requests(), attempt(4, 0.25)).retry_in, milliseconds(2000));
  EXPECT_EQ(decide_send(too_many_requests(), attempt(2, 0.0)).retry_in, milliseconds(0));

  const SendDecision d = decide_send(too_many_requests(), attempt(2, 1.0));
  EXPECT_EQ(d.step, NextStep::Retry);
  EXPECT_EQ(d.record_outcome(), "retrying");
  EXPECT_EQ(d.last_error, "HTTP 429 (Twilio error 20429)");
  // Not a failure: the API shows no error for a message still being tried.
  EXPECT_TRUE(d.error_message.empty());
  EXPECT_FALSE(d.error_code.has_value());
}

TEST(SendDecision, RetryTimeFollowsAConfiguredPolicy) {
  Attempt a = attempt(3, 1.0);
  a.policy.base = milliseconds(250);
  a.policy.cap = milliseconds(800);
  EXPECT_EQ(decide_send(too_many_requests(), a).retry_in, milliseconds(800));
  a.number = 2;
  EXPECT_EQ(decide_send(too_many_requests(), a).retry_in, milliseconds(500));
}

TEST(SendDecision, RetryableAnswersAreRetriedUntilTheLastAttemptThenFailWithTheirCode) {
  for (int n = 1; n < 5; ++n) {
    EXPECT_EQ(decide_send(too_many_requests(), attempt(n)).step, NextStep::Retry) << "attempt " << n;
  }
  const SendDecision last = decide_send(too_many_requests(), attempt(5));
  EXPECT_EQ(last.step, NextStep::Fail);
  EXPECT_EQ(last.record_outcome(), "failed");
  EXPECT_EQ(last.error_code, 20429);
  EXPECT_EQ(last.error_message, "gave up after 5 attempts; last: Too Many Requests");
  EXPECT_EQ(last.last_error, "HTTP 429 (Twilio error 20429)");
  EXPECT_EQ(last.retry_in, milliseconds(0));
  // A claim past the limit (the limit was lowered by a reload) gives up too.
  EXPECT_EQ(decide_send(too_many_requests(), attempt(9)).step, NextStep::Fail);
}

TEST(SendDecision, ServiceUnavailableIsRetried) {
  const SendDecision d = decide_send(answer(503, R"({"code": 20503, "message": "Service Unavailable"})"), attempt(1));
  EXPECT_EQ(d.step, NextStep::Retry);
  EXPECT_EQ(d.last_error, "HTTP 503 (Twilio error 20503)");
}

TEST(SendDecision, FourXxTheErrorTableCallsRetryableIsRetriedOthersFailAtOnce) {
  const SendDecision rate = decide_send(
      answer(400, R"({"code": 63018, "message": "Rate limit exceeded for the channel", "status": 400})"), attempt(1));
  EXPECT_EQ(rate.step, NextStep::Retry);
  EXPECT_EQ(rate.retry_in, milliseconds(1000));

  // A permanent refusal fails on the first attempt, with Twilio's code and
  // words: the API shows them as the message's error.
  const SendDecision invalid = decide_send(
      answer(400, R"({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400})"),
      attempt(1));
  EXPECT_EQ(invalid.step, NextStep::Fail);
  EXPECT_EQ(invalid.error_code, 21211);
  EXPECT_EQ(invalid.error_message, "The 'To' number is not a valid phone number.");
  EXPECT_EQ(invalid.last_error, "HTTP 400 (Twilio error 21211)");

  const SendDecision auth = decide_send(answer(401, R"({"code": 20003, "message": "Authenticate"})"), attempt(1));
  EXPECT_EQ(auth.step, NextStep::Fail);
  EXPECT_EQ(auth.error_code, 20003);

  // No JSON: failed with the status alone, no code made up.
  const SendDecision bare = decide_send(answer(404, "<html>not found</html>"), attempt(1));
  EXPECT_EQ(bare.step, NextStep::Fail);
  EXPECT_FALSE(bare.error_code.has_value());
  EXPECT_EQ(bare.error_message, "HTTP 404");
  EXPECT_EQ(bare.last_error, "HTTP 404");
}

TEST(SendDecision, ServerErrorsThatMayHaveCreatedTheMessageGoToReconciliation) {
  for (const long status : {500L, 502L, 504L}) {
    const SendDecision d = decide_send(answer(status, ""), attempt(1));
    EXPECT_EQ(d.step, NextStep::Reconcile) << status;
    EXPECT_EQ(d.record_outcome(), "unknown") << status;
    EXPECT_EQ(d.last_error, "HTTP " + std::to_string(status)) << status;
    EXPECT_EQ(d.retry_in, milliseconds(0)) << status;
    EXPECT_TRUE(d.error_message.empty()) << status;
  }
  // A 2xx without a SID: Twilio may hold a message we cannot name.
  EXPECT_EQ(decide_send(answer(201, "{}"), attempt(1)).step, NextStep::Reconcile);
}

TEST(SendDecision, UnknownIsNeverRetriedEvenOnTheLastAttempt) {
  // Giving up would say "failed" about a message Twilio may be delivering;
  // only reconciliation decides.
  const SendDecision d = decide_send(transport_failure(twilio::Failure::Timeout, true), attempt(5));
  EXPECT_EQ(d.step, NextStep::Reconcile);
  EXPECT_FALSE(d.error_code.has_value());
}

TEST(SendDecision, ConnectionErrorsBeforeTheRequestLeftAreRetriedAfterItLeftAreNot) {
  const SendDecision before = decide_send(transport_failure(twilio::Failure::Connect, false), attempt(1));
  EXPECT_EQ(before.step, NextStep::Retry);
  EXPECT_EQ(before.retry_in, milliseconds(1000));
  EXPECT_EQ(before.last_error, std::string("transport: ") + describe(twilio::Failure::Connect));
  EXPECT_EQ(before.transport_error, describe(twilio::Failure::Connect));

  const SendDecision timed_out_connecting = decide_send(transport_failure(twilio::Failure::Timeout, false), attempt(1));
  EXPECT_EQ(timed_out_connecting.step, NextStep::Retry);

  const SendDecision after = decide_send(transport_failure(twilio::Failure::Timeout, true), attempt(1));
  EXPECT_EQ(after.step, NextStep::Reconcile);
  EXPECT_EQ(after.last_error, std::string("transport: ") + describe(twilio::Failure::Timeout));
  EXPECT_EQ(after.transport_error, describe(twilio::Failure::Timeout));
}

TEST(SendDecision, NoAnswerAfterTheRequestLeftIsNeverSentAgainBlindly) {
  // Whatever broke after the request was written, the sender must not
  // retry: the message may exist at Twilio (never sent twice unknowingly).
  for (const twilio::Failure code : {twilio::Failure::Timeout, twilio::Failure::Other, twilio::Failure::Aborted}) {
    for (int n = 1; n <= 5; ++n) {
      const NextStep step = decide_send(transport_failure(code, true), attempt(n)).step;
      EXPECT_EQ(step, NextStep::Reconcile) << describe(code) << ", attempt " << n;
    }
  }
  for (long status = 200; status < 600; ++status) {
    if (status == 503 || (status >= 400 && status < 500)) continue;
    const SendDecision d = decide_send(answer(status, ""), attempt(1));
    EXPECT_NE(d.step, NextStep::Retry) << "HTTP " << status;
    EXPECT_NE(d.step, NextStep::Fail) << "HTTP " << status;
  }
}

TEST(SendDecision, AbortedTransfersAreRetriedOnlyIfTheyNeverLeft) {
  // A second SIGTERM aborts what is in flight.
  EXPECT_EQ(decide_send(transport_failure(twilio::Failure::Aborted, false), attempt(1)).step, NextStep::Retry);
  EXPECT_EQ(decide_send(transport_failure(twilio::Failure::Aborted, true), attempt(1)).step, NextStep::Reconcile);
}

TEST(SendDecision, AHandleLibcurlRefusedIsRetriedLikeAConnectionThatNeverOpened) {
  const SendDecision d = decide_send(never_sent("libcurl: cannot set up a request handle"), attempt(2, 1.0));
  EXPECT_EQ(d.step, NextStep::Retry);
  EXPECT_EQ(d.retry_in, milliseconds(2000));
  EXPECT_EQ(d.last_error, "transport: libcurl: cannot set up a request handle");
  EXPECT_EQ(decide_send(never_sent("refused"), attempt(5)).step, NextStep::Fail);
}

TEST(SendDecision, RefusedBeforeAskingTwilioFailsWithTheReasonAndNoCode) {
  const SendDecision d = refused("tenant has no auth token");
  EXPECT_EQ(d.step, NextStep::Fail);
  EXPECT_EQ(d.record_outcome(), "failed");
  EXPECT_EQ(d.outcome, twilio::Outcome::Rejected);
  EXPECT_FALSE(d.error_code.has_value());
  EXPECT_EQ(d.error_message, "tenant has no auth token");
  EXPECT_EQ(d.last_error, "tenant has no auth token");
}

TEST(SendDispatch, OptedOutRecipientsAreCanceledNotSentNorFailed) {
  EXPECT_EQ(plan_dispatch(ClaimOutcome::CanceledOptedOut, true, true).step, DispatchStep::Cancel);
  // Canceled by the claim already: not turned into a failure by the tenant's setup either.
  EXPECT_EQ(plan_dispatch(ClaimOutcome::CanceledOptedOut, false, false).step, DispatchStep::Cancel);
}

TEST(SendDispatch, ATenantThatCannotSendFailsWithoutARequest) {
  const DispatchPlan no_sender = plan_dispatch(ClaimOutcome::Dispatching, false, true);
  EXPECT_EQ(no_sender.step, DispatchStep::Refuse);
  EXPECT_EQ(no_sender.why, "tenant has neither a WhatsApp sender nor a Messaging Service");
  const DispatchPlan no_token = plan_dispatch(ClaimOutcome::Dispatching, true, false);
  EXPECT_EQ(no_token.step, DispatchStep::Refuse);
  EXPECT_EQ(no_token.why, "tenant has no auth token");
  EXPECT_EQ(plan_dispatch(ClaimOutcome::Dispatching, true, true).step, DispatchStep::Send);
}

}  // namespace
}  // namespace wagate::sender
