// sim_messages_api_test.cpp — the simulated Messages resource: Twilio's validation codes, auth, answers, scenarios.
#include "sim/messages_api.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "wagate/crypto.hpp"
#include "wagate/json.hpp"

namespace wagate::sim {
namespace {

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";
constexpr char kFrom[] = "whatsapp:+14155238886";

form::Params params(std::initializer_list<std::pair<std::string, std::string>> items) {
  form::Params out;
  for (const auto& [name, value] : items) out.add(name, value);
  return out;
}

// A valid create, with `name` replaced (or removed, for an empty value).
form::Params valid_with(const std::string& name, const std::string& value) {
  std::vector<std::pair<std::string, std::string>> items = {
      {"To", "whatsapp:+12025550100"}, {"From", kFrom}, {"Body", "hello"}};
  form::Params out;
  bool replaced = false;
  for (const auto& [item_name, item_value] : items) {
    if (item_name == name) {
      replaced = true;
      if (!value.empty()) out.add(item_name, value);
    } else {
      out.add(item_name, item_value);
    }
  }
  if (!replaced) out.add(name, value);
  return out;
}

int code_of(const form::Params& create) {
  const std::optional<TwilioError> error = validate_create(create);
  return error ? error->code : 0;
}

TEST(SimValidation, AcceptsAValidWhatsAppMessage) {
  EXPECT_EQ(code_of(valid_with("StatusCallback", "https://gw.example.com/api/v1/whatsapp/status?t=1")), 0);
  EXPECT_EQ(code_of(params({{"To", "whatsapp:+447700900123"}, {"MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"},
                            {"ContentSid", "HX0123456789abcdef0123456789abcdef"},
                            {"ContentVariables", R"({"1":"Ann"})"}})),
            0);
  EXPECT_EQ(code_of(params({{"To", "whatsapp:+447700900123"}, {"From", kFrom}, {"MediaUrl", "https://x.test/a.png"}})), 0);
}

TEST(SimValidation, ToIsRequiredAndMustBeWhatsAppE164) {
  EXPECT_EQ(code_of(valid_with("To", "")), 21604);
  for (const std::string& to : std::vector<std::string>{"+12025550100", "whatsapp:12025550100", "whatsapp:+0202555010", "whatsapp:+1202",
                               "whatsapp:+1202555010012345", "whatsapp:+1202555abcd", "sms:+12025550100"}) {
    EXPECT_EQ(code_of(valid_with("To", to)), 21211) << to;
  }
}

TEST(SimValidation, ExactlyOneSender) {
  EXPECT_EQ(code_of(valid_with("From", "")), 21603);
  EXPECT_EQ(code_of(valid_with("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef")), 21603);
  EXPECT_EQ(code_of(valid_with("From", "+14155238886")), 21910);
  EXPECT_EQ(code_of(valid_with("From", "whatsapp:+1415")), 21212);
  EXPECT_EQ(code_of(params({{"To", "whatsapp:+12025550100"}, {"MessagingServiceSid", "MGnot-a-sid"}, {"Body", "x"}})),
            21705);
}

TEST(SimValidation, ContentRules) {
  EXPECT_EQ(code_of(valid_with("Body", "")), 21619);
  EXPECT_EQ(code_of(valid_with("Body", std::string(1600, 'a'))), 0);
  EXPECT_EQ(code_of(valid_with("Body", std::string(1601, 'a'))), 21617);
  // An emoji counts as two characters, as Twilio counts UTF-16 code units.
  std::string emojis;
  for (int i = 0; i < 801; ++i) emojis += "\xF0\x9F\x98\x80";
  EXPECT_EQ(code_of(valid_with("Body", emojis)), 21617);
  std::string accented;
  for (int i = 0; i < 1600; ++i) accented += "\xC3\xA9";
  EXPECT_EQ(code_of(valid_with("Body", accented)), 0);

  form::Params media = valid_with("Body", "");
  for (int i = 0; i < 10; ++i) media.add("MediaUrl", "https://media.test/" + std::to_string(i) + ".png");
  EXPECT_EQ(code_of(media), 0);
  media.add("MediaUrl", "https://media.test/10.png");
  EXPECT_EQ(code_of(media), 21623);
  EXPECT_EQ(code_of(valid_with("MediaUrl", "ftp://media.test/a.png")), 21620);

  EXPECT_EQ(code_of(valid_with("ContentSid", "HX123")), 21655);
  EXPECT_EQ(code_of(valid_with("ContentVariables", R"({"1":"x"})")), 21654);
  form::Params content = valid_with("ContentSid", "HX0123456789abcdef0123456789abcdef");
  content.add("ContentVariables", "[1,2]");
  EXPECT_EQ(code_of(content), 21656);
  form::Params broken = valid_with("ContentSid", "HX0123456789abcdef0123456789abcdef");
  broken.add("ContentVariables", "{not json");
  EXPECT_EQ(code_of(broken), 21656);
}

TEST(SimValidation, StatusCallbackMustBeAnAbsoluteUrlWithoutUnderscoreHost) {
  for (const std::string& url : std::vector<std::string>{"https://gw.example.com/status", "http://127.0.0.1:8443/s?x=1", "http://[::1]:80/x",
                                "https://host-name.test"}) {
    EXPECT_EQ(code_of(valid_with("StatusCallback", url)), 0) << url;
  }
  for (const std::string& url : std::vector<std::string>{"gw.example.com/status", "https://bad_host.test/status", "https:///status",
                                "https://host:port/x", "mailto:x@y", "https://" + std::string(4000, 'a')}) {
    EXPECT_EQ(code_of(valid_with("StatusCallback", url)), 21609) << url.substr(0, 40);
  }
}

TEST(SimValidation, ValidityPeriodIsWholeSecondsFromOneTo36000) {
  for (const std::string seconds : {"1", "3600", "36000"}) {
    EXPECT_EQ(code_of(valid_with("ValidityPeriod", seconds)), 0) << seconds;
  }
  for (const std::string seconds : {"0", "36001", "-5", "1.5", "ten", "99999999999999999999"}) {
    EXPECT_EQ(code_of(valid_with("ValidityPeriod", seconds)), 21624) << seconds;
  }
}

TEST(SimValidation, ErrorBodyIsTwiliosShape) {
  const http::Response response = twilio_error(TwilioError{400, 21211, "Invalid 'To' Phone Number"});
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            R"({"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400})");
}

