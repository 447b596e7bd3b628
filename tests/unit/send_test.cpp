// send_test.cpp — the send request's validation (each bad field's code and field), template variables, Bearer parsing.
#include "api/send.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/auth.hpp"
#include "api_rejection.hpp"
#include "placeholder_reference.hpp"
#include "wagate/error.hpp"

namespace wagate::api {
namespace {

using test::Rejection;

Rejection rejection(std::string_view body) {
  return test::rejection(body, [&] { (void)parse_send_request(body); });
}

void expect_invalid(std::string_view body, std::string_view field, std::string_view message_part = {}) {
  const Rejection r = rejection(body);
  EXPECT_EQ(r.status, 400) << body;
  EXPECT_EQ(r.code, "invalid_field") << body;
  EXPECT_EQ(r.field, field) << body << ": " << r.message;
  if (!message_part.empty()) {
    EXPECT_NE(r.message.find(message_part), std::string::npos) << r.message;
  }
}

const std::string kSid = "HX" + std::string(32, 'a');

// ---- accepted requests ----

TEST(SendRequest, MinimalTextMessage) {
  const SendRequest r = parse_send_request(R"({"to": "+14155550123", "body": "Hello"})");
  EXPECT_EQ(r.to, "+14155550123");
  EXPECT_EQ(r.body, "Hello");
  EXPECT_FALSE(r.content_sid.has_value());
  EXPECT_TRUE(r.free_form());
  EXPECT_TRUE(r.priority == send_queue::Priority::Normal);
  EXPECT_FALSE(r.client_ref.has_value());
}

TEST(SendRequest, EveryOptionalFieldOfATextMessage) {
  const SendRequest r = parse_send_request(
      R"({"to": "0171 1234567", "body": "Hi {{name}}, order {{ order }}", "variables": {"name": "Ana", "order": "7"},
          "media_url": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.pdf?x=1"],
          "priority": "high", "client_ref": "crm-991"})");
  EXPECT_EQ(r.body, "Hi Ana, order 7");
  ASSERT_EQ(r.media_urls.size(), 2U);
  EXPECT_EQ(r.media_urls[1], "https://cdn.example.com/b.pdf?x=1");
  EXPECT_TRUE(r.priority == send_queue::Priority::High);
  EXPECT_EQ(r.client_ref, "crm-991");
}

TEST(SendRequest, TemplateMessage) {
  const SendRequest r = parse_send_request(R"({"to": "+14155550123", "content_sid": ")" + kSid +
                                           R"(", "content_variables": {"1": "Ana", "2": "Friday"}})");
  EXPECT_EQ(r.content_sid, kSid);
  EXPECT_EQ(r.content_variables, R"({"1":"Ana","2":"Friday"})");
  EXPECT_FALSE(r.body.has_value());
  EXPECT_FALSE(r.free_form());
}

