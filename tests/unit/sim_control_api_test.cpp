// sim_control_api_test.cpp — the simulator's /sim/ endpoints that need no network: inbound requests, recordings, reset.
#include "sim/control_api.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "log_capture.hpp"
#include "wagate/json.hpp"

namespace wagate::sim {
namespace {

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

class SimControl : public ::testing::Test {
 protected:
  SimControl()
      : accounts_(std::map<std::string, Secret, std::less<>>{{kSid, Secret(kToken)}}),
        dispatcher_(ledger_, Dispatcher::Options{}),
        control_(accounts_, ledger_, dispatcher_, ControlApi::Options{"https://gw.test/webhook", {}}) {}

  std::variant<InboundRequest, http::Response> inbound(std::string_view body) {
    return parse_inbound_request(body, accounts_, "https://gw.test/webhook");
  }

  static int status_of(const std::variant<InboundRequest, http::Response>& parsed) {
    const auto* response = std::get_if<http::Response>(&parsed);
    return response == nullptr ? 0 : response->status;
  }

  http::Response get(std::string path) {
    http::Request request;
    request.method = "GET";
    const size_t question = path.find('?');
    request.path = path.substr(0, question);
    if (question != std::string::npos) request.query = path.substr(question + 1);
    return control_.handle(request);
  }

  test::LogCapture capture_;
  Accounts accounts_;
  Ledger ledger_;
  Dispatcher dispatcher_;
  ControlApi control_;
};

TEST_F(SimControl, InboundRequestDefaults) {
  const auto parsed = inbound(R"({"from": "whatsapp:+447700900123", "to": "whatsapp:+14155238886", "body": "hi",
                                  "params": {"ButtonPayload": "yes", "MediaUrl0": ["https://m.test/a"]}})");
  ASSERT_EQ(status_of(parsed), 0);
  const InboundRequest& request = std::get<InboundRequest>(parsed);
  EXPECT_EQ(request.message.account_sid, kSid);  // the only account
  EXPECT_EQ(request.url, "https://gw.test/webhook");
  EXPECT_EQ(request.message.body, "hi");
  EXPECT_EQ(request.message.extra.first("ButtonPayload"), "yes");
  EXPECT_EQ(request.message.extra.first("MediaUrl0"), "https://m.test/a");
}

TEST_F(SimControl, InboundRequestRefusals) {
  EXPECT_EQ(status_of(inbound("not json")), 400);
  EXPECT_EQ(status_of(inbound("[]")), 400);
  EXPECT_EQ(status_of(inbound(R"({"to": "whatsapp:+14155238886"})")), 400);
  EXPECT_EQ(status_of(inbound(R"({"from": "whatsapp:+447700900123"})")), 400);
  EXPECT_EQ(status_of(inbound(R"({"from": 5, "to": "whatsapp:+14155238886"})")), 400);
  EXPECT_EQ(status_of(inbound(R"({"from": "+4477", "to": "+1415", "account_sid": "ACffffffffffffffffffffffffffffffff"})")),
            400);
  EXPECT_EQ(status_of(inbound(R"({"from": "+4477", "to": "+1415", "url": "not a url"})")), 400);
  EXPECT_EQ(status_of(inbound(R"({"from": "+4477", "to": "+1415", "params": {"X": 1}})")), 400);
}

TEST_F(SimControl, RecordingsAndReset) {
  Message message;
  message.sid = "SM1";
  message.account_sid = kSid;
  message.status = "queued";
  ledger_.add_message(message);
  form::Params params;
  params.add("To", "whatsapp:+12025550100");
  params.add("MediaUrl", "https://m.test/1");
  params.add("MediaUrl", "https://m.test/2");
  ledger_.record_create(CreateRecord{Clock::now(), kSid, "whatsapp:+12025550100", params, 201, 0, "SM1"});
  ledger_.record_create(CreateRecord{Clock::now(), kSid, "whatsapp:+12025550112", {}, 429, 20429, ""});
  ledger_.record_callback(DeliveryRecord{Clock::now(), "SM1", "sent", "https://gw.test/s", 200, "", 1});
  ledger_.record_callback(DeliveryRecord{Clock::now(), "SM1", "delivered", "https://gw.test/s", 500, "", 1});

  const http::Response filtered = get("/sim/messages?to=whatsapp%3A%2B12025550100");
  const json::ParseResult creates = json::parse(filtered.body);
  ASSERT_TRUE(creates.ok());
  EXPECT_EQ(json_integer_value(json_object_get(creates.value.get(), "count")), 1);
  const json_t* first = json_array_get(json_object_get(creates.value.get(), "messages"), 0);
  EXPECT_STREQ(json_string_value(json_object_get(first, "sid")), "SM1");
  EXPECT_EQ(json_array_size(json_object_get(json_object_get(first, "params"), "MediaUrl")), 2U);

  const json::ParseResult stats = json::parse(get("/sim/stats").body);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(json::dump(json_object_get(stats.value.get(), "creates_by_status")), R"({"201":1,"429":1})");
  EXPECT_EQ(json_integer_value(json_object_get(stats.value.get(), "callbacks_sent")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(stats.value.get(), "callbacks_failed")), 1);

  http::Request reset;
  reset.method = "POST";
  reset.path = "/sim/reset";
  EXPECT_EQ(control_.handle(reset).status, 200);
  EXPECT_EQ(ledger_.stats().creates, 0U);
  EXPECT_FALSE(ledger_.message(kSid, "SM1"));
  EXPECT_EQ(get("/sim/nothing").status, 404);
  EXPECT_EQ(get("/sim/reset").status, 405);
}

}  // namespace
}  // namespace wagate::sim
