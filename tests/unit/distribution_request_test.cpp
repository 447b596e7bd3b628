// distribution_request_test.cpp — POST /api/v1/distributions' body: each bad field's 400 and its field path, placeholders found.
#include "api/distribution_request.hpp"

#include <gtest/gtest.h>

#include <string>

#include "api_rejection.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

using test::Rejection;

// 2024-05-01T12:00:00Z: the "now" send_at and expires_at are compared with.
const long long kNow = *time::parse_iso8601("2024-05-01T12:00:00Z");
const std::string kSid = "HX" + std::string(32, 'a');

// A valid request with `fields` (",\"x\": ...") added or `contacts` replaced.
std::string request(std::string_view fields = {}, std::string_view contacts = R"([{"phone": "+14155550123"}])") {
  return R"({"name": "spring", "body": "Hi", "contacts": )" + std::string(contacts) + std::string(fields) + "}";
}

void expect_invalid(const std::string& body, std::string_view field, std::string_view message_part = {}) {
  const Rejection r = test::rejection(body, [&] { (void)parse_distribution_request(body, kNow); });
  EXPECT_EQ(r.status, 400) << body;
  EXPECT_EQ(r.code, "invalid_field") << body;
  EXPECT_EQ(r.field, field) << body << ": " << r.message;
  if (!message_part.empty()) {
    EXPECT_NE(r.message.find(message_part), std::string::npos) << r.message;
  }
}

TEST(DistributionRequest, FullRequestIsRead) {
  const std::string body =
      R"({"name": "spring", "content_sid": ")" + kSid +
      R"(", "content_variables": {"1": "{{name}}", "2": "{{link}}"}, "link": "https://survey.example/s/42?r={{ref}}",
         "contacts": [{"phone": "+14155550123", "name": "Ana", "variables": {"ref": "a1"}, "timezone": "Europe/Lisbon"}],
         "send_at": "2024-05-02T09:00:00Z", "send_window": {"start": "09:00", "end": "20:30"},
         "rate_per_second": 10, "sender": "whatsapp:+14155238886", "expires_at": "2024-05-03"})";
  const DistributionRequest r = parse_distribution_request(body, kNow);
  EXPECT_EQ(r.name, "spring");
  EXPECT_EQ(r.content_sid, kSid);
  ASSERT_EQ(r.content_variables.size(), 2U);
  EXPECT_EQ(r.content_variables[1].second, "{{link}}");
  EXPECT_EQ(r.link, "https://survey.example/s/42?r={{ref}}");
  ASSERT_EQ(r.contacts.size(), 1U);
  EXPECT_EQ(r.contacts[0].name, "Ana");
  EXPECT_EQ(r.contacts[0].variables.at("ref"), "a1");
  EXPECT_EQ(r.contacts[0].timezone, "Europe/Lisbon");
  EXPECT_EQ(r.send_at, *time::parse_iso8601("2024-05-02T09:00:00Z"));
  ASSERT_TRUE(r.send_window);
  EXPECT_EQ(r.send_window->start.text(), "09:00");
  EXPECT_EQ(r.send_window->end.text(), "20:30");
  EXPECT_EQ(r.rate_per_second, 10);
  EXPECT_EQ(r.sender, "whatsapp:+14155238886");
  EXPECT_EQ(r.placeholders, (std::vector<std::string>{"name", "link", "ref"}));
}

TEST(DistributionRequest, PlaceholderNamesComeFromTheRenderer) {
  EXPECT_EQ(placeholder_names("Hi {{ name }}, {{a}} {{name}} {{b.c}} {{ }} {{x y}} {{{z}}"),
            (std::vector<std::string>{"name", "a", "b.c", "z"}));
  EXPECT_TRUE(placeholder_names("no placeholders {{").empty());
}

TEST(DistributionRequest, EachBadTopLevelFieldIsNamed) {
  expect_invalid(request(R"(, "colour": "red")"), "colour", "unknown field");
  expect_invalid(R"({"body": "Hi", "contacts": [{"phone": "+14155550123"}]})", "name", "required");
  expect_invalid(request(R"(, "send_at": "tomorrow")"), "send_at", "ISO 8601");
  expect_invalid(request(R"(, "expires_at": "2024-04-30T00:00:00Z")"), "expires_at", "past");
  expect_invalid(request(R"(, "send_at": "2024-05-05", "expires_at": "2024-05-04")"), "expires_at", "after send_at");
  expect_invalid(request(R"(, "rate_per_second": 0)"), "rate_per_second", "1 to 1000");
  expect_invalid(request(R"(, "rate_per_second": 1001)"), "rate_per_second");
  expect_invalid(request(R"(, "rate_per_second": 2.5)"), "rate_per_second");
  expect_invalid(request(R"(, "sender": "+14155238886")"), "sender", "whatsapp:");
  expect_invalid(request(R"(, "send_window": "9-5")"), "send_window");
  expect_invalid(request(R"(, "send_window": {"start": "09:00"})"), "send_window.end", "required");
  expect_invalid(request(R"(, "send_window": {"start": "9:00", "end": "17:00"})"), "send_window.start", "HH:MM");
  expect_invalid(request(R"(, "send_window": {"start": "09:00", "end": "24:00"})"), "send_window.end");
  expect_invalid(request(R"(, "send_window": {"start": "09:00", "end": "09:00"})"), "send_window.end", "differ");
  expect_invalid(request(R"(, "send_window": {"start": "09:00", "end": "17:00", "tz": "UTC"})"), "send_window.tz");
}