TEST(SendRequest, MediaOnlyMessageIsFreeForm) {
  const SendRequest r = parse_send_request(R"({"to": "+14155550123", "media_url": ["https://x.example/a.png"]})");
  EXPECT_FALSE(r.body.has_value());
  EXPECT_TRUE(r.free_form());
}

TEST(SendRequest, NullMeansAbsent) {
  const SendRequest r =
      parse_send_request(R"({"to": "+14155550123", "body": "x", "content_sid": null, "client_ref": null})");
  EXPECT_EQ(r.body, "x");
  EXPECT_FALSE(r.content_sid.has_value());
}

TEST(SendRequest, BodyLimitCountsCharactersNotBytes) {
  const std::string plain(1600, 'a');
  std::string emoji;
  for (int i = 0; i < 1600; ++i) emoji += "\xc3\xa9";  // é: 2 bytes, 1 character
  EXPECT_EQ(parse_send_request(R"({"to": "+14155550123", "body": ")" + emoji + R"("})").body, emoji);
  EXPECT_EQ(parse_send_request(R"({"to": "+14155550123", "body": ")" + plain + R"("})").body, plain);
  expect_invalid(R"({"to": "+14155550123", "body": ")" + plain + R"(b"})", "body", "1601 characters");
}

// ---- rejected requests: which code, which field ----

TEST(SendRequest, BodyThatIsNotAJsonObject) {
  for (const char* body : {"", "{", "[1,2]", "\"to\"", "{\"to\": \"+1\",}", "{\"to\":\"+14155550123\",\"to\":\"x\"}"}) {
    const Rejection r = rejection(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.code, "invalid_json") << body;
  }
  // The parser's position is passed on.
  EXPECT_NE(rejection("{\n  \"to\": }").message.find("line 2"), std::string::npos);
}

TEST(SendRequest, UnknownFieldsAreNamed) {
  expect_invalid(R"({"to": "+14155550123", "body": "x", "from": "+1"})", "from", "unknown field");
  expect_invalid(R"({"to": "+14155550123", "Body": "x"})", "Body", "unknown field");
}

TEST(SendRequest, ToIsRequiredAndAString) {
  expect_invalid(R"({"body": "x"})", "to", "required");
  expect_invalid(R"({"to": null, "body": "x"})", "to", "required");
  expect_invalid(R"({"to": 14155550123, "body": "x"})", "to", "string");
}

TEST(SendRequest, WrongTypesAreNamed) {
  expect_invalid(R"({"to": "+14155550123", "body": 5})", "body", "string");
  expect_invalid(R"({"to": "+14155550123", "body": "{{a}}", "variables": ["a"]})", "variables", "object");
  expect_invalid(R"({"to": "+14155550123", "body": "{{a}}", "variables": {"a": 1}})", "variables.a", "string");
  expect_invalid(R"({"to": "+14155550123", "content_sid": 1})", "content_sid", "string");
  expect_invalid(R"({"to": "+14155550123", "content_sid": ")" + kSid + R"(", "content_variables": "x"})",
                 "content_variables", "object");
  expect_invalid(R"({"to": "+14155550123", "content_sid": ")" + kSid + R"(", "content_variables": {"1": 2}})",
                 "content_variables.1", "string");
  expect_invalid(R"({"to": "+14155550123", "media_url": "https://x.example/a.png"})", "media_url", "array");
  expect_invalid(R"({"to": "+14155550123", "media_url": [1]})", "media_url[0]", "string");
  expect_invalid(R"({"to": "+14155550123", "body": "x", "priority": 1})", "priority", "string");
  expect_invalid(R"({"to": "+14155550123", "body": "x", "client_ref": 7})", "client_ref", "string");
}

TEST(SendRequest, EmptyOrMissingContent) {
  expect_invalid(R"({"to": "+14155550123"})", "body", "nothing to send");
  expect_invalid(R"({"to": "+14155550123", "body": ""})", "body", "empty");
  expect_invalid(R"({"to": "+14155550123", "media_url": []})", "body", "nothing to send");
  expect_invalid(R"({"to": "+14155550123", "body": "{{x}}", "variables": {"x": ""}})", "body", "empty");
}

TEST(SendRequest, BodyAndTemplateTogetherAreRefused) {
  expect_invalid(R"({"to": "+14155550123", "body": "x", "content_sid": ")" + kSid + R"("})", "content_sid",
                 "not both");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https://x.example/a"], "content_sid": ")" + kSid + R"("})",
                 "media_url", "content_sid");
}

TEST(SendRequest, VariablesBelongToTheirContent) {
  expect_invalid(R"({"to": "+14155550123", "content_sid": ")" + kSid + R"(", "variables": {"a": "b"}})",
                 "variables", "body");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https://x.example/a"], "variables": {"a": "b"}})",
                 "variables", "body");
  expect_invalid(R"({"to": "+14155550123", "body": "x", "content_variables": {"1": "b"}})", "content_variables",
                 "content_sid");
}

TEST(SendRequest, PlaceholderWithoutVariableIsNamed) {
  expect_invalid(R"({"to": "+14155550123", "body": "Hi {{name}}"})", "variables", "{{name}}");
  expect_invalid(R"({"to": "+14155550123", "body": "Hi {{name}} {{day}}", "variables": {"name": "Ana"}})",
                 "variables", "{{day}}");
}

TEST(SendRequest, BodyTooLongAfterSubstitution) {
  const std::string long_value(1600, 'z');
  expect_invalid(R"({"to": "+14155550123", "body": "Hi {{n}}", "variables": {"n": ")" + long_value + R"("}})",
                 "body", "after variable substitution");
}

// 5,000 placeholders of one 30 kB variable would be 150 MB of text: the
// request is refused as too long without the text ever being built.
TEST(SendRequest, PlaceholderAmplificationIsRefusedAsTooLong) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "{{a}}";
  const Rejection r = rejection(R"({"to": "+14155550123", "body": ")" + body + R"(", "variables": {"a": ")" +
                                std::string(30000, 'x') + R"("}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "invalid_field");
  EXPECT_EQ(r.field, "body");
  EXPECT_NE(r.message.find("longer than 1600 characters after variable substitution"), std::string::npos)
      << r.message;
}

