// reconcile_test.cpp — an unknown send against Twilio's list: found, sent again, given up, or left unknown.
//
// Which listed message matches a send is twilio_client_test's business
// (find_lost_send); this file holds the job's rules around it: when a list
// is complete enough to prove anything, and what each answer leads to.
#include "maint/reconcile.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <ostream>
#include <string>
#include <vector>

namespace wagate::maint {

// Failure messages name the step, not its bytes.
void PrintTo(PageStep step, std::ostream* out) {
  *out << (step == PageStep::Complete ? "complete" : step == PageStep::NextPage ? "next_page" : "inconclusive");
}
void PrintTo(Resolution resolution, std::ostream* out) {
  switch (resolution) {
    case Resolution::Found: *out << "found"; break;
    case Resolution::LookAgainLater: *out << "look_again_later"; break;
    case Resolution::SendAgain: *out << "send_again"; break;
    case Resolution::GiveUp: *out << "give_up"; break;
  }
}

namespace {

using Clock = std::chrono::system_clock;
using std::chrono::minutes;

constexpr std::string_view kTo = "whatsapp:+15550001111";
constexpr std::string_view kFrom = "whatsapp:+15559990000";
constexpr std::string_view kBody = "Your code is 1234";
constexpr std::string_view kNextUri = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1";

// The send was created at kCreated; the lookup reads back to a minute before.
const Clock::time_point kCreated = Clock::from_time_t(1700541300);  // Tue, 21 Nov 2023 04:35:00 +0000
const Clock::time_point kNotBefore = kCreated - minutes(1);

std::string rfc2822(Clock::time_point when) {
  const std::time_t t = Clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return text;
}

std::string listed_json(std::string_view sid, Clock::time_point created, std::string_view body = kBody,
                        std::string_view status = "delivered") {
  return R"({"sid": ")" + std::string(sid) + R"(", "status": ")" + std::string(status) + R"(", "to": ")" +
         std::string(kTo) + R"(", "from": ")" + std::string(kFrom) + R"(", "body": ")" + std::string(body) +
         R"(", "direction": "outbound-api", "date_created": ")" + rfc2822(created) + R"("})";
}

twilio::Response page(const std::vector<std::string>& messages, std::string_view next_page_uri = "") {
  std::string body = R"({"messages": [)";
  for (size_t i = 0; i < messages.size(); ++i) body += (i > 0 ? "," : "") + messages[i];
  const std::string next = next_page_uri.empty() ? std::string("null") : '"' + std::string(next_page_uri) + '"';
  body += R"(], "next_page_uri": )" + next + "}";
  twilio::Response response;
  response.http_status = 200;
  response.body = std::move(body);
  response.request_sent = true;
  return response;
}

UnknownSend unknown_send(int attempts, bool window_passed) {
  UnknownSend message;
  message.send.to = std::string(kTo);
  message.send.from = std::string(kFrom);
  message.send.body = std::string(kBody);
  message.send.not_before = kNotBefore;
  message.attempts = attempts;
  message.window_passed = window_passed;
  return message;
}

// ---- reading the list ----

TEST(ReconcilePages, APageThatReachesBackPastTheSendCompletesTheList) {
  std::vector<twilio::MessageResource> listed;
  const PageRead read = read_page(
      page({listed_json("SM2", kCreated + minutes(1)), listed_json("SM1", kNotBefore - minutes(5))}, kNextUri),
      kNotBefore, 1, 5, listed);
  // Newest first: the pages after this one hold only older messages.
  EXPECT_EQ(read.step, PageStep::Complete);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].sid, "SM2");
}

TEST(ReconcilePages, TheLastPageCompletesTheList) {
  std::vector<twilio::MessageResource> listed;
  EXPECT_EQ(read_page(page({listed_json("SM2", kCreated)}), kNotBefore, 1, 5, listed).step, PageStep::Complete);
  EXPECT_EQ(read_page(page({}), kNotBefore, 1, 5, listed).step, PageStep::Complete);
}

TEST(ReconcilePages, APageStillNewerThanTheSendAsksForTheNextOne) {
  std::vector<twilio::MessageResource> listed;
  const twilio::Response newer = page({listed_json("SM9", kCreated + minutes(3))}, kNextUri);
  const PageRead read = read_page(newer, kNotBefore, 1, 5, listed);
  EXPECT_EQ(read.step, PageStep::NextPage);
  EXPECT_EQ(read.next_page_uri, kNextUri);
  // A message without a creation time cannot say how far back the page reaches.
  twilio::Response undated = page({R"({"sid": "SM8", "direction": "outbound-api"})"}, kNextUri);
  EXPECT_EQ(read_page(undated, kNotBefore, 2, 5, listed).step, PageStep::NextPage);
  EXPECT_EQ(listed.size(), 2U);  // both pages' messages are kept for matching
}

TEST(ReconcilePages, AListTooLongToReachTheSendProvesNothing) {
  std::vector<twilio::MessageResource> listed;
  const twilio::Response newer = page({listed_json("SM9", kCreated + minutes(3))}, kNextUri);
  const PageRead read = read_page(newer, kNotBefore, 5, 5, listed);
  EXPECT_EQ(read.step, PageStep::Inconclusive);
  EXPECT_EQ(read.problem, "more than 500 messages since the send: the list is inconclusive");
}

