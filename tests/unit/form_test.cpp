// form_test.cpp — parsing and building application/x-www-form-urlencoded bodies.
#include "wagate/form.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wagate::form {
namespace {

TEST(Form, KeepsArrivalOrderAndRepeatedNames) {
  const ParseResult parsed = parse("MediaUrl0=a&Body=hi&MediaUrl0=b&body=lower");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.params.size(), 4U);
  EXPECT_EQ(parsed.params.items()[0].name, "MediaUrl0");
  EXPECT_EQ(parsed.params.items()[2].value, "b");
  EXPECT_EQ(parsed.params.first("MediaUrl0").value_or(""), "a");
  EXPECT_EQ(parsed.params.all("MediaUrl0"), (std::vector<std::string_view>{"a", "b"}));
  // Names are case-sensitive: "Body" and "body" are different parameters.
  EXPECT_EQ(parsed.params.first("Body").value_or(""), "hi");
  EXPECT_EQ(parsed.params.first("body").value_or(""), "lower");
  EXPECT_FALSE(parsed.params.first("BODY").has_value());
  EXPECT_TRUE(parsed.params.all("BODY").empty());
}

TEST(Form, DecodesPlusAndPercentEscapesInNamesAndValues) {
  const ParseResult parsed = parse("From=whatsapp%3A%2B14155238886&Body=Hello+world%21&na%6De=%e2%82%AC%E2%82%ac");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.params.first("From").value_or(""), "whatsapp:+14155238886");
  EXPECT_EQ(parsed.params.first("Body").value_or(""), "Hello world!");
  EXPECT_EQ(parsed.params.first("name").value_or(""), "\u20ac\u20ac");
}

TEST(Form, DecodesEncodedSeparatorsAsData) {
  const ParseResult parsed = parse("a=1%262%3D3&b=%2B");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.params.size(), 2U);
  EXPECT_EQ(parsed.params.first("a").value_or(""), "1&2=3");
  EXPECT_EQ(parsed.params.first("b").value_or(""), "+");
}

TEST(Form, ValueMayContainEqualsSign) {
  const ParseResult parsed = parse("ContentVariables=a=b=c");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.params.first("ContentVariables").value_or(""), "a=b=c");
}

TEST(Form, EmptyValuesAndSegmentsWithoutEquals) {
  const ParseResult parsed = parse("ErrorCode=&Flag&Body=");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.params.size(), 3U);
  EXPECT_EQ(parsed.params.first("ErrorCode"), std::optional<std::string_view>(""));
  EXPECT_EQ(parsed.params.first("Flag"), std::optional<std::string_view>(""));
  EXPECT_EQ(parsed.params.first("Body"), std::optional<std::string_view>(""));
}

TEST(Form, SkipsEmptySegments) {
  const ParseResult parsed = parse("&&a=1&&b=2&");
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.params.size(), 2U);
  EXPECT_EQ(parsed.params.first("b").value_or(""), "2");
  EXPECT_TRUE(parse("").ok());
  EXPECT_TRUE(parse("").params.empty());
  EXPECT_TRUE(parse("&").params.empty());
}

TEST(Form, ReportsInvalidPercentEscapesWithOffset) {
  EXPECT_EQ(parse("%").error, "invalid percent-escape at offset 0");
  EXPECT_EQ(parse("a=%4").error, "invalid percent-escape at offset 2");
  EXPECT_EQ(parse("a=1&b=%zz").error, "invalid percent-escape at offset 6");
  EXPECT_EQ(parse("a=1&b%g1=2").error, "invalid percent-escape at offset 5");
  // The escape must be complete inside its own segment.
  EXPECT_EQ(parse("a=%4&b=1").error, "invalid percent-escape at offset 2");
  EXPECT_FALSE(parse("a=%").ok());
}

TEST(Form, RejectsEmptyNames) {
  const ParseResult parsed = parse("a=1&=orphan");
  EXPECT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error, "empty parameter name at offset 4");
  EXPECT_FALSE(parse("=").ok());
}

TEST(Form, LimitsTheNumberOfParameters) {
  EXPECT_TRUE(parse("a=1&b=2&c=3", 3).ok());
  const ParseResult parsed = parse("a=1&b=2&c=3&d=4", 3);
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error.find("too many parameters"), std::string::npos);
  // Empty segments do not count.
  EXPECT_TRUE(parse("a=1&&&&b=2", 2).ok());

  std::string many;
  for (int i = 0; i < 1001; ++i) many += "p=1&";
  EXPECT_FALSE(parse(many).ok());
  many.resize(many.size() - 4);
  EXPECT_TRUE(parse(many).ok());
}

TEST(Form, HandlesArbitraryBytes) {
  const std::string raw("a\0b=\xff\x01", 6);
  const ParseResult parsed = parse(raw);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.params.first(std::string_view("a\0b", 3)).value_or(""), "\xff\x01");
}

TEST(Form, EncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(encode("hello world"), "hello%20world");
  EXPECT_EQ(encode("whatsapp:+1415&a=b/c?"), "whatsapp%3A%2B1415%26a%3Db%2Fc%3F");
  EXPECT_EQ(encode("\xe2\x82\xac"), "%E2%82%AC");
  EXPECT_EQ(encode(std::string_view("\0", 1)), "%00");
}

TEST(Form, BuildThenParseRoundTrips) {
  Params params;
  params.add("To", "whatsapp:+14155238886");
  params.add("Body", "50% off & free + fast = yes\n\xf0\x9f\x98\x80");
  params.add("MediaUrl", "https://example.com/a.jpg?x=1&y=2");
  params.add("MediaUrl", "");
  params.add("Empty", "");
  const std::string body = build(params);
  EXPECT_EQ(body.find(' '), std::string::npos);
  const ParseResult parsed = parse(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.params.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(parsed.params.items()[i].name, params.items()[i].name);
    EXPECT_EQ(parsed.params.items()[i].value, params.items()[i].value);
  }
  EXPECT_EQ(build(Params{}), "");
}

}  // namespace
}  // namespace wagate::form
