// auth_test.cpp — the Authorization grammar the API accepts, the same one nginx keys its per-key rate limit on.
#include <gtest/gtest.h>

#include "api/auth.hpp"

namespace wagate::api {
namespace {

// nginx/snippets/limits.conf extracts the credential with
// "~*^bearer +([a-z0-9._~+/-]+=*)$" from the value with its surrounding
// whitespace removed; every value accepted here must match it with the same
// credential, and every value refused here must not.
TEST(BearerGrammar, SchemeInAnyCaseThenSpacesThenToken68) {
  EXPECT_EQ(bearer_token("Bearer wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("bearer wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("bEaReR wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("BEARER  wg_abc"), "wg_abc");
  EXPECT_EQ(bearer_token("Bearer     wg_abc"), "wg_abc");
  // A JWT, and base64 with padding: all token68 characters.
  EXPECT_EQ(bearer_token("Bearer eyJh.eyJz-_~.c2ln+/"), "eyJh.eyJz-_~.c2ln+/");
  EXPECT_EQ(bearer_token("Bearer YWJj=="), "YWJj==");
}

TEST(BearerGrammar, WhitespaceAroundTheValueIsNotPartOfIt) {
  // HTTP strips optional whitespace around a field value (nginx does too).
  EXPECT_EQ(bearer_token("  Bearer wg_abc \t"), "wg_abc");
}

TEST(BearerGrammar, RefusesWhatTheRateLimitWouldNotKeyOnTheCredential) {
  EXPECT_FALSE(bearer_token("Bearer\twg_abc").has_value());   // 1*SP, not a tab
  EXPECT_FALSE(bearer_token("Bearer \twg_abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer wg abc").has_value());    // one credential, no spaces in it
  EXPECT_FALSE(bearer_token("Bearer wg_abc,x").has_value());  // not a token68 character
  EXPECT_FALSE(bearer_token("Bearer wg\"abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer =abc").has_value());      // padding only at the end
  EXPECT_FALSE(bearer_token("Bearer ab=c").has_value());
  EXPECT_FALSE(bearer_token("Bearer").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("Bearerwg_abc").has_value());
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz").has_value());
  EXPECT_FALSE(bearer_token("Bearers wg_abc").has_value());
  EXPECT_FALSE(bearer_token("").has_value());
}

}  // namespace
}  // namespace wagate::api