TEST(SimBasicAuth, Parsing) {
  const auto credentials = parse_basic_auth("Basic " + crypto::base64(std::string(kSid) + ":" + kToken));
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->user, kSid);
  EXPECT_EQ(credentials->password, kToken);
  EXPECT_TRUE(parse_basic_auth("basic " + crypto::base64("a:b:c")));  // the password may hold ':'
  EXPECT_EQ(parse_basic_auth("basic " + crypto::base64("a:b:c"))->password, "b:c");
  EXPECT_FALSE(parse_basic_auth(""));
  EXPECT_FALSE(parse_basic_auth("Bearer abc"));
  EXPECT_FALSE(parse_basic_auth("Basic !!!"));
  EXPECT_FALSE(parse_basic_auth("Basic " + crypto::base64("no-colon")));
}

TEST(SimDates, Rfc2822AndTwilioDates) {
  const auto time = parse_twilio_date("2015-07-30T20:12:31Z");
  ASSERT_TRUE(time);
  EXPECT_EQ(rfc2822_date(*time), "Thu, 30 Jul 2015 20:12:31 +0000");
  const auto day = parse_twilio_date("2015-07-30");
  ASSERT_TRUE(day);
  EXPECT_EQ(rfc2822_date(*day), "Thu, 30 Jul 2015 00:00:00 +0000");
  EXPECT_FALSE(parse_twilio_date("2015-07-30 20:12:31"));
  EXPECT_FALSE(parse_twilio_date("30/07/2015"));
  EXPECT_FALSE(parse_twilio_date(""));
}

// ---------------------------------------------------------------- the resource through MessagesApi::handle

