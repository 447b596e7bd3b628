// db_clients_test.cpp — the Postgres and Redis clients against real servers (started by migrations_test.sh).
//
// Needs WAGATE_TEST_PG_DSN, WAGATE_TEST_REDIS_URL and WAGATE_TEST_REDIS_CONF
// (a daemonizing redis-server config, used to restart the server); every
// test fails when they are missing, so a run without servers cannot pass.
#include <libpq-fe.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "wagate/pg.hpp"
#include "wagate/redis.hpp"

namespace wagate {
namespace {

using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

class PgLive : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = env("WAGATE_TEST_PG_DSN");
    ASSERT_FALSE(dsn_.empty()) << "WAGATE_TEST_PG_DSN is not set: run tests/integration/migrations_test.sh";
    conn_ = std::make_unique<pg::Connection>(dsn_);
    conn_->exec("DROP TABLE IF EXISTS client_test");
    conn_->exec("CREATE TABLE client_test (k text PRIMARY KEY, n int)");
  }
  void TearDown() override {
    if (conn_ && conn_->healthy()) conn_->exec("DROP TABLE IF EXISTS client_test");
  }
  // Counted on another connection: what is committed, not what this session sees.
  long long committed_rows() {
    pg::Connection other(dsn_);
    return other.exec("SELECT count(*) FROM client_test").get_int(0, 0);
  }
  std::string dsn_;
  std::unique_ptr<pg::Connection> conn_;
};

TEST_F(PgLive, ParametersNullsAndTypedValues) {
  const std::string_view longer = "abcdef";
  const pg::Result result =
      conn_->exec("SELECT $1::text AS word, $2::text AS nothing, $3::int + 1 AS answer, $4::text AS accented",
                  {longer.substr(0, 3), std::nullopt, "41", "h\xc3\xa9llo"});
  EXPECT_EQ(result.get(0, result.column("word")), "abc");  // a view that is not NUL-terminated
  EXPECT_TRUE(result.is_null(0, result.column("nothing")));
  EXPECT_EQ(result.get_int(0, result.column("answer")), 42);
  EXPECT_EQ(result.get(0, 3), "h\xc3\xa9llo");

  conn_->exec("INSERT INTO client_test VALUES ('a', 1), ('b', 1), ('c', 2)");
  EXPECT_EQ(conn_->exec("UPDATE client_test SET n = n + 1 WHERE n = $1", {"1"}).affected(), 2);
}