TEST(DistributionRequest, MessageChoicesAreChecked) {
  expect_invalid(R"({"name": "n", "contacts": [{"phone": "+14155550123"}]})", "content_sid", "nothing to send");
  expect_invalid(R"({"name": "n", "body": "a", "content_sid": ")" + kSid + R"(", "contacts": []})", "content_sid",
                 "not both");
  expect_invalid(R"({"name": "n", "content_sid": "HX12", "contacts": [{"phone": "+14155550123"}]})", "content_sid");
  expect_invalid(R"({"name": "n", "body": "a", "content_variables": {"1": "x"}, "contacts": [{"phone": "1"}]})",
                 "content_variables", "needs content_sid");
  expect_invalid(R"({"name": "n", "content_sid": ")" + kSid +
                     R"(", "content_variables": {"1": 7}, "contacts": [{"phone": "+14155550123"}]})",
                 "content_variables.1", "string");
  expect_invalid(R"({"name": "n", "body": ")" + std::string(1601, 'a') + R"(", "contacts": [{"phone": "1"}]})",
                 "body", "1600");
}

TEST(DistributionRequest, LinkAndItsPlaceholderGoTogether) {
  expect_invalid(request(R"(, "link": "https://x.example/")"), "link", "neither body nor content_variables");
  expect_invalid(R"({"name": "n", "body": "go {{link}}", "contacts": [{"phone": "+14155550123"}]})", "link",
                 "no link");
  expect_invalid(R"({"name": "n", "body": "go {{link}}", "link": "ftp://x.example/", "contacts": [{"phone": "1"}]})",
                 "link", "http");
  expect_invalid(R"({"name": "n", "body": "go {{link}}", "link": "https://", "contacts": [{"phone": "1"}]})", "link",
                 "no host");
  expect_invalid(R"({"name": "n", "body": "go {{link}}", "link": "https://x.example/a b", "contacts": [{"phone": "1"}]})",
                 "link", "blank");
  expect_invalid(R"({"name": "n", "body": "go {{link}}", "link": "https://x.example/{{link}}", "contacts": [{"phone": "1"}]})",
                 "link", "cannot contain");
}

TEST(DistributionRequest, EachBadContactFieldIsNamedByItsIndex) {
  expect_invalid(request({}, "[]"), "contacts", "empty");
  expect_invalid(request({}, R"({"phone": "1"})"), "contacts", "array");
  expect_invalid(request({}, R"([{"phone": "+14155550123"}, "+14155550124"])"), "contacts[1]", "object");
  expect_invalid(request({}, R"([{"phone": "+14155550123"}, {}, {}, {"name": "x"}])"), "contacts[1].phone",
                 "required");
  expect_invalid(request({}, R"([{"phone": "+14155550123"}, {"phone": 14155550124}])"), "contacts[1].phone",
                 "string");
  expect_invalid(request({}, R"([{"phone": "1", "email": "a@b"}])"), "contacts[0].email", "unknown field");
  expect_invalid(request({}, R"([{"phone": "1", "name": ""}])"), "contacts[0].name", "empty");
  expect_invalid(request({}, R"([{"phone": "1", "variables": ["a"]}])"), "contacts[0].variables", "object");
  expect_invalid(request({}, R"([{"phone": "1", "variables": {"ref": 3}}])"), "contacts[0].variables.ref",
                 "string");
  expect_invalid(request({}, R"([{"phone": "1", "variables": {"a b": "x"}}])"), "contacts[0].variables.a b");
  expect_invalid(request({}, R"([{"phone": "1", "variables": {"link": "x"}}])"), "contacts[0].variables.link",
                 "filled by wagate");
  expect_invalid(request({}, R"([{"phone": "1", "variables": {"name": "x"}}])"), "contacts[0].variables.name");
  expect_invalid(request({}, R"([{"phone": "1", "timezone": "../../etc/passwd"}])"), "contacts[0].timezone", "IANA");
}

TEST(DistributionRequest, ContactsAreBoundedPerRequest) {
  std::string contacts = "[";
  for (size_t i = 0; i <= kMaxDistributionContacts; ++i) contacts += std::string(i ? "," : "") + R"({"phone":"1"})";
  contacts += "]";
  expect_invalid(request({}, contacts), "contacts", "at most 10000");
}

TEST(DistributionRequest, AnInvalidPhoneIsNotARefusal) {
  // The planner lists it in `invalid`; the rest of the list goes ahead.
  const DistributionRequest r = parse_distribution_request(request({}, R"([{"phone": "not a phone"}])"), kNow);
  EXPECT_EQ(r.contacts.at(0).phone, "not a phone");
}

TEST(DistributionRequest, BadJsonIsInvalidJson) {
  for (const std::string& body : {std::string(), std::string("{"), std::string("[]")}) {
    const Rejection r = test::rejection(body, [&] { (void)parse_distribution_request(body, kNow); });
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.code, "invalid_json") << body;
  }
}

}  // namespace
}  // namespace wagate::api