class SimMessagesApi : public ::testing::Test {
 protected:
  SimMessagesApi()
      : accounts_(std::map<std::string, Secret, std::less<>>{{kSid, Secret(kToken)}}),
        dispatcher_(ledger_, Dispatcher::Options{}),
        api_(accounts_, ledger_, dispatcher_, MessagesApi::Options{std::chrono::milliseconds(7),
                                                                   std::chrono::milliseconds(30'000), nullptr,
                                                                   std::chrono::milliseconds(0)}) {}

  http::Request request(std::string method, std::string path, std::string body = {}, bool auth = true) {
    http::Request out;
    out.method = std::move(method);
    const size_t question = path.find('?');
    out.path = path.substr(0, question);
    if (question != std::string::npos) out.query = path.substr(question + 1);
    out.request_uri = path;
    out.body = std::move(body);
    if (auth) out.headers["authorization"] = "Basic " + crypto::base64(std::string(kSid) + ":" + kToken);
    return out;
  }

  Reply create(const std::string& to, const std::string& extra = {}) {
    return api_.handle(request("POST", std::string("/2010-04-01/Accounts/") + kSid + "/Messages.json",
                               "To=" + form::encode(to) + "&From=" + form::encode(kFrom) + "&Body=hi" + extra));
  }

  static json::Value body_of(const Reply& reply) {
    json::ParseResult parsed = json::parse(reply.response.body);
    EXPECT_TRUE(parsed.ok()) << reply.response.body;
    return std::move(parsed.value);
  }

  static long long integer(const json::Value& value, const char* key) {
    return json_integer_value(json_object_get(value.get(), key));
  }

  test::LogCapture capture_;
  Accounts accounts_;
  Ledger ledger_;
  Dispatcher dispatcher_;
  MessagesApi api_;
};

TEST_F(SimMessagesApi, RefusesMissingOrWrongCredentials) {
  const std::string path = std::string("/2010-04-01/Accounts/") + kSid + "/Messages.json";
  Reply reply = api_.handle(request("POST", path, "To=whatsapp%3A%2B12025550100", false));
  EXPECT_EQ(reply.response.status, 401);
  EXPECT_EQ(integer(body_of(reply), "code"), 20003);

  http::Request wrong = request("POST", path, "To=x");
  wrong.headers["authorization"] = "Basic " + crypto::base64(std::string(kSid) + ":not-the-token");
  EXPECT_EQ(api_.handle(wrong).response.status, 401);

  // Right credentials, another account's path.
  const Reply other = api_.handle(request("GET", "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json"));
  EXPECT_EQ(other.response.status, 401);
  EXPECT_EQ(ledger_.stats().creates_by_status.at(401), 2U);
}

TEST_F(SimMessagesApi, CreateAnswers201AndSchedulesCallbacksOnceWritten) {
  const Reply reply = create("whatsapp:+12025550100", "&StatusCallback=https%3A%2F%2Fgw.test%2Fstatus");
  ASSERT_EQ(reply.response.status, 201) << reply.response.body;
  EXPECT_EQ(reply.delay, std::chrono::milliseconds(7));  // --latency-ms
  const json::Value body = body_of(reply);
  const std::string sid = json_string_value(json_object_get(body.get(), "sid"));
  EXPECT_EQ(sid.size(), 34U);
  EXPECT_EQ(sid.substr(0, 2), "SM");
  EXPECT_STREQ(json_string_value(json_object_get(body.get(), "status")), "queued");
  EXPECT_STREQ(json_string_value(json_object_get(body.get(), "direction")), "outbound-api");
  EXPECT_TRUE(json_is_null(json_object_get(body.get(), "error_code")));

  EXPECT_EQ(dispatcher_.pending(), 0U);
  ASSERT_TRUE(reply.after_write);
  reply.after_write();
  EXPECT_EQ(dispatcher_.pending(), 3U);  // sent, delivered, read

  const Reply fetched = api_.handle(request("GET", std::string("/2010-04-01/Accounts/") + kSid + "/Messages/" + sid + ".json"));
  EXPECT_EQ(fetched.response.status, 200);
  EXPECT_EQ(fetched.response.body, reply.response.body);
}

TEST_F(SimMessagesApi, RateLimitedAnswers429TwiceThen201) {
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const Reply reply = create("whatsapp:+12025550112");
    EXPECT_EQ(reply.response.status, 429) << attempt;
    EXPECT_EQ(integer(body_of(reply), "code"), 20429);
  }
  EXPECT_EQ(create("whatsapp:+12025550112").response.status, 201);
  EXPECT_EQ(create("whatsapp:+12025550112").response.status, 201);
  // Counted per To: another number of the same scenario starts over.
  EXPECT_EQ(create("whatsapp:+12035550112").response.status, 429);
}

