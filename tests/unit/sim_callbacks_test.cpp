// sim_callbacks_test.cpp — what the simulator posts: Twilio's parameter sets, signed so that the gateway's check accepts them.
#include "sim/callbacks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "wagate/twilio_signature.hpp"

namespace wagate::sim {
namespace {

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

Message message_to(std::string to) {
  Message message;
  message.sid = "SM0123456789abcdef0123456789abcdef";
  message.account_sid = kSid;
  message.from = "whatsapp:+14155238886";
  message.to = std::move(to);
  message.status_callback = "https://127.0.0.1:8443/api/v1/whatsapp/status";
  return message;
}

std::vector<std::string> names(const form::Params& params) {
  std::vector<std::string> out;
  for (const form::Param& param : params.items()) out.push_back(param.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string value(const form::Params& params, std::string_view name) {
  return std::string(params.first(name).value_or("<absent>"));
}

TEST(SimCallbacks, StatusCallbackHasTwiliosWhatsAppParameterSet) {
  const form::Params params = status_callback_params(message_to("whatsapp:+12025550100"), CallbackStep{"delivered", 0, {}});
  EXPECT_EQ(names(params), (std::vector<std::string>{"AccountSid", "ApiVersion", "ChannelInstallSid", "ChannelPrefix",
                                                     "ChannelToAddress", "From", "MessageSid", "MessageStatus",
                                                     "SmsSid", "SmsStatus", "To"}));
  EXPECT_EQ(value(params, "MessageStatus"), "delivered");
  EXPECT_EQ(value(params, "SmsStatus"), "delivered");
  EXPECT_EQ(value(params, "MessageSid"), "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(value(params, "SmsSid"), "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(value(params, "AccountSid"), kSid);
  EXPECT_EQ(value(params, "To"), "whatsapp:+12025550100");
  EXPECT_EQ(value(params, "ChannelToAddress"), "+12025550100");
  EXPECT_EQ(value(params, "ChannelPrefix"), "whatsapp");
  EXPECT_EQ(value(params, "ApiVersion"), "2010-04-01");
  const std::string install = value(params, "ChannelInstallSid");
  EXPECT_EQ(install.size(), 34U);
  EXPECT_EQ(install.substr(0, 2), "XE");
  EXPECT_EQ(install, channel_install_sid(kSid));  // stable per account
  EXPECT_NE(install, channel_install_sid("ACffffffffffffffffffffffffffffffff"));
}

TEST(SimCallbacks, FailureAddsErrorCodeAndMessage) {
  const form::Params params =
      status_callback_params(message_to("whatsapp:+12025550105"), CallbackStep{"failed", 63016, "outside the window"});
  EXPECT_EQ(value(params, "ErrorCode"), "63016");
  EXPECT_EQ(value(params, "ErrorMessage"), "outside the window");
  EXPECT_EQ(params.size(), 13U);
}

TEST(SimCallbacks, MessagingServiceMessageNamesItsServiceAndSender) {
  Message message = message_to("whatsapp:+12025550100");
  message.from.clear();
  message.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  const form::Params params = status_callback_params(message, CallbackStep{"sent", 0, {}});
  EXPECT_EQ(value(params, "MessagingServiceSid"), "MG0123456789abcdef0123456789abcdef");
  EXPECT_EQ(value(params, "From"), kServiceSender);
}

// The whole point: what the simulator signs is what the gateway's own check
// (the one that guards the real webhook endpoints) accepts.
TEST(SimCallbacks, SignedPostPassesTheGatewaysSignatureCheck) {
  const form::Params params = status_callback_params(message_to("whatsapp:+12025550100"), CallbackStep{"read", 0, {}});
  const std::string url = "https://127.0.0.1:8443/api/v1/whatsapp/status?tenant=a%20b";
  const SignedPost post = sign_post(url, params, kToken, "token-1");
  EXPECT_EQ(post.url, url);
  EXPECT_EQ(post.idempotency_token, "token-1");

  const form::ParseResult received = form::parse(post.body);  // what the receiver decodes
  ASSERT_TRUE(received.ok()) << received.error;
  EXPECT_EQ(received.params.size(), params.size());
  twilio::SignedRequest request{post.url, &received.params, post.body, post.signature};
  EXPECT_EQ(twilio::check_signature(request, kToken), twilio::SignatureCheck::Ok);
  EXPECT_EQ(twilio::check_signature(request, "another-token"), twilio::SignatureCheck::Mismatch);

  // Signed over that exact URL: another URL does not match.
  request.url = "https://127.0.0.1:8443/api/v1/whatsapp/status";
  EXPECT_EQ(twilio::check_signature(request, kToken), twilio::SignatureCheck::Mismatch);
}

TEST(SimCallbacks, FragmentIsNeitherSentNorSigned) {
  const form::Params params = status_callback_params(message_to("whatsapp:+12025550100"), CallbackStep{"sent", 0, {}});
  const SignedPost post = sign_post("https://gw.test/status?x=1#rc=2&rp=all", params, kToken, "t");
  EXPECT_EQ(post.url, "https://gw.test/status?x=1");
  const form::ParseResult received = form::parse(post.body);
  const twilio::SignedRequest request{post.url, &received.params, post.body, post.signature};
  EXPECT_EQ(twilio::check_signature(request, kToken), twilio::SignatureCheck::Ok);
}

TEST(SimCallbacks, InboundWebhookHasTwiliosParameters) {
  InboundMessage inbound;
  inbound.account_sid = kSid;
  inbound.from = "+447700900123";  // the whatsapp: prefix is added
  inbound.to = "whatsapp:+14155238886";
  inbound.body = "hi & bye";
  inbound.profile_name = "Ann";
  inbound.extra.add("ButtonPayload", "yes");
  inbound.extra.add("NumMedia", "1");  // replaces the standard value
  inbound.extra.add("MediaUrl0", "https://media.test/a.jpg");
  const std::string sid = new_message_sid();
  const form::Params params = inbound_params(inbound, sid);

  EXPECT_EQ(value(params, "MessageSid"), sid);
  EXPECT_EQ(value(params, "SmsMessageSid"), sid);
  EXPECT_EQ(value(params, "SmsSid"), sid);
  EXPECT_EQ(value(params, "AccountSid"), kSid);
  EXPECT_EQ(value(params, "From"), "whatsapp:+447700900123");
  EXPECT_EQ(value(params, "To"), "whatsapp:+14155238886");
  EXPECT_EQ(value(params, "Body"), "hi & bye");
  EXPECT_EQ(value(params, "NumSegments"), "1");
  EXPECT_EQ(value(params, "ProfileName"), "Ann");
  EXPECT_EQ(value(params, "WaId"), "447700900123");
  EXPECT_EQ(value(params, "SmsStatus"), "received");
  EXPECT_EQ(value(params, "ApiVersion"), "2010-04-01");
  EXPECT_EQ(value(params, "ButtonPayload"), "yes");
  EXPECT_EQ(params.all("NumMedia"), (std::vector<std::string_view>{"1"}));
  EXPECT_EQ(value(params, "MediaUrl0"), "https://media.test/a.jpg");

  const SignedPost post = sign_post("https://127.0.0.1:8443/api/v1/whatsapp/webhook", params, kToken, sid);
  const form::ParseResult received = form::parse(post.body);
  const twilio::SignedRequest request{post.url, &received.params, post.body, post.signature};
  EXPECT_EQ(twilio::check_signature(request, kToken), twilio::SignatureCheck::Ok);
}

TEST(SimCallbacks, MessageSidShape) {
  const std::string a = new_message_sid();
  const std::string b = new_message_sid();
  EXPECT_EQ(a.size(), 34U);
  EXPECT_EQ(a.substr(0, 2), "SM");
  EXPECT_TRUE(std::all_of(a.begin() + 2, a.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }));
  EXPECT_NE(a, b);
}

// Twilio's default policy `ct`: retry only when no connection was made.
TEST(SimCallbacks, OnlyConnectionFailuresAreRetried) {
  EXPECT_TRUE(is_connect_failure(CURLE_COULDNT_CONNECT));
  EXPECT_TRUE(is_connect_failure(CURLE_COULDNT_RESOLVE_HOST));
  EXPECT_TRUE(is_connect_failure(CURLE_SSL_CONNECT_ERROR));
  EXPECT_FALSE(is_connect_failure(CURLE_OK));
  EXPECT_FALSE(is_connect_failure(CURLE_RECV_ERROR));
  EXPECT_FALSE(is_connect_failure(CURLE_GOT_NOTHING));
}

}  // namespace
}  // namespace wagate::sim
