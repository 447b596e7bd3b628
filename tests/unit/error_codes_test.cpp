// error_codes_test.cpp — the Twilio/WhatsApp error table: every code of PROTOCOL.md §5, lookups, retryable verdicts.
#include "wagate/error_codes.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace wagate::error_codes {
namespace {

constexpr char kProtocolPath[] = WAGATE_TEST_DATA_DIR "/twilio/PROTOCOL.md";
constexpr char kApiDocPath[] = WAGATE_SOURCE_DIR "/docs/api.md";

std::string read_file(const char* path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The five-digit codes named in §5 of PROTOCOL.md, read from the document
// itself so that a code added there fails this test until the table has it.
std::set<int> protocol_section5_codes() {
  const std::string doc = read_file(kProtocolPath);
  const size_t start = doc.find("\n## 5.");
  EXPECT_NE(start, std::string::npos) << "no section 5 in PROTOCOL.md";
  const size_t end = doc.find("\n## ", start + 1);
  const std::string section = doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::set<int> codes;
  const std::regex code(R"(\b(2\d{4}|3\d{4}|6\d{4})\b)");
  for (auto it = std::sregex_iterator(section.begin(), section.end(), code); it != std::sregex_iterator(); ++it) {
    codes.insert(std::stoi(it->str()));
  }
  return codes;
}

TEST(ErrorCodes, EveryCodeOfProtocolSection5IsInTheTable) {
  const std::set<int> codes = protocol_section5_codes();
  // The section names 23 codes; far fewer means the parsing above broke.
  EXPECT_GE(codes.size(), 20U);
  for (const int code : codes) EXPECT_NE(find(code), nullptr) << code << " is named in PROTOCOL.md §5";
}

TEST(ErrorCodes, TheCodesTheBriefListsArePresent) {
  for (const int code : {21211, 21408, 21610, 21614, 20003, 20429, 20503, 30001, 30002, 30003, 30004, 30005, 30006,
                         30007, 30008, 30009, 30010, 63001, 63003, 63005, 63007, 63016, 63017, 63018, 63024, 63032,
                         63038, 63049}) {
    EXPECT_NE(find(code), nullptr) << code;
  }
}

TEST(ErrorCodes, FindReturnsTheEntryOfItsCode) {
  const ErrorCode* entry = find(63016);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->code, 63016);
  EXPECT_EQ(entry->category, Category::SessionWindow);
  EXPECT_NE(entry->action.find("template"), std::string_view::npos) << entry->action;
  for (const ErrorCode& e : all()) {
    const ErrorCode* found = find(e.code);
    ASSERT_NE(found, nullptr) << e.code;
    EXPECT_EQ(found, &e) << e.code;
  }
}

TEST(ErrorCodes, EveryEntryIsComplete) {
  int previous = 0;
  for (const ErrorCode& e : all()) {
    EXPECT_GT(e.code, previous) << "the table must be sorted without duplicates";
    previous = e.code;
    EXPECT_FALSE(e.description.empty()) << e.code;
    EXPECT_FALSE(e.cause.empty()) << e.code;
    EXPECT_FALSE(e.action.empty()) << e.code;
    EXPECT_FALSE(category_name(e.category).empty()) << e.code;
  }
}

TEST(ErrorCodes, UnknownCodesAreNotFoundAndNeverRetryable) {
  for (const int code : {0, -1, 1, 30000, 63000, 63999, 99999}) EXPECT_EQ(find(code), nullptr) << code;
  const ErrorCode unknown = describe(12345);
  EXPECT_EQ(unknown.code, 12345);
  EXPECT_EQ(unknown.description, kUnknownDescription);
  EXPECT_EQ(unknown.action, kUnknownAction);
  EXPECT_FALSE(unknown.retryable);
  EXPECT_EQ(describe(30003).description, find(30003)->description);
}

// What an operator's retry resends: transient failures only.
TEST(ErrorCodes, RetryableOnlyWhenAResendCanHelp) {
  for (const int code : {30001, 30003, 30008, 20429, 20503, 63017, 63018, 63038}) {
    EXPECT_TRUE(find(code)->retryable) << code;
  }
  // Wrong number, opt-out, window, not on WhatsApp, blocked, filtered, and
  // Meta's explicit "do not resend at once" / experiment answers.
  for (const int code : {21211, 21610, 21614, 30004, 30005, 30006, 30007, 63003, 63016, 63024, 63032, 63049, 20003,
                         63001, 63007}) {
    EXPECT_FALSE(find(code)->retryable) << code;
  }
}

// docs/api.md tells API users which codes a resend can help with: it must
// say what the table says.
TEST(ErrorCodes, TheDocumentedRetryableCodesAreTheTables) {
  const std::string doc = read_file(kApiDocPath);
  const size_t start = doc.find("Retryable codes:");
  ASSERT_NE(start, std::string::npos) << "docs/api.md lists no retryable codes";
  const std::string list = doc.substr(start, doc.find('.', start) - start);
  std::set<int> documented;
  const std::regex code(R"(\b\d{5}\b)");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), code); it != std::sregex_iterator(); ++it) {
    documented.insert(std::stoi(it->str()));
  }
  std::set<int> retryable;
  for (const ErrorCode& e : all()) {
    if (e.retryable) retryable.insert(e.code);
  }
  EXPECT_EQ(documented, retryable);
}

TEST(ErrorCodes, CategoryNamesAreDistinct) {
  std::set<std::string_view> names;
  for (const Category c : {Category::Recipient, Category::Content, Category::Template, Category::SessionWindow,
                           Category::RateLimit, Category::Account, Category::Configuration, Category::Carrier,
                           Category::Policy, Category::Platform}) {
    names.insert(category_name(c));
  }
  EXPECT_EQ(names.size(), 10U);
  EXPECT_EQ(category_name(find(63018)->category), "rate_limit");
}

}  // namespace
}  // namespace wagate::error_codes
