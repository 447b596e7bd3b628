// idempotency_test.cpp — Idempotency-Key checks, which header wins, request fingerprints and lock ids.
#include "wagate/idempotency.hpp"

#include <gtest/gtest.h>

#include <string>

#include "wagate/crypto.hpp"
#include "wagate/http.hpp"

namespace wagate::idempotency {
namespace {

http::Request with_headers(std::initializer_list<std::pair<const char*, const char*>> headers) {
  http::Request request;
  for (const auto& [name, value] : headers) request.headers[name] = value;
  return request;
}

TEST(Idempotency, KeysArePrintableAsciiUpTo255) {
  EXPECT_EQ(check_key("order-42"), "");
  EXPECT_EQ(check_key("a b c"), "");
  EXPECT_EQ(check_key("7f3c1a9e-2b4d-4e6f-8a1b-0c2d3e4f5a6b"), "");
  EXPECT_EQ(check_key(std::string(255, 'k')), "");
  EXPECT_NE(check_key(std::string(256, 'k')).find("256"), std::string::npos);
  EXPECT_NE(check_key(""), "");
  EXPECT_NE(check_key("tab\there"), "");
  EXPECT_NE(check_key("caf\xc3\xa9"), "");
  EXPECT_NE(check_key(std::string("nul\0byte", 8)), "");
}

TEST(Idempotency, KeyComesFromEitherHeader) {
  EXPECT_EQ(key_from(with_headers({{"idempotency-key", "k1"}})).key, "k1");
  EXPECT_EQ(key_from(with_headers({{"x-idempotency-key", "k2"}})).key, "k2");
  EXPECT_EQ(key_from(with_headers({{"idempotency-key", "k3"}, {"x-idempotency-key", "k3"}})).key, "k3");
  const RequestKey none = key_from(with_headers({}));
  EXPECT_FALSE(none.key.has_value());
  EXPECT_TRUE(none.error.empty());
}

TEST(Idempotency, DisagreeingOrBadHeadersAreErrorsNamingTheHeader) {
  const RequestKey both = key_from(with_headers({{"idempotency-key", "a"}, {"x-idempotency-key", "b"}}));
  EXPECT_FALSE(both.key.has_value());
  EXPECT_NE(both.error.find("differ"), std::string::npos);
  const RequestKey empty = key_from(with_headers({{"idempotency-key", ""}}));
  EXPECT_FALSE(empty.key.has_value());
  EXPECT_NE(empty.error.find("Idempotency-Key"), std::string::npos);
  const std::string long_key(300, 'x');
  const RequestKey too_long = key_from(with_headers({{"x-idempotency-key", long_key.c_str()}}));
  EXPECT_NE(too_long.error.find("X-Idempotency-Key"), std::string::npos);
}

TEST(Idempotency, RequestHashCoversMethodPathAndExactBody) {
  const std::string base = request_hash("POST", "/api/v1/whatsapp/send", R"({"to":"+1","body":"hi"})");
  EXPECT_EQ(base.size(), 32U);
  EXPECT_EQ(base, request_hash("POST", "/api/v1/whatsapp/send", R"({"to":"+1","body":"hi"})"));
  EXPECT_EQ(crypto::hex(base),
            crypto::hex(crypto::sha256("POST\n/api/v1/whatsapp/send\n{\"to\":\"+1\",\"body\":\"hi\"}")));
  EXPECT_NE(base, request_hash("POST", "/api/v1/whatsapp/send", R"({"to":"+1","body":"ho"})"));
  EXPECT_NE(base, request_hash("POST", "/api/v1/distributions", R"({"to":"+1","body":"hi"})"));
  EXPECT_NE(base, request_hash("PUT", "/api/v1/whatsapp/send", R"({"to":"+1","body":"hi"})"));
  // Same JSON, other bytes: a different request, as documented.
  EXPECT_NE(base, request_hash("POST", "/api/v1/whatsapp/send", R"({"to": "+1", "body": "hi"})"));
}

TEST(Idempotency, LockIdsSeparateTenantsAndKeys) {
  EXPECT_EQ(lock_id(1, "k"), lock_id(1, "k"));
  EXPECT_NE(lock_id(1, "k"), lock_id(2, "k"));
  EXPECT_NE(lock_id(1, "k"), lock_id(1, "k2"));
  EXPECT_NE(lock_id(12, "3"), lock_id(1, "23"));
}

}  // namespace
}  // namespace wagate::idempotency
