// tenants_test.cpp — the per-process tenant cache during an outage: the snapshot or the stale entry, and no lookup storm.
#include "wagate/tenants.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "temp_dir.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"

namespace wagate::tenants {
namespace {

constexpr const char* kAccount = "AC0123456789abcdef0123456789abcdef";
constexpr const char* kMasterHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class TenantCacheOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream out(dir_ + "/tenants.snapshot");
    out << kAccount << " 7 " << crypto::hex("acme") << ' '
        << crypto::hex(crypto::seal(master_, "the-token", token_aad(kAccount))) << '\n';
  }

  // A database that is down: every ask for a connection is counted.
  std::function<pg::Connection*()> down() {
    return [this]() -> pg::Connection* {
      ++asks_;
      return nullptr;
    };
  }

  const test::TempDir temp_{"wagate-tenants"};
  const std::string dir_ = temp_.path();
  Secret master_ = crypto::master_key_from(kMasterHex);
  int asks_ = 0;
};

TEST_F(TenantCacheOutage, ASnapshotAnswerIsKeptForTheTtlWithoutAskingAgain) {
  Cache cache(dir_ + "/tenants.snapshot", std::chrono::seconds(60));
  for (int i = 0; i < 5; ++i) {
    const auto tenant = cache.find(down(), master_, kAccount);
    ASSERT_NE(tenant, nullptr);
    EXPECT_EQ(tenant->name, "acme");
    ASSERT_EQ(tenant->auth_tokens.size(), 1U);
    EXPECT_EQ(tenant->auth_tokens[0].reveal(), "the-token");
  }
  // One failed lookup for five webhooks: the others did not spend their
  // deadline waiting on a database that is down.
  EXPECT_EQ(asks_, 1);
}

TEST_F(TenantCacheOutage, AfterTheTtlTheDatabaseIsAskedAgain) {
  Cache cache(dir_ + "/tenants.snapshot", std::chrono::milliseconds(20));
  ASSERT_NE(cache.find(down(), master_, kAccount), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ASSERT_NE(cache.find(down(), master_, kAccount), nullptr);  // still served, from the stale entry
  EXPECT_EQ(asks_, 2);
}

TEST_F(TenantCacheOutage, AnUnknownAccountIsAnOutageNotARefusal) {
  Cache cache(dir_ + "/tenants.snapshot", std::chrono::seconds(60));
  EXPECT_THROW((void)cache.find(down(), master_, "ACffffffffffffffffffffffffffffffff"), DbError);
  EXPECT_EQ(asks_, 1);
  EXPECT_EQ(cache.find(down(), master_, "not-an-account"), nullptr);  // junk never reaches the database
  EXPECT_EQ(asks_, 1);
}

}  // namespace
}  // namespace wagate::tenants