TEST_F(SimMessagesApi, UnavailableOnceAndApiError) {
  const Reply first = create("whatsapp:+12025550113");
  EXPECT_EQ(first.response.status, 503);
  EXPECT_EQ(integer(body_of(first), "code"), 20503);
  EXPECT_EQ(create("whatsapp:+12025550113").response.status, 201);
  const Reply rejected = create("whatsapp:+12025550111");
  EXPECT_EQ(rejected.response.status, 400);
  EXPECT_EQ(integer(body_of(rejected), "code"), 21211);
  EXPECT_EQ(ledger_.stats().messages, 1U);
}

TEST_F(SimMessagesApi, TimeoutCreatesAndSchedulesButHoldsTheAnswer) {
  const Reply reply = create("whatsapp:+12025550114", "&StatusCallback=https%3A%2F%2Fgw.test%2Fstatus");
  EXPECT_EQ(reply.response.status, 201);
  EXPECT_EQ(reply.delay, std::chrono::milliseconds(30'007));
  EXPECT_FALSE(reply.after_write);
  EXPECT_EQ(dispatcher_.pending(), 3U);  // callbacks go out while the caller waits
  EXPECT_EQ(ledger_.stats().messages, 1U);
}

TEST_F(SimMessagesApi, FetchUnknownIs20404) {
  const Reply reply = api_.handle(
      request("GET", std::string("/2010-04-01/Accounts/") + kSid + "/Messages/SM0123456789abcdef0123456789abcdef.json"));
  EXPECT_EQ(reply.response.status, 404);
  EXPECT_EQ(integer(body_of(reply), "code"), 20404);
}

TEST_F(SimMessagesApi, ListFiltersByToAndPages) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(create("whatsapp:+12025550100").response.status, 201);
  ASSERT_EQ(create("whatsapp:+12025550101").response.status, 201);
  const std::string base = std::string("/2010-04-01/Accounts/") + kSid + "/Messages.json";

  const Reply all = api_.handle(request("GET", base + "?To=whatsapp%3A%2B12025550100&PageSize=2"));
  ASSERT_EQ(all.response.status, 200);
  const json::Value page = body_of(all);
  EXPECT_EQ(json_array_size(json_object_get(page.get(), "messages")), 2U);
  EXPECT_EQ(integer(page, "page_size"), 2);
  const char* next = json_string_value(json_object_get(page.get(), "next_page_uri"));
  ASSERT_NE(next, nullptr);

  const Reply second = api_.handle(request("GET", next));
  const json::Value second_page = body_of(second);
  EXPECT_EQ(json_array_size(json_object_get(second_page.get(), "messages")), 1U);
  EXPECT_TRUE(json_is_null(json_object_get(second_page.get(), "next_page_uri")));

  // Nothing was sent yet: a DateSent filter finds none of them, as at Twilio.
  const Reply dated = api_.handle(request("GET", base + "?DateSent%3E=2000-01-01"));
  EXPECT_EQ(json_array_size(json_object_get(body_of(dated).get(), "messages")), 0U);
  EXPECT_EQ(api_.handle(request("GET", base + "?DateSent=yesterday")).response.status, 400);
}

TEST_F(SimMessagesApi, UnknownPathsAndMethods) {
  EXPECT_EQ(api_.handle(request("GET", std::string("/2010-04-01/Accounts/") + kSid + "/Calls.json")).response.status, 404);
  const Reply reply = api_.handle(request("DELETE", std::string("/2010-04-01/Accounts/") + kSid + "/Messages.json"));
  EXPECT_EQ(reply.response.status, 405);
}

TEST(SimPricing, ListPriceByLongestCallingCode) {
  EXPECT_EQ(list_price("whatsapp:+12025550100"), "-0.00500");
  EXPECT_EQ(list_price("whatsapp:+447700900123"), "-0.03580");
  EXPECT_EQ(list_price("whatsapp:+4915112345678"), "-0.07680");
  EXPECT_EQ(list_price("whatsapp:+5511987654321"), "-0.06250");
  EXPECT_EQ(list_price("whatsapp:+919876543210"), "-0.00990");
  EXPECT_EQ(list_price("whatsapp:+61412345678"), "-0.04000");
}

TEST(SimPricing, NullUntilTheDelayAfterTheFirstFinalStatus) {
  const Clock::time_point start = Clock::now();
  Message message;
  message.to = "whatsapp:+447700900123";
  message.status = "sent";
  EXPECT_FALSE(shown_price(message, std::chrono::milliseconds(0), start + std::chrono::hours(1)));
  message.status = "delivered";
  message.final_at = start;
  EXPECT_FALSE(shown_price(message, std::chrono::milliseconds(1000), start + std::chrono::milliseconds(999)));
  EXPECT_EQ(shown_price(message, std::chrono::milliseconds(1000), start + std::chrono::milliseconds(1000)),
            "-0.03580");
  message.status = "failed";
  EXPECT_EQ(shown_price(message, std::chrono::milliseconds(1000), start + std::chrono::seconds(2)), "0.00000");
  const json::Value shown = message_json(message, std::chrono::milliseconds(1000), start);
  EXPECT_TRUE(json_is_null(json_object_get(shown.get(), "price")));
  EXPECT_STREQ(json_string_value(json_object_get(shown.get(), "price_unit")), "USD");
}

TEST(SimPricing, TheLedgerKeepsTheFirstFinalTime) {
  Ledger ledger;
  Message message;
  message.sid = "SM1";
  message.account_sid = kSid;
  message.status = "queued";
  ledger.add_message(message);
  ledger.apply_step("SM1", CallbackStep{"sent", 0, {}});
  EXPECT_FALSE(ledger.message(kSid, "SM1")->final_at);
  ledger.apply_step("SM1", CallbackStep{"delivered", 0, {}});
  const auto delivered = ledger.message(kSid, "SM1")->final_at;
  ASSERT_TRUE(delivered);
  ledger.apply_step("SM1", CallbackStep{"read", 0, {}});
  EXPECT_EQ(ledger.message(kSid, "SM1")->final_at, delivered);
}

TEST_F(SimMessagesApi, FetchShowsThePriceOnceFinalAndPriced) {
  const Reply created = create("whatsapp:+5511987654321");
  ASSERT_EQ(created.response.status, 201);
  const std::string sid = json_string_value(json_object_get(body_of(created).get(), "sid"));
  const std::string path = std::string("/2010-04-01/Accounts/") + kSid + "/Messages/" + sid + ".json";
  EXPECT_TRUE(json_is_null(json_object_get(body_of(api_.handle(request("GET", path))).get(), "price")));
  ledger_.apply_step(sid, CallbackStep{"delivered", 0, {}});
  // The fixture's price delay is 0: priced at once.
  const json::Value fetched = body_of(api_.handle(request("GET", path)));
  EXPECT_STREQ(json_string_value(json_object_get(fetched.get(), "price")), "-0.06250");
  EXPECT_STREQ(json_string_value(json_object_get(fetched.get(), "price_unit")), "USD");
}

TEST(SimLedger, StatusOnlyMovesForward) {
  Ledger ledger;
  Message message;
  message.sid = "SM1";
  message.account_sid = kSid;
  message.status = "queued";
  ledger.add_message(message);
  ledger.apply_step("SM1", CallbackStep{"read", 0, {}});
  ledger.apply_step("SM1", CallbackStep{"delivered", 0, {}});
  ledger.apply_step("SM1", CallbackStep{"sent", 0, {}});
  EXPECT_EQ(ledger.message(kSid, "SM1")->status, "read");
  EXPECT_TRUE(ledger.message(kSid, "SM1")->sent);
  ledger.apply_step("SM1", CallbackStep{"failed", 30003, "Unreachable destination handset"});
  EXPECT_EQ(ledger.message(kSid, "SM1")->status, "failed");
  EXPECT_EQ(ledger.message(kSid, "SM1")->error_code, 30003);
  ledger.apply_step("SM1", CallbackStep{"sent", 0, {}});
  EXPECT_EQ(ledger.message(kSid, "SM1")->status, "failed");
  EXPECT_FALSE(ledger.message("ACother", "SM1"));
}

}  // namespace
}  // namespace wagate::sim