TEST_F(PgLive, TransactionCommitsOrRollsBack) {
  {
    pg::Transaction transaction(*conn_);
    conn_->exec("INSERT INTO client_test VALUES ('committed', 1)");
    transaction.commit();
  }
  EXPECT_EQ(committed_rows(), 1);

  try {
    pg::Transaction transaction(*conn_);
    conn_->exec("INSERT INTO client_test VALUES ('rolled back', 2)");
    throw std::runtime_error("handler failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(committed_rows(), 1);
  // The destructor's ROLLBACK left the session usable, outside any transaction.
  EXPECT_EQ(PQtransactionStatus(conn_->raw()), PQTRANS_IDLE);
}

TEST_F(PgLive, CommitAfterAFailedStatementThrows) {
  pg::Transaction transaction(*conn_);
  conn_->exec("INSERT INTO client_test VALUES ('x', 1)");
  EXPECT_THROW(conn_->exec("SELECT no_such_column FROM client_test"), pg::QueryError);
  EXPECT_THROW(transaction.commit(), DbError);
  EXPECT_EQ(committed_rows(), 0);
}

TEST_F(PgLive, DuplicateKeyIs23505WithoutTheValue) {
  conn_->exec("INSERT INTO client_test VALUES ($1, 1)", {"secret-key-value"});
  try {
    conn_->exec("INSERT INTO client_test VALUES ($1, 1)", {"secret-key-value"});
    FAIL() << "duplicate accepted";
  } catch (const pg::QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    const std::string message = e.what();
    EXPECT_NE(message.find("duplicate key"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret-key-value"), std::string::npos) << message;
  }
}

TEST_F(PgLive, RejectedParameterValueIsNotEchoed) {
  for (const char* value : {"not-a-number-hunter2", "x1"}) {
    try {
      conn_->exec("SELECT $1::int", {value});
      FAIL() << "accepted " << value;
    } catch (const pg::QueryError& e) {
      EXPECT_EQ(e.sqlstate(), "22P02");
      EXPECT_EQ(std::string(e.what()).find(value), std::string::npos) << e.what();
    }
  }
}

TEST_F(PgLive, NulByteInParameterIsRefusedNotTruncated) {
  try {
    conn_->exec("INSERT INTO client_test VALUES ($1, 1)", {std::string_view("ab\0cd", 5)});
    FAIL() << "a value with a NUL byte was accepted";
  } catch (const pg::QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "22021");
  }
  EXPECT_EQ(committed_rows(), 0);
  EXPECT_EQ(conn_->exec("SELECT 1").get_int(0, 0), 1);
}

TEST_F(PgLive, PreparedStatementSurvivesReconnect) {
  conn_->prepare("add_one", "SELECT $1::int + 1");
  conn_->prepare("add_one", "SELECT $1::int + 1");  // again, lazily: a no-op
  EXPECT_THROW(conn_->prepare("add_one", "SELECT 2"), DbError);
  EXPECT_EQ(conn_->exec_prepared("add_one", {"1"}).get_int(0, 0), 2);

  const int old_pid = PQbackendPID(conn_->raw());
  {
    pg::Connection admin(dsn_);
    admin.exec("SELECT pg_terminate_backend($1, 5000)", {std::to_string(old_pid)});
  }
  EXPECT_THROW(conn_->exec_prepared("add_one", {"1"}), DbError);
  EXPECT_FALSE(conn_->healthy());

  conn_->reset();
  EXPECT_TRUE(conn_->healthy());
  EXPECT_NE(PQbackendPID(conn_->raw()), old_pid);
  EXPECT_EQ(conn_->exec_prepared("add_one", {"41"}).get_int(0, 0), 42);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The client gives up at its limit (2 s is the webhook path's contract),
// abandons the connection, and a new one works.
TEST_F(PgLive, StatementPastTheClientLimitIsAbandoned) {
  pg::Connection bounded(dsn_, pg::Limits{.connect = 2000ms, .statement = 300ms});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(bounded.exec("SELECT pg_sleep(5)"), pg::Timeout);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_FALSE(bounded.healthy());
  EXPECT_THROW(bounded.exec("SELECT 1"), DbError);  // no silent reuse of the abandoned session
  bounded.reset();
  EXPECT_EQ(bounded.exec("SELECT 41 + 1").get_int(0, 0), 42);
}

// What "the outcome is unknown" means: a statement given up on may still
// commit. Webhook records are idempotent for exactly this reason.
TEST_F(PgLive, AnAbandonedStatementMayStillCommit) {
  pg::Connection bounded(dsn_, pg::Limits{.statement = 100ms});
  EXPECT_THROW(bounded.exec("INSERT INTO client_test SELECT 'late', 1 FROM pg_sleep(0.5)"), pg::Timeout);
  long long rows = 0;
  for (int i = 0; i < 50 && rows == 0; ++i) {
    std::this_thread::sleep_for(100ms);
    rows = committed_rows();
  }
  EXPECT_EQ(rows, 1);
}

TEST_F(PgLive, ServerStatementTimeoutCancelsWith57014) {
  pg::Connection bounded(dsn_, pg::Limits{.server_statement = 200ms});
  try {
    bounded.exec("SELECT pg_sleep(5)");
    FAIL() << "pg_sleep(5) was not cancelled";
  } catch (const pg::QueryError& e) {
    EXPECT_EQ(e.sqlstate(), pg::kQueryCanceled) << e.what();
  }
  EXPECT_TRUE(bounded.healthy());  // the session is fine, only the statement was too slow
  EXPECT_EQ(bounded.exec("SHOW statement_timeout").get(0, 0), "200ms");
}

TEST_F(PgLive, PassedDeadlineSendsNothingAndNeverLeavesATransactionOpen) {
  pg::Connection conn(dsn_, pg::Limits{.connect = 2000ms, .statement = 2000ms});
  conn.set_deadline(std::chrono::steady_clock::now() - 1ms);
  EXPECT_THROW(conn.exec("INSERT INTO client_test VALUES ('never', 1)"), pg::Timeout);
  EXPECT_TRUE(conn.healthy());  // nothing was sent: the session is still usable
  conn.set_deadline(std::nullopt);
  {
    pg::Transaction transaction(conn);
    conn.exec("INSERT INTO client_test VALUES ('rolled back', 1)");
    conn.set_deadline(std::chrono::steady_clock::now() - 1ms);
  }  // the destructor's ROLLBACK cannot be sent: the session inside the transaction is dropped
  EXPECT_FALSE(conn.healthy());
  EXPECT_EQ(committed_rows(), 0);
}

class RedisLive : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = env("WAGATE_TEST_REDIS_URL");
    conf_ = env("WAGATE_TEST_REDIS_CONF");
    ASSERT_FALSE(url_.empty()) << "WAGATE_TEST_REDIS_URL is not set: run tests/integration/migrations_test.sh";
    ASSERT_FALSE(conf_.empty()) << "WAGATE_TEST_REDIS_CONF is not set: run tests/integration/migrations_test.sh";
  }
  // True once a fresh client's PING gets (or stops getting) an answer.
  bool wait_until_up(bool up) {
    for (int i = 0; i < 100; ++i) {
      try {
        redis::Client probe(url_, 200ms);
        (void)probe.command({"PING"});
        if (up) return true;
      } catch (const RedisError&) {
        if (!up) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  std::string url_;
  std::string conf_;
};

TEST_F(RedisLive, PingAndBinarySafeValues) {
  redis::Client client(url_, 2000ms);
  const redis::Reply pong = client.command({"PING"});
  EXPECT_EQ(pong.type(), REDIS_REPLY_STATUS);
  EXPECT_EQ(pong.str(), "PONG");
  EXPECT_TRUE(client.connected());

  const std::string_view key("key with spaces\r\n", 17);
  const std::string_view value("\0bin\r\nary\xff", 11);
  EXPECT_EQ(client.command({"SET", key, value}).str(), "OK");
  const redis::Reply got = client.command({"GET", key});
  EXPECT_EQ(got.type(), REDIS_REPLY_STRING);
  EXPECT_EQ(got.str(), value);
  EXPECT_TRUE(client.command({"GET", "no such key"}).is_nil());

  // An error reply is a value; the connection stays.
  const redis::Reply error = client.command({"INCR", key});
  EXPECT_TRUE(error.is_error());
  EXPECT_TRUE(error.str().starts_with("ERR")) << error.str();
  EXPECT_TRUE(client.connected());

  (void)client.command({"DEL", "list"});
  EXPECT_EQ(client.command({"RPUSH", "list", "a", "b"}).integer(), 2);
  const redis::Reply items = client.command({"LRANGE", "list", "0", "-1"});
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(std::string_view(items.element(1)->str, items.element(1)->len), "b");
  EXPECT_EQ(items.element(2), nullptr);
}

// The URL selects a database other than 0 and carries the password the
// server requires: both are applied on connect.
TEST_F(RedisLive, AuthAndSelectOnConnect) {
  const redis::Endpoint endpoint = redis::parse_url(url_);
  ASSERT_NE(endpoint.db, 0) << "the test URL must select a database other than 0";
  ASSERT_FALSE(endpoint.password.empty()) << "the test server must require a password";
  const std::string base = "redis://:" + std::string(endpoint.password.reveal()) + "@" + endpoint.describe();

  redis::Client selected(url_, 2000ms);
  redis::Client db0(base + "/0", 2000ms);
  (void)selected.command({"SET", "where", "selected"});
  (void)db0.command({"DEL", "where"});
  EXPECT_EQ(selected.command({"GET", "where"}).str(), "selected");
  EXPECT_TRUE(db0.command({"GET", "where"}).is_nil());

  redis::Client wrong("redis://:wrong-hunter2@" + endpoint.describe() + "/0", 2000ms);
  try {
    (void)wrong.command({"PING"});
    FAIL() << "a wrong password was accepted";
  } catch (const RedisError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("AUTH"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-hunter2"), std::string::npos) << message;
  }
  EXPECT_FALSE(wrong.connected());
}

TEST_F(RedisLive, ReconnectsAfterTheServerComesBack) {
  redis::Client client(url_, 2000ms);
  const redis::Reply info = client.command({"INFO", "server"});
  const std::string_view text = info.str();
  const size_t at = text.find("process_id:");
  ASSERT_NE(at, std::string_view::npos);
  const pid_t pid = std::stoi(std::string(text.substr(at + 11, text.find('\r', at) - at - 11)));

  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_until_up(false)) << "redis-server did not go away";
  EXPECT_THROW((void)client.command({"PING"}), RedisError);
  EXPECT_FALSE(client.connected());
  EXPECT_THROW((void)client.command({"PING"}), RedisError);  // still down: connecting fails

  ASSERT_EQ(std::system(("redis-server " + conf_).c_str()), 0);
  ASSERT_TRUE(wait_until_up(true)) << "redis-server did not come back";
  // The same client, first try after the restart.
  EXPECT_EQ(client.command({"PING"}).str(), "PONG");
  EXPECT_TRUE(client.connected());
}

}  // namespace
}  // namespace wagate
