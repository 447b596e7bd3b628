// twilio_client_test.cpp — Messages requests as Twilio expects them, answers classified, lost sends found in a list.
#include "wagate/twilio_client.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "twilio_fixtures.hpp"
#include "wagate/crypto.hpp"
#include "wagate/form.hpp"

namespace wagate::twilio {
namespace {

using std::chrono::milliseconds;

std::vector<std::pair<std::string, std::string>> pairs(const form::Params& params) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& param : params.items()) out.emplace_back(param.name, param.value);
  return out;
}

// ---- requests ----

TEST(TwilioRequest, CreateGoesToTheAccountsMessagesResource) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  // A configured base with a trailing slash must not double it.
  EXPECT_EQ(messages_url("http://127.0.0.1:8080/", kAccountSid),
            "http://127.0.0.1:8080/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
}

TEST(TwilioRequest, BasicAuthIsAccountSidColonToken) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  EXPECT_EQ(request.authorization.reveal(),
            "Basic " + crypto::base64("AC0123456789abcdef0123456789abcdef:tok3n-secret"));
  EXPECT_EQ(request.url.find("tok3n"), std::string::npos);
  EXPECT_EQ(request.body.find("tok3n"), std::string::npos);
}

TEST(TwilioRequest, TextMessageFields) {
  const auto params = create_params(text_message());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"To", "whatsapp:+15550001111"},
      {"From", "whatsapp:+15559990000"},
      {"Body", "Hello + welcome & more"},
      {"StatusCallback", "https://wa.example.com/api/v1/whatsapp/status"},
  };
  EXPECT_EQ(pairs(params), expected);
}

TEST(TwilioRequest, ValidityPeriodIsSentInSecondsWhenSet) {
  OutboundMessage message = text_message();
  message.validity_period_s = 3600;
  const auto params = create_params(message);
  EXPECT_EQ(params.first("ValidityPeriod"), "3600");
  // Unset: left out, so Twilio applies its own default (36000 s).
  EXPECT_FALSE(create_params(text_message()).first("ValidityPeriod").has_value());
}

TEST(TwilioValidity, WholeSecondsLeftCappedAtTwilioMaximum) {
  EXPECT_EQ(validity_period(3600.0), 3600);
  // Rounded down: Twilio must never hold the message past expires_at.
  EXPECT_EQ(validity_period(3599.9), 3599);
  EXPECT_EQ(validity_period(1.0), 1);
  EXPECT_EQ(validity_period(36000.0), kMaxValidityPeriodS);
  EXPECT_EQ(validity_period(7.0 * 24 * 3600), kMaxValidityPeriodS);
  EXPECT_EQ(kMaxValidityPeriodS, 36000);
}

TEST(TwilioValidity, UnderOneSecondLeftIsExpired) {
  EXPECT_EQ(validity_period(0.999), std::nullopt);
  EXPECT_EQ(validity_period(0.0), std::nullopt);
  EXPECT_EQ(validity_period(-5.0), std::nullopt);
}

TEST(TwilioRequest, BodyIsFormEncodedSoPlusAndAmpersandSurvive) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  const auto parsed = form::parse(request.body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.params.first("To"), "whatsapp:+15550001111");
  EXPECT_EQ(parsed.params.first("Body"), "Hello + welcome & more");
  EXPECT_NE(request.body.find("To=whatsapp%3A%2B15550001111"), std::string::npos) << request.body;
}

TEST(TwilioRequest, WhatsappPrefixIsAddedWhenMissing) {
  OutboundMessage message = text_message();
  message.to = "+15550001111";
  message.from = "+15559990000";
  const auto params = create_params(message);
  EXPECT_EQ(params.first("To"), "whatsapp:+15550001111");
  EXPECT_EQ(params.first("From"), "whatsapp:+15559990000");
}

