// json_test.cpp — parsing requests and building responses with Jansson.
#include "wagate/json.hpp"

#include <gtest/gtest.h>

namespace wagate::json {
namespace {

TEST(Json, ParsesAnObject) {
  const auto parsed = parse(R"({"to":"+15551234567","body":"hi"})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(get_string(parsed.value.get(), "to").value_or(""), "+15551234567");
  EXPECT_FALSE(get_string(parsed.value.get(), "missing").has_value());
}

TEST(Json, ReportsWhereParsingFailed) {
  const auto parsed = parse("{\"to\": }");
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error.find("line 1"), std::string::npos);
}

TEST(Json, RejectsDuplicateKeysAndTrailingGarbage) {
  EXPECT_FALSE(parse(R"({"to":"a","to":"b"})").ok());
  EXPECT_FALSE(parse(R"({"to":"a"} x)").ok());
  EXPECT_FALSE(parse(std::string_view("{\"a\":\"\0\"}", 9)).ok());
}

TEST(Json, ErrorBodyShape) {
  EXPECT_EQ(error_body("invalid_phone", "too many digits", "to"),
            R"({"error":{"code":"invalid_phone","message":"too many digits","field":"to"}})");
  EXPECT_EQ(error_body("not_found", "no route"), R"({"error":{"code":"not_found","message":"no route"}})");
}

TEST(Json, StringKeepsInvalidUtf8Readable) {
  const Value value = string("caf\xc3");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(dump(value.get()), "\"caf?\"");
}

TEST(Json, EscapesControlCharacters) {
  const Value value = string("a\"b\n");
  EXPECT_EQ(dump(value.get()), R"("a\"b\n")");
}

}  // namespace
}  // namespace wagate::json