TEST(SendRequest, ManyBracesAreJustTooLong) {
  expect_invalid(R"({"to": "+14155550123", "body": ")" + std::string(60000, '{') + R"(}}"})", "body",
                 "body is 60002 characters; at most 1600");
}

TEST(SendRequest, ContentSidFormat) {
  for (const std::string& sid : {std::string("HX123"), "MG" + std::string(32, 'a'), "HX" + std::string(31, 'a'),
                                 "HX" + std::string(33, 'a'), "HX" + std::string(31, 'a') + "g"}) {
    expect_invalid(R"({"to": "+14155550123", "content_sid": ")" + sid + R"("})", "content_sid", "HX");
  }
}

TEST(SendRequest, MediaUrls) {
  std::string eleven = "[";
  for (int i = 0; i < 11; ++i) eleven += std::string(i ? "," : "") + "\"https://x.example/" + std::to_string(i) + "\"";
  eleven += "]";
  expect_invalid(R"({"to": "+14155550123", "media_url": )" + eleven + "}", "media_url", "at most 10");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["http://x.example/a.png"]})", "media_url[0]", "https");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https://ok.example/a", "ftp://x"]})", "media_url[1]",
                 "https");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https:///a.png"]})", "media_url[0]", "host");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https://x.example/a b.png"]})", "media_url[0]", "blank");
  expect_invalid(R"({"to": "+14155550123", "media_url": ["https://x.example/)" + std::string(2100, 'a') + R"("]})",
                 "media_url[0]", "longer");
}

TEST(SendRequest, PriorityAndClientRef) {
  expect_invalid(R"({"to": "+14155550123", "body": "x", "priority": "urgent"})", "priority", "high");
  expect_invalid(R"({"to": "+14155550123", "body": "x", "client_ref": ""})", "client_ref", "empty");
  expect_invalid(R"({"to": "+14155550123", "body": "x", "client_ref": ")" + std::string(129, 'r') + R"("})",
                 "client_ref", "128");
  EXPECT_EQ(parse_send_request(R"({"to": "+14155550123", "body": "x", "client_ref": ")" + std::string(128, 'r') +
                               R"("})")
                .client_ref->size(),
            128U);
}

// ---- template variables ----

TEST(TemplateVariables, SubstitutesEachPlaceholder) {
  const Variables v = {{"name", "Ana"}, {"order.id", "A-7"}, {"x_1", "!"}};
  EXPECT_EQ(substitute_variables("Hi {{name}}, {{ order.id }} is ready{{x_1}}", v).text, "Hi Ana, A-7 is ready!");
  EXPECT_EQ(substitute_variables("{{name}}{{name}}", v).text, "AnaAna");
  EXPECT_EQ(substitute_variables("no placeholders", v).text, "no placeholders");
  EXPECT_EQ(substitute_variables("", v).text, "");
}

TEST(TemplateVariables, ValuesAreNotExpandedAgain) {
  const Variables v = {{"a", "{{b}}"}, {"b", "B"}};
  EXPECT_EQ(substitute_variables("{{a}}", v).text, "{{b}}");
}

TEST(TemplateVariables, TextThatIsNotAPlaceholderStays) {
  const Variables v = {{"name", "Ana"}};
  EXPECT_EQ(substitute_variables("{{ }} {{a b}} {{ unclosed", v).text, "{{ }} {{a b}} {{ unclosed");
  EXPECT_EQ(substitute_variables("{name} }}{{", v).text, "{name} }}{{");
  EXPECT_EQ(substitute_variables("{{{name}}}", v).text, "{Ana}");
}

TEST(TemplateVariables, ReportsTheFirstMissingName) {
  const Substitution s = substitute_variables("{{a}} {{b}} {{c}}", {{"a", "1"}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.missing, "b");
  // Names are case-sensitive.
  EXPECT_EQ(substitute_variables("{{Name}}", {{"name", "x"}}).missing, "Name");
}

TEST(TemplateVariables, RenderingStopsAtTheLimit) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "{{a}}";
  const Substitution s = substitute_variables(body, {{"a", std::string(30000, 'x')}});
  EXPECT_TRUE(s.too_long);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.missing.empty());
  // What was built is the limit's worth of text and never more: the renderer
  // stopped instead of building 150 MB and measuring it afterwards.
  EXPECT_EQ(s.text, std::string(kMaxBodyChars, 'x'));
  EXPECT_LE(s.text.capacity(), 4 * kMaxBodyChars);
}

