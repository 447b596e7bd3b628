// inbound_message_test.cpp — opt-out keywords and the stored record of an inbound message.
#include "inbound/inbound_message.hpp"

#include <gtest/gtest.h>

#include "wagate/json.hpp"

namespace wagate::inbound {
namespace {

const std::vector<std::string> kOut = {"STOP", "UNSUBSCRIBE"};
const std::vector<std::string> kIn = {"START"};

TEST(InboundMessage, KeywordsMatchWholeTrimmedBodyCaseInsensitively) {
  EXPECT_EQ(contact_action("stop", kOut, kIn), "opt_out");
  EXPECT_EQ(contact_action("  Unsubscribe\n", kOut, kIn), "opt_out");
  EXPECT_EQ(contact_action("START", kOut, kIn), "opt_in");
  EXPECT_EQ(contact_action("please stop", kOut, kIn), "");
  EXPECT_EQ(contact_action("", kOut, kIn), "");
}

TEST(InboundMessage, RecordKeepsFieldsDetailsAndEveryParameter) {
  form::Params params;
  params.add("MessageSid", "SM0123456789abcdef0123456789abcdef");
  params.add("From", "whatsapp:+15551234567");
  params.add("To", "whatsapp:+14155238886");
  params.add("Body", "hi");
  params.add("NumMedia", "2");
  params.add("MediaUrl0", "https://m/0");
  params.add("MediaContentType0", "image/png");
  params.add("MediaUrl1", "https://m/1");
  params.add("MediaContentType1", "audio/ogg");
  params.add("ButtonPayload", "p1");
  params.add("ReferralCtwaClid", "abc");
  params.add("BrandNewParam", "x");
  params.add("BrandNewParam", "y");
  const std::string record = inbound_record(3, params, "opt_out", "2026-01-01T00:00:00.000000Z", 48);
  const auto parsed = json::parse(record);
  ASSERT_TRUE(parsed.ok()) << record;
  const json_t* root = parsed.value.get();
  EXPECT_EQ(json::get_string(root, "kind").value_or(""), "inbound");
  EXPECT_EQ(json_integer_value(json_object_get(root, "tenant_id")), 3);
  EXPECT_EQ(json::get_string(root, "contact_action").value_or(""), "opt_out");
  // The reply window travels with the record, so a spooled reply is judged
  // by the window in force when it arrived.
  EXPECT_EQ(json_integer_value(json_object_get(root, "reply_window_hours")), 48);
  const json_t* media = json_object_get(root, "media");
  ASSERT_EQ(json_array_size(media), 2U);
  EXPECT_EQ(json::get_string(json_array_get(media, 1), "content_type").value_or(""), "audio/ogg");
  const json_t* details = json_object_get(root, "details");
  EXPECT_EQ(json::get_string(details, "button_payload").value_or(""), "p1");
  EXPECT_EQ(json::get_string(json_object_get(details, "referral"), "ReferralCtwaClid").value_or(""), "abc");
  const json_t* repeated = json_object_get(json_object_get(root, "params"), "BrandNewParam");
  ASSERT_TRUE(json_is_array(repeated));
  EXPECT_EQ(json_array_size(repeated), 2U);
}

TEST(InboundMessage, MediaCountIsBounded) {
  form::Params params;
  params.add("NumMedia", "99999");
  for (int i = 0; i < 12; ++i) params.add("MediaUrl" + std::to_string(i), "https://m");
  const auto parsed = json::parse(inbound_record(1, params, "", "t", 72));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(json_array_size(json_object_get(parsed.value.get(), "media")), 10U);
}

}  // namespace
}  // namespace wagate::inbound
