// store_test.cpp — durability when Postgres is unreachable: spooled, never silently lost.
#include "wagate/store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "wagate/pg.hpp"

namespace wagate::store {
namespace {

constexpr const char* kDeadDsn = "host=127.0.0.1 port=1 dbname=none connect_timeout=1";

TEST(Store, UtcNowIsIsoWithMicroseconds) {
  EXPECT_TRUE(std::regex_match(utc_now(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
}

// Only what Postgres refuses for the data itself is answered 4xx; anything
// that may pass (connection, timeout, a missing function) is spooled.
TEST(Store, OnlySqlstateClasses22And23AreDataErrors) {
  EXPECT_TRUE(is_data_error(pg::QueryError("22P05", "unsupported Unicode escape sequence")));
  EXPECT_TRUE(is_data_error(pg::QueryError("23514", "check constraint")));
  EXPECT_TRUE(is_data_error(pg::QueryError("22021", "NUL byte")));
  EXPECT_FALSE(is_data_error(pg::QueryError("57014", "statement timeout")));
  EXPECT_FALSE(is_data_error(pg::QueryError("08006", "connection failure")));
  EXPECT_FALSE(is_data_error(pg::QueryError("42883", "function does not exist")));
  EXPECT_FALSE(is_data_error(pg::QueryError("40001", "serialization failure")));
  EXPECT_FALSE(is_data_error(DbError("postgres: connection failed")));
}

TEST(Store, StatusWriterSpoolsEveryRecordWhenPostgresIsDown) {
  char tmpl[] = "/tmp/wagate-store-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    spool::Spool spool(dir);
    StatusWriter writer(kDeadDsn, spool, 2);
    std::vector<std::thread> threads;
    std::atomic<int> spooled{0};
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        if (writer.store(R"({"kind":"status","n":)" + std::to_string(i) + "}") == Outcome::Spooled) ++spooled;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(spooled.load(), 8);
    EXPECT_EQ(spool::stats(dir).records, 8U);
  }
  std::filesystem::remove_all(dir);
}

TEST(Store, StatusWriterReportsLostWhenNeitherStoreWorks) {
  spool::Spool spool("/proc/wagate-cannot-exist");
  StatusWriter writer(kDeadDsn, spool, 1);
  EXPECT_EQ(writer.store(R"({"kind":"status"})"), Outcome::Lost);
}

}  // namespace
}  // namespace wagate::store