TEST(TwilioRequest, MessagingServiceReplacesFrom) {
  OutboundMessage message = text_message();
  message.from.clear();
  message.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  const auto params = create_params(message);
  EXPECT_EQ(params.first("MessagingServiceSid"), "MG0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(params.first("From").has_value());
}

TEST(TwilioRequest, TemplateAndMediaFields) {
  OutboundMessage message;
  message.to = "whatsapp:+15550001111";
  message.from = "whatsapp:+15559990000";
  message.content_sid = "HX0123456789abcdef0123456789abcdef";
  message.content_variables = R"({"1":"Ada","2":"12:00"})";
  message.media_urls = {"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.pdf"};
  const auto params = create_params(message);
  EXPECT_FALSE(params.first("Body").has_value());
  EXPECT_EQ(params.first("ContentSid"), "HX0123456789abcdef0123456789abcdef");
  EXPECT_EQ(params.first("ContentVariables"), R"({"1":"Ada","2":"12:00"})");
  const auto media = params.all("MediaUrl");
  ASSERT_EQ(media.size(), 2U);
  EXPECT_EQ(media[0], "https://cdn.example.com/a.jpg");
  EXPECT_EQ(media[1], "https://cdn.example.com/b.pdf");
  // No callback configured: the parameter is left out, not sent empty.
  EXPECT_FALSE(params.first("StatusCallback").has_value());
}

TEST(TwilioRequest, StatusCallbackFromConfigElsePublicBaseElseNone) {
  EXPECT_EQ(status_callback_url("https://cb.example.com/s", "https://wa.example.com"), "https://cb.example.com/s");
  EXPECT_EQ(status_callback_url("", "https://wa.example.com"), "https://wa.example.com/api/v1/whatsapp/status");
  EXPECT_EQ(status_callback_url("", ""), "");
}

TEST(TwilioRequest, FetchAndListForReconciliation) {
  const Request fetch = fetch_message("https://api.twilio.com", credentials(), "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(fetch.method, "GET");
  EXPECT_EQ(fetch.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/"
                       "SM0123456789abcdef0123456789abcdef.json");

  ListFilter filter;
  filter.to = "+15550001111";
  filter.from = "whatsapp:+15559990000";
  filter.date_sent_after = std::chrono::system_clock::from_time_t(1700541300);  // 2023-11-21 04:35:00 UTC
  const Request list = list_messages("https://api.twilio.com", credentials(), filter);
  EXPECT_EQ(list.url,
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
            "?To=whatsapp%3A%2B15550001111&From=whatsapp%3A%2B15559990000&DateSent%3E=2023-11-21T04%3A35%3A00Z"
            "&PageSize=50");
  EXPECT_FALSE(list.authorization.empty());
}

TEST(TwilioRequest, NextPageStaysOnTheAccountsPath) {
  const auto next = next_page("https://api.twilio.com/", credentials(),
                              "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1&PageToken=PA1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
                       "Messages.json?Page=1&PageToken=PA1");
  // Credentials are never sent to a path (or host) the page names otherwise.
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(), "https://evil.example/x").has_value());
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(),
                         "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json")
                   .has_value());
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(),
                         "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/../../x")
                   .has_value());
}

// ---- answers ----

Response answer(long status, std::string body) {
  Response response;
  response.http_status = status;
  response.body = std::move(body);
  response.request_sent = true;
  return response;
}

Response transport_failure(Failure failure, bool sent) {
  Response response;
  response.failure = failure;
  response.error = "what libcurl said";
  response.request_sent = sent;
  return response;
}

TEST(TwilioClassify, CreatedCarriesTheSid) {
  const SendResult result = classify_create(answer(201, std::string(kCreated)));
  EXPECT_EQ(result.outcome, Outcome::Created);
  EXPECT_EQ(result.sid, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(result.twilio_status, "queued");
}

TEST(TwilioClassify, ValidationErrorIsRejectedWithTwiliosCode) {
  const SendResult result = classify_create(answer(
      400, R"({"code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})"));
  EXPECT_EQ(result.outcome, Outcome::Rejected);
  EXPECT_EQ(result.error_code, 21211);
  EXPECT_EQ(result.error_message, "The 'To' number is not a valid phone number.");
}

TEST(TwilioClassify, AuthenticationFailureIsRejectedNotRetried) {
  const SendResult result =
      classify_create(answer(401, R"({"code": 20003, "message": "Authenticate", "status": 401})"));
  EXPECT_EQ(result.outcome, Outcome::Rejected);
  EXPECT_EQ(result.error_code, 20003);
}

TEST(TwilioClassify, TooManyRequestsAndUnavailableAreRetryable) {
  const SendResult too_many =
      classify_create(answer(429, R"({"code": 20429, "message": "Too Many Requests", "status": 429})"));
  EXPECT_EQ(too_many.outcome, Outcome::Retryable);
  EXPECT_EQ(too_many.error_code, 20429);
  EXPECT_EQ(classify_create(answer(429, "")).outcome, Outcome::Retryable);
  // A 4xx whose code the error table calls retryable (a rate limit) is
  // retried with backoff; one it does not know, or knows as final, is not.
  EXPECT_EQ(classify_create(answer(400, R"({"code": 63017, "message": "Rate limit", "status": 400})")).outcome,
            Outcome::Retryable);
  EXPECT_EQ(classify_create(answer(400, R"({"code": 21211, "message": "Invalid To", "status": 400})")).outcome,
            Outcome::Rejected);
  EXPECT_EQ(classify_create(answer(400, R"({"code": 99999, "message": "New", "status": 400})")).outcome,
            Outcome::Rejected);
  EXPECT_EQ(classify_create(answer(503, R"({"code": 20503, "message": "Service Unavailable"})")).outcome,
            Outcome::Retryable);
  EXPECT_EQ(classify_create(answer(503, "<html>upstream down</html>")).outcome, Outcome::Retryable);
}

TEST(TwilioClassify, OtherServerErrorsMayHaveCreatedTheMessage) {
  EXPECT_EQ(classify_create(answer(500, R"({"code": 20500, "message": "Internal Server Error"})")).outcome,
            Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(502, "")).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(504, "")).outcome, Outcome::Unknown);
}

