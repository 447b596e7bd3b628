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

}  // namespace
}  // namespace wagate::text
