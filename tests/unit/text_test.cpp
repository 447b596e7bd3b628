// text_test.cpp — UTF-8 validation and control-character detection.
#include "wagate/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wagate::text {
namespace {

TEST(Text, AcceptsWellFormedUtf8) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ASCII"));
  EXPECT_TRUE(valid_utf8("Espa\xc3\xb1" "a"));          // U+00F1
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));               // U+20AC
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));           // U+1F600
  EXPECT_TRUE(valid_utf8("\xc2\x80\xdf\xbf"));           // U+0080, U+07FF: two-byte bounds
  EXPECT_TRUE(valid_utf8("\xe0\xa0\x80\xef\xbf\xbf"));   // U+0800, U+FFFF
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf\xee\x80\x80"));   // U+D7FF, U+E000 around the surrogates
  EXPECT_TRUE(valid_utf8("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));  // U+10000, U+10FFFF
  EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8; has_control_chars catches it
}

TEST(Text, RejectsOverlongForms) {
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // '/' in two bytes
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));
  EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));      // '/' in three bytes
  EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));      // U+07FF in three bytes
  EXPECT_FALSE(valid_utf8("\xf0\x80\x80\xaf"));  // '/' in four bytes
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in four bytes
}

TEST(Text, RejectsSurrogatesAndOutOfRange) {
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // U+D800
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));      // U+DFFF
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xfe"));
}

TEST(Text, RejectsTruncatedAndStraySequences) {
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("abc\xe2\x82"));
  EXPECT_FALSE(valid_utf8("\xf0\x9f\x98"));
  EXPECT_FALSE(valid_utf8("\x80"));               // continuation without a lead
  EXPECT_FALSE(valid_utf8("a\xbf" "b"));
  EXPECT_FALSE(valid_utf8("\xe2\x28\xa1"));       // second byte not a continuation
  EXPECT_FALSE(valid_utf8("\xf0\x9f\x98\x28"));   // last byte not a continuation
  EXPECT_FALSE(valid_utf8("\xc3\xb1\xc3"));       // valid then truncated
}

TEST(Text, FindsControlCharacters) {
  EXPECT_FALSE(has_control_chars("Hello, world"));
  EXPECT_FALSE(has_control_chars("line one\nline two\r\n\tindented"));
  EXPECT_FALSE(has_control_chars("\xc2\x85 caf\xc3\xa9"));  // non-ASCII bytes are not C0
  EXPECT_TRUE(has_control_chars(std::string_view("a\0b", 3)));
  EXPECT_TRUE(has_control_chars("bell\a"));
  EXPECT_TRUE(has_control_chars("esc\x1b[31m"));
  EXPECT_TRUE(has_control_chars("\x1f"));
  EXPECT_TRUE(has_control_chars("del\x7f"));
  EXPECT_FALSE(has_control_chars(" ~"));
}

TEST(Text, HexDigits) {
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('9'), 9);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  for (const char c : {'g', 'G', ' ', '/', ':', '@', '`', '\0'}) EXPECT_EQ(hex_value(c), -1) << int(c);
  EXPECT_TRUE(is_hex('e'));
  EXPECT_FALSE(is_hex('x'));
}

TEST(Text, PercentDecodingWithAndWithoutPlus) {
  EXPECT_EQ(percent_decode("a%20b%2fc"), "a b/c");
  EXPECT_EQ(percent_decode("%2B14155550123"), "+14155550123");
  EXPECT_EQ(percent_decode("+1415", Plus::Literal), "+1415");
  EXPECT_EQ(percent_decode("a+b", Plus::Space), "a b");
  EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));  // decoded; what a NUL means is the caller's to decide
  for (const char* bad : {"%", "%2", "%zz", "abc%4", "%g0"}) EXPECT_FALSE(percent_decode(bad).has_value()) << bad;
  std::string out;
  EXPECT_EQ(percent_decode_into("x=ab%4", 2, 6, Plus::Space, out), 4U);  // the offset of the bad '%' in the whole text
  EXPECT_FALSE(percent_decode_into("x=a+%41", 2, 7, Plus::Space, out).has_value());
  EXPECT_EQ(out, "a A");
}

TEST(Text, Uuids) {
  const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  EXPECT_TRUE(is_uuid(id));
  EXPECT_TRUE(is_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
  for (const char* bad : {"", "0f8fad5bd9cb469fa16570867728950e", "0f8fad5b-d9cb-469f-a165-70867728950",
                          "0f8fad5b-d9cb-469f-a165-70867728950g", "0f8fad5b_d9cb-469f-a165-70867728950e"}) {
    EXPECT_FALSE(is_uuid(bad)) << bad;
  }
  const std::optional<std::string> bytes = uuid_bytes("0F8FAD5B-D9CB-469F-A165-70867728950E");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 16U);
  EXPECT_EQ(uuid_text(*bytes), id);
  EXPECT_EQ(uuid_text("short"), "");
}

TEST(Text, AsciiCase) {
  EXPECT_EQ(lower("Bearer ÄBC"), "bearer Äbc");  // only ASCII letters change
  EXPECT_TRUE(iequals("Basic", "bASIC"));
  EXPECT_FALSE(iequals("Basic", "Basi"));
  EXPECT_FALSE(iequals("Basic", "Basid"));
}

}  // namespace
}  // namespace wagate::text