TEST(TwilioClassify, SuccessWithoutASidIsUnknown) {
  EXPECT_EQ(classify_create(answer(201, "not json")).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(200, "{}")).outcome, Outcome::Unknown);
}

TEST(TwilioClassify, FailuresBeforeTheRequestLeftAreRetryable) {
  EXPECT_EQ(classify_create(transport_failure(Failure::Connect, false)).outcome, Outcome::Retryable);
  // A connect timeout: curl never got past connecting.
  EXPECT_EQ(classify_create(transport_failure(Failure::Timeout, false)).outcome, Outcome::Retryable);
  EXPECT_EQ(classify_create(transport_failure(Failure::Aborted, false)).outcome, Outcome::Retryable);
}

TEST(TwilioClassify, FailuresAfterTheRequestLeftAreUnknown) {
  EXPECT_EQ(classify_create(transport_failure(Failure::Timeout, true)).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(transport_failure(Failure::Other, true)).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(transport_failure(Failure::Aborted, true)).outcome, Outcome::Unknown);
  const SendResult result = classify_create(transport_failure(Failure::Timeout, true));
  EXPECT_NE(result.error_message.find("transport"), std::string::npos);
}

TEST(TwilioParse, MessagePageWithNextPage) {
  const auto page = parse_message_page(
      R"({"messages": [)" + std::string(kCreated) +
      R"(, {"sid": "SMffffffffffffffffffffffffffffffff", "status": "failed", "error_code": 63016,
            "error_message": "outside the window", "date_created": "Mon, 20 Nov 2023 23:59:59 -0500"}],
          "next_page_uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1"})");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->messages.size(), 2U);
  EXPECT_EQ(page->messages[0].sid, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(page->messages[0].direction, "outbound-api");
  EXPECT_FALSE(page->messages[0].error_code.has_value());
  EXPECT_EQ(page->messages[1].error_code, 63016);
  EXPECT_EQ(page->messages[1].date_created, std::chrono::system_clock::from_time_t(1700542799));
  EXPECT_EQ(page->next_page_uri,
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1");
  EXPECT_FALSE(parse_message_page(R"({"messages": 5})").has_value());
  EXPECT_FALSE(parse_message_page("<html>").has_value());
}

// ---- finding a lost send in Twilio's list ----

MessageResource listed(std::string sid, std::string to, std::string from, std::string body, time_t created) {
  MessageResource message;
  message.sid = std::move(sid);
  message.to = std::move(to);
  message.from = std::move(from);
  message.body = std::move(body);
  message.direction = "outbound-api";
  message.status = "delivered";
  message.date_created = std::chrono::system_clock::from_time_t(created);
  return message;
}

TEST(TwilioLostSend, FindsTheEarliestMatchingMessageNotHeldByAnother) {
  LostSend send;
  send.to = "+15550001111";
  send.from = "whatsapp:+15559990000";
  send.body = "Your code is 1234";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  const std::vector<MessageResource> page = {
      listed("SM4", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 1300),
      listed("SM3", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 1200),
      listed("SM2", "whatsapp:+15550001111", "whatsapp:+15559990000", "Other text", 1100),
      listed("SM1", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 900),
  };
  const MessageResource* found = find_lost_send(send, page, {});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sid, "SM3");  // SM1 is older than the send, SM2 another text
  // SM3 is already another message's SID: the next candidate is this one.
  found = find_lost_send(send, page, {"SM3"});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sid, "SM4");
  EXPECT_EQ(find_lost_send(send, page, {"SM3", "SM4"}), nullptr);
}

TEST(TwilioLostSend, OtherRecipientsSendersAndInboundDoNotMatch) {
  LostSend send;
  send.to = "whatsapp:+15550001111";
  send.from = "whatsapp:+15559990000";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  std::vector<MessageResource> page = {
      listed("SM1", "whatsapp:+15550002222", "whatsapp:+15559990000", "", 1100),
      listed("SM2", "whatsapp:+15550001111", "whatsapp:+15558880000", "", 1100),
      listed("SM3", "whatsapp:+15550001111", "whatsapp:+15559990000", "", 1100),
  };
  page[2].direction = "inbound";
  EXPECT_EQ(find_lost_send(send, page, {}), nullptr);
}

TEST(TwilioLostSend, MessagingServiceSendsMatchOnTheService) {
  LostSend send;
  send.to = "whatsapp:+15550001111";
  send.messaging_service_sid = "MG01";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  std::vector<MessageResource> page = {listed("SM1", "whatsapp:+15550001111", "whatsapp:+15559990000", "x", 1100)};
  EXPECT_EQ(find_lost_send(send, page, {}), nullptr);
  page[0].messaging_service_sid = "MG01";
  EXPECT_NE(find_lost_send(send, page, {}), nullptr);
}

}  // namespace
}  // namespace wagate::twilio
