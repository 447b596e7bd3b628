// secret_test.cpp — a credential compares by content and never prints.
#include "wagate/secret.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace wagate {
namespace {

TEST(Secret, EqualityComparesEveryByte) {
  EXPECT_TRUE(Secret("auth-token-1") == Secret("auth-token-1"));
  EXPECT_FALSE(Secret("auth-token-1") == Secret("auth-token-2"));
  EXPECT_FALSE(Secret("auth-token-1") == Secret("auth-token-12"));
  EXPECT_FALSE(Secret("auth-token") == Secret(""));
  EXPECT_TRUE(Secret() == Secret(""));
  // Binary keys may hold NUL bytes: the comparison must not stop at one.
  EXPECT_FALSE(Secret(std::string("a\0b", 3)) == Secret(std::string("a\0c", 3)));
  EXPECT_TRUE(Secret(std::string("a\0b", 3)) == Secret(std::string("a\0b", 3)));
}

TEST(Secret, StreamsAsRedacted) {
  std::ostringstream out;
  out << "token=" << Secret("hunter2");
  EXPECT_EQ(out.str(), "token=(redacted)");
}

TEST(Secret, RevealGivesTheValueBackToCodeThatAsks) {
  const Secret secret("0123abcd");
  EXPECT_EQ(secret.reveal(), "0123abcd");
  EXPECT_FALSE(secret.empty());
  EXPECT_TRUE(Secret().empty());
  Secret copy = secret;
  EXPECT_TRUE(copy == secret);
  const Secret moved = std::move(copy);
  EXPECT_EQ(moved.reveal(), "0123abcd");
}

}  // namespace
}  // namespace wagate
