// webhook_test.cpp — webhook admission: media type, body, tenant (from the snapshot), signature, token rotation.
#include "wagate/webhook.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "test_context.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/twilio_signature.hpp"

namespace wagate::webhook {
namespace {

constexpr const char* kAccount = "AC0123456789abcdef0123456789abcdef";
constexpr const char* kMasterHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

// A tenant known only from the snapshot file: Postgres is unreachable in
// unit tests, which is exactly the outage path the snapshot exists for.
class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ + "/master.key") << kMasterHex << "\n";
    write_snapshot({"current-token"});
    context_ = test::make_context("master_key_file = " + dir_ + "/master.key\n");
    cache_ = std::make_unique<tenants::Cache>(dir_ + "/tenants.snapshot");
  }

  void write_snapshot(const std::vector<std::string>& tokens) {
    const Secret master = crypto::master_key_from(kMasterHex);
    std::ofstream out(dir_ + "/tenants.snapshot");
    out << kAccount << " 7 " << crypto::hex("acme");
    for (const auto& token : tokens) {
      out << ' ' << crypto::hex(crypto::seal(master, token, tenants::token_aad(kAccount)));
    }
    out << '\n';
  }

  http::Request signed_request(const std::string& token, const std::string& body_extra = "") {
    http::Request request;
    request.method = "POST";
    request.scheme = "https";
    request.host = "gw.example.com";
    request.request_uri = "/api/v1/whatsapp/status";
    request.path = request.request_uri;
    request.content_type = "application/x-www-form-urlencoded";
    request.body = std::string("AccountSid=") + kAccount + "&MessageSid=SM0123456789abcdef0123456789abcdef" +
                   "&MessageStatus=delivered" + body_extra;
    const auto parsed = form::parse(request.body);
    request.headers["x-twilio-signature"] =
        twilio::compute_signature("https://gw.example.com/api/v1/whatsapp/status", parsed.params, token);
    return request;
  }

  int status_of(const http::Request& request) {
    try {
      verify(request, *context_, *cache_);
      return 200;
    } catch (const ApiError& e) {
      return e.status();
    }
  }

  const test::TempDir temp_{"wagate-webhook"};
  const std::string dir_ = temp_.path();
  test::TestContext context_;
  std::unique_ptr<tenants::Cache> cache_;
};

TEST_F(WebhookTest, AcceptsASignedRequestAndNamesTheTenant) {
  const auto verified = verify(signed_request("current-token"), *context_, *cache_);
  EXPECT_EQ(verified.tenant->id, 7);
  EXPECT_EQ(verified.tenant->name, "acme");
  EXPECT_EQ(verified.url, "https://gw.example.com/api/v1/whatsapp/status");
  EXPECT_EQ(verified.params.first("MessageStatus").value_or(""), "delivered");
}

TEST_F(WebhookTest, RejectsEachProblemWithItsStatus) {
  http::Request wrong_type = signed_request("current-token");
  wrong_type.content_type = "application/json";
  EXPECT_EQ(status_of(wrong_type), 415);

  http::Request unsigned_request = signed_request("current-token");
  unsigned_request.headers.erase("x-twilio-signature");
  EXPECT_EQ(status_of(unsigned_request), 400);

  EXPECT_EQ(status_of(signed_request("someone-elses-token")), 403);

  http::Request tampered = signed_request("current-token");
  tampered.body += "&MessageStatus=read";
  EXPECT_EQ(status_of(tampered), 403);

  http::Request malformed = signed_request("current-token");
  malformed.body = "AccountSid=%G1";
  EXPECT_EQ(status_of(malformed), 400);

  EXPECT_EQ(status_of(signed_request("current-token", "&Body=%FF%FE")), 400);

  http::Request no_account = signed_request("current-token");
  no_account.body = "MessageSid=SM1";
  EXPECT_EQ(status_of(no_account), 400);

  // An AccountSid that is neither cached nor in the snapshot cannot be
  // checked while Postgres is down: that is a database failure (503), never
  // an acceptance. With Postgres up it is a 403 (integration tests).
  http::Request unknown = signed_request("current-token");
  unknown.body = "AccountSid=AC0000000000000000000000000000000f";
  EXPECT_THROW(verify(unknown, *context_, *cache_), DbError);

  http::Request junk_account = signed_request("current-token");
  junk_account.body = "AccountSid=not-an-account";
  EXPECT_EQ(status_of(junk_account), 403);
}

// Postgres refuses a NUL byte (jsonb and text alike) and bytes that are not
// UTF-8: such a webhook could never be stored, so it must not be answered 200.
TEST_F(WebhookTest, NulOrInvalidUtf8InAnySignedParameterIs400NamingIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"&ErrorMessage=bad%00x", "ErrorMessage"}, {"&Body=a%00", "Body"},       {"&ProfileName=%00", "ProfileName"},
      {"&Odd%00Name=x", "Odd\\u0000Name"},       {"&Body=%C3%28", "Body"},      {"&%FFName=x", "?"},
  };
  for (const auto& [extra, field] : cases) {
    try {
      verify(signed_request("current-token", extra), *context_, *cache_);
      ADD_FAILURE() << extra << " was accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << extra;
      EXPECT_EQ(e.field(), field) << extra;
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << extra << ": " << e.what();
    }
  }
}

// The content check comes after the signature: whoever cannot sign learns
// nothing from us but 403, whatever the body holds.
TEST_F(WebhookTest, UnsignedOrForgedRequestWithBadBytesIsStill403) {
  EXPECT_EQ(status_of(signed_request("someone-elses-token", "&Body=a%00")), 403);
  http::Request tampered = signed_request("current-token");
  tampered.body += "&Body=%FF%FE";
  EXPECT_EQ(status_of(tampered), 403);
}

TEST_F(WebhookTest, PreviousTokenIsAcceptedDuringRotation) {
  write_snapshot({"new-token", "current-token"});
  tenants::Cache fresh(dir_ + "/tenants.snapshot");
  EXPECT_NO_THROW(verify(signed_request("new-token"), *context_, fresh));
  EXPECT_NO_THROW(verify(signed_request("current-token"), *context_, fresh));
}

TEST_F(WebhookTest, ConfiguredPublicBaseUrlWinsOverTheBackendsView) {
  auto context = test::make_context("master_key_file = " + dir_ + "/master.key\n" +
                                    "public_base_url = https://gw.example.com\n");
  http::Request request = signed_request("current-token");
  request.scheme = "http";  // TLS ended at a proxy in front
  request.host = "127.0.0.1:8080";
  EXPECT_NO_THROW(verify(request, *context, *cache_));
  // Without the configured base the backend's view does not match what Twilio signed.
  EXPECT_EQ(status_of(request), 403);
}

TEST(WebhookRequiredParam, MissingOrEmptyIs400NamingTheField) {
  form::Params params;
  params.add("MessageSid", "");
  try {
    required_param(params, "MessageSid");
    FAIL() << "no exception";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.field(), "MessageSid");
  }
  EXPECT_THROW(required_param(params, "MessageStatus"), ApiError);
}

}  // namespace
}  // namespace wagate::webhook