TEST(TemplateVariables, TheLimitCountsCharacters) {
  std::string two_byte;
  for (int i = 0; i < 10; ++i) two_byte += "\xc3\xa9";  // é
  const Substitution fits = substitute_variables("{{e}}", {{"e", two_byte}}, 10);
  EXPECT_TRUE(fits.ok());
  EXPECT_EQ(fits.text, two_byte);
  const Substitution over = substitute_variables("{{e}}!", {{"e", two_byte}}, 10);
  EXPECT_TRUE(over.too_long);
  EXPECT_EQ(over.text, two_byte);
  EXPECT_TRUE(substitute_variables(std::string(11, 'a'), {}, 10).too_long);
  EXPECT_TRUE(substitute_variables(std::string(10, 'a'), {}, 10).ok());
  // Bytes that are not UTF-8 count as no character, yet stay bounded: at most
  // 4 bytes a character, as much as valid UTF-8 can take.
  EXPECT_TRUE(substitute_variables(std::string(40, '\x80'), {}, 10).ok());
  EXPECT_TRUE(substitute_variables(std::string(41, '\x80'), {}, 10).too_long);
  EXPECT_TRUE(substitute_variables("", {}, 0).ok());
  EXPECT_TRUE(substitute_variables("a", {}, 0).too_long);
}

TEST(TemplateVariables, ARunOfBracesRendersAsItself) {
  const std::string braces = std::string(60000, '{') + "}}";
  const Substitution s = substitute_variables(braces, {{"name", "Ana"}}, braces.size());
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.text, braces);
  const Substitution named = substitute_variables(std::string(60000, '{') + "name}}", {{"name", "Ana"}}, 100000);
  EXPECT_TRUE(named.ok());
  EXPECT_EQ(named.text, std::string(59998, '{') + "Ana");
  const Substitution spaced = substitute_variables("{{" + std::string(60000, ' ') + "{{ name }}", {{"name", "Ana"}},
                                                   100000);
  EXPECT_EQ(spaced.text, "{{" + std::string(60000, ' ') + "Ana");
}

// Every text of up to 7 characters over the characters that matter renders
// exactly as the first, unbounded renderer did.
TEST(TemplateVariables, AgreesWithTheReferenceRendererOnEveryShortText) {
  const Variables v = {{"a", "A"}, {"ab", "{{a}}"}};
  constexpr std::string_view kAlphabet = "{} ab";
  std::string text;
  size_t compared = 0;
  for (size_t length = 0; length <= 7; ++length) {
    std::vector<size_t> digits(length, 0);
    while (true) {
      text.clear();
      for (const size_t d : digits) text.push_back(kAlphabet[d]);
      const Substitution want = test::reference_substitution(text, v);
      const Substitution got = substitute_variables(text, v);
      ASSERT_EQ(got.missing, want.missing) << "'" << text << "'";
      if (want.ok()) {
        ASSERT_EQ(got.text, want.text) << "'" << text << "'";
      }
      ASSERT_FALSE(got.too_long) << "'" << text << "'";
      ++compared;
      size_t i = 0;
      while (i < length && ++digits[i] == kAlphabet.size()) digits[i++] = 0;
      if (i == length) break;
    }
  }
  EXPECT_EQ(compared, 97656U);  // 5^0 + ... + 5^7
}

TEST(TemplateVariables, CharacterCountIsInCodePoints) {
  EXPECT_EQ(character_count(""), 0U);
  EXPECT_EQ(character_count("abc"), 3U);
  EXPECT_EQ(character_count("caf\xc3\xa9"), 4U);
  EXPECT_EQ(character_count("\xf0\x9f\x98\x80"), 1U);  // one emoji, four bytes
}

// ---- Authorization header ----

TEST(BearerToken, AcceptsTheBearerSchemeInAnyCase) {
  EXPECT_EQ(bearer_token("Bearer wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("bearer wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("BEARER   wg_abc  "), "wg_abc");
}

TEST(BearerToken, RefusesOtherForms) {
  EXPECT_FALSE(bearer_token("").has_value());
  EXPECT_FALSE(bearer_token("Bearer").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz").has_value());
  EXPECT_FALSE(bearer_token("Bearerwg_abc").has_value());
  EXPECT_FALSE(bearer_token("wg_abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer wg_abc extra").has_value());
}

}  // namespace
}  // namespace wagate::api
