// store_test.cpp — durability when Postgres is unreachable: spooled, never silently lost.
#include "wagate/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "temp_dir.hpp"
#include "silent_server.hpp"
#include "wagate/pg.hpp"

namespace wagate::store {
namespace {

constexpr const char* kDeadDsn = "host=127.0.0.1 port=1 dbname=none connect_timeout=1";

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
  const test::TempDir temp("wagate-store");
  const std::string& dir = temp.path();
  {
    spool::Spool spool(dir);
    StatusWriter writer(kDeadDsn, spool, 2, std::chrono::milliseconds(1000));
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
}

TEST(Store, StatusWriterReportsLostWhenNeitherStoreWorks) {
  spool::Spool spool("/proc/wagate-cannot-exist");
  StatusWriter writer(kDeadDsn, spool, 1, std::chrono::milliseconds(1000));
  EXPECT_EQ(writer.store(R"({"kind":"status"})"), Outcome::Lost);
}

using test::SilentServer;

// The contract is Twilio's: every callback answered within 2 s, stored or spooled.
TEST(Store, StatusWriterSpoolsWithinTheDeadlineWhenPostgresNeverAnswers) {
  const test::TempDir temp("wagate-store");
  const std::string& dir = temp.path();
  const SilentServer server;
  {
    spool::Spool spool(dir);
    StatusWriter writer(server.pg_dsn(), spool, 1, std::chrono::milliseconds(300));
    std::vector<std::thread> threads;
    std::atomic<int> spooled{0};
    std::atomic<int> late{0};
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        const auto start = std::chrono::steady_clock::now();
        if (writer.store(R"({"kind":"status","n":)" + std::to_string(i) + "}") == Outcome::Spooled) ++spooled;
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) ++late;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(spooled.load(), 4);
    EXPECT_EQ(late.load(), 0);
  }
  EXPECT_EQ(spool::stats(dir).records, 4U);  // each once, though waiter and committer both gave up
}

// The waiter does not depend on its committer: here the committer is still
// stuck connecting (its own limit is 3 s) when the request's deadline passes.
TEST(Store, StatusWriterWaiterSpoolsItselfWhileItsCommitterIsStuck) {
  const test::TempDir temp("wagate-store");
  const std::string& dir = temp.path();
  const SilentServer server;
  {
    spool::Spool spool(dir);
    StatusWriter writer(server.pg_dsn(), spool, 1, std::chrono::milliseconds(3000));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(writer.store(R"({"kind":"status","n":1})", start + std::chrono::milliseconds(300)), Outcome::Spooled);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_EQ(spool::stats(dir).records, 1U);
  }
  // The committer gave up later and found the record answered: not spooled twice.
  EXPECT_EQ(spool::stats(dir).records, 1U);
}

// A graceful stop joins the replayer: with Postgres not answering, its
// connection attempt must give up on its own limit, not hold the stop.
TEST(Store, SpoolReplayerStopsPromptlyWhenPostgresNeverAnswers) {
  const test::TempDir temp("wagate-store");
  const std::string& dir = temp.path();
  const SilentServer server;
  spool::Spool spool(dir);
  spool.append(R"({"kind":"status","n":1})");
  auto replayer = std::make_unique<SpoolReplayer>(
      server.pg_dsn(), spool, pg::Limits{.connect = std::chrono::milliseconds(300)});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // its first attempt is under way
  const auto start = std::chrono::steady_clock::now();
  replayer.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(spool::stats(dir).records, 1U);  // kept for the next attempt
}

}  // namespace
}  // namespace wagate::store