TEST(ReconcilePages, TwilioUnreachableOrAnswerNotAListProvesNothing) {
  std::vector<twilio::MessageResource> listed;
  twilio::Response refused;
  refused.failure = twilio::Failure::Connect;
  refused.error = "Failed to connect";
  PageRead read = read_page(refused, kNotBefore, 1, 5, listed);
  EXPECT_EQ(read.step, PageStep::Inconclusive);
  EXPECT_EQ(read.problem, "transport: Failed to connect");

  twilio::Response timed_out = page({});
  timed_out.failure = twilio::Failure::Timeout;
  timed_out.error = "timed out";
  EXPECT_EQ(read_page(timed_out, kNotBefore, 1, 5, listed).step, PageStep::Inconclusive);

  for (const long status : {401L, 429L, 500L, 503L}) {
    twilio::Response error = page({});
    error.http_status = status;
    read = read_page(error, kNotBefore, 1, 5, listed);
    EXPECT_EQ(read.step, PageStep::Inconclusive) << status;
    EXPECT_EQ(read.problem, "HTTP " + std::to_string(status));
  }
  twilio::Response html = page({});
  html.body = "<html>maintenance</html>";
  read = read_page(html, kNotBefore, 1, 5, listed);
  EXPECT_EQ(read.step, PageStep::Inconclusive);
  EXPECT_EQ(read.problem, "the answer is not a message list");
  EXPECT_TRUE(listed.empty());
}

// ---- what the list means for the message ----

TEST(ReconcileUnknown, FoundAtTwilioItGetsTheListedSidAndStatus) {
  std::vector<twilio::MessageResource> listed;
  ASSERT_EQ(read_page(page({listed_json("SM2", kCreated + minutes(1), kBody, "read")}), kNotBefore, 1, 5, listed).step,
            PageStep::Complete);
  // Inside the window or after it, on any attempt: a match is the message.
  for (const bool window_passed : {false, true}) {
    const UnknownDecision decision = resolve_unknown(unknown_send(5, window_passed), &listed, {}, 5);
    EXPECT_EQ(decision.resolution, Resolution::Found);
    ASSERT_NE(decision.found, nullptr);
    EXPECT_EQ(decision.found->sid, "SM2");
    EXPECT_EQ(decision.found->status, "read");
  }
}

TEST(ReconcileUnknown, FoundOnALaterPage) {
  std::vector<twilio::MessageResource> listed;
  const twilio::Response first = page({listed_json("SM9", kCreated + minutes(9), "other")}, kNextUri);
  ASSERT_EQ(read_page(first, kNotBefore, 1, 5, listed).step, PageStep::NextPage);
  ASSERT_EQ(read_page(page({listed_json("SM2", kCreated), listed_json("SM1", kNotBefore - minutes(1))}, kNextUri),
                      kNotBefore, 2, 5, listed)
                .step,
            PageStep::Complete);
  const UnknownDecision decision = resolve_unknown(unknown_send(1, true), &listed, {}, 5);
  ASSERT_EQ(decision.resolution, Resolution::Found);
  EXPECT_EQ(decision.found->sid, "SM2");
}

TEST(ReconcileUnknown, TwilioUnreachableLeavesItUnknownWhateverItsAgeAndAttempts) {
  // Neither sent again (it may exist) nor failed (it may be delivered).
  for (const int attempts : {1, 5, 9}) {
    for (const bool window_passed : {false, true}) {
      const UnknownDecision decision = resolve_unknown(unknown_send(attempts, window_passed), nullptr, {}, 5);
      EXPECT_EQ(decision.resolution, Resolution::LookAgainLater) << attempts << " " << window_passed;
      EXPECT_EQ(decision.found, nullptr);
    }
  }
}

TEST(ReconcileUnknown, NotListedInsideTheWindowIsLookedAtAgainNotResent) {
  // Twilio may not list a message it has just accepted.
  const std::vector<twilio::MessageResource> listed;
  EXPECT_EQ(resolve_unknown(unknown_send(1, false), &listed, {}, 5).resolution, Resolution::LookAgainLater);
  EXPECT_EQ(resolve_unknown(unknown_send(5, false), &listed, {}, 5).resolution, Resolution::LookAgainLater);
}

TEST(ReconcileUnknown, NotListedAfterTheWindowIsSafeToSendAgain) {
  std::vector<twilio::MessageResource> listed;
  // Older messages and other texts to the same number are not this one.
  ASSERT_EQ(read_page(page({listed_json("SM3", kCreated + minutes(2), "another text"),
                            listed_json("SM1", kNotBefore - minutes(3))}),
                      kNotBefore, 1, 5, listed)
                .step,
            PageStep::Complete);
  const UnknownDecision decision = resolve_unknown(unknown_send(2, true), &listed, {}, 5);
  EXPECT_EQ(decision.resolution, Resolution::SendAgain);
  EXPECT_EQ(decision.why, "reconcile: not in Twilio's message list after the window; sent again");
}

TEST(ReconcileUnknown, AListedSidAnotherMessageHoldsIsNotThisOne) {
  std::vector<twilio::MessageResource> listed;
  ASSERT_EQ(read_page(page({listed_json("SM2", kCreated)}), kNotBefore, 1, 5, listed).step, PageStep::Complete);
  EXPECT_EQ(resolve_unknown(unknown_send(1, true), &listed, {"SM2"}, 5).resolution, Resolution::SendAgain);
}

TEST(ReconcileUnknown, NotListedAfterTheWindowWithAttemptsUsedUpFails) {
  const std::vector<twilio::MessageResource> listed;
  const UnknownDecision decision = resolve_unknown(unknown_send(5, true), &listed, {}, 5);
  EXPECT_EQ(decision.resolution, Resolution::GiveUp);
  EXPECT_EQ(decision.why, "not created at Twilio after 5 attempts (the last one's answer was lost)");
  EXPECT_EQ(resolve_unknown(unknown_send(4, true), &listed, {}, 5).resolution, Resolution::SendAgain);
  // send_max_attempts lowered since: given up too.
  EXPECT_EQ(resolve_unknown(unknown_send(4, true), &listed, {}, 3).resolution, Resolution::GiveUp);
}

}  // namespace
}  // namespace wagate::maint
