// distribution_sql_test.cpp — distributions' SQL against a real Postgres: replies marked by the inbound write path, the circuit breaker job.
//
// Needs WAGATE_TEST_PG_DSN, a migrated database of its own (worker_sql_test.sh
// starts one); every test fails when it is missing. Recipients and their
// messages are inserted directly, as the feeder and the sender would leave
// them; the verdict's thresholds are distribution_breaker_test's business
// (unit), this file holds what Postgres makes of them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "maint/distribution_breaker.hpp"
#include "wagate/config.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"
#include "wagate/store.hpp"

namespace wagate {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

class DistributionSql : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dsn = env("WAGATE_TEST_PG_DSN");
    ASSERT_FALSE(dsn.empty()) << "WAGATE_TEST_PG_DSN is not set: run tests/integration/worker_sql_test.sh";
    db_ = std::make_unique<pg::Connection>(dsn);
    db_->exec("TRUNCATE messages, message_index, conversations, contact_events, distribution_links, "
              "distribution_recipients, distributions");
    tenant_ = tenant("dist-sql-a", "AC0123456789abcdef0123456789abcdea");
    other_tenant_ = tenant("dist-sql-b", "AC0123456789abcdef0123456789abcdeb");
  }

  std::string tenant(std::string_view name, std::string_view account_sid) {
    return std::string(db_->exec("INSERT INTO tenants (name, account_sid, auth_token_enc)"
                                 " VALUES ($1, $2, '\\x00')"
                                 " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING tenant_id",
                                 {name, account_sid})
                           .get(0, 0));
  }

  std::string distribution(std::string_view status, const std::string& tenant_id) {
    return std::string(db_->exec("INSERT INTO distributions (tenant_id, name, status, body)"
                                 " VALUES ($1, 'spring survey', $2, 'hello {{name}}') RETURNING id::text",
                                 {tenant_id, status})
                           .get(0, 0));
  }
  std::string distribution(std::string_view status) { return distribution(status, tenant_); }

  // n recipients of the distribution, each with an outbound message created
  // `age` ago that ended `status` (with `code`) `outcome_age` ago.
  void messages(const std::string& dist, int n, std::string_view status, std::string_view code = "",
                std::string_view outcome_age = "1 minute", const std::string* tenant_id = nullptr) {
    const std::string& t = tenant_id != nullptr ? *tenant_id : tenant_;
    db_->exec(
        "WITH m AS ("
        " INSERT INTO messages (tenant_id, direction, to_addr, from_addr, body, status, status_rank, error_code,"
        "  failed_at, delivered_at, last_status_at, created_at)"
        " SELECT $1, 'outbound', 'whatsapp:+1555' || lpad((g + $6)::text, 7, '0'), 'whatsapp:+14155230000', 'hi',"
        "  $3, wagate_status_rank($3), NULLIF($4, '')::int,"
        "  CASE WHEN $3 IN ('failed', 'undelivered') THEN now() - $5::interval END,"
        "  CASE WHEN $3 IN ('delivered', 'read') THEN now() - $5::interval END,"
        "  now() - $5::interval, now() - $5::interval - interval '1 minute'"
        " FROM generate_series(1, $7::int) g RETURNING id, to_addr)"
        "INSERT INTO distribution_recipients (tenant_id, distribution_id, phone, body, status, message_id)"
        " SELECT $1, $2::uuid, wagate_contact_phone(to_addr), 'hi', 'queued', id FROM m",
        {t, dist, status, code, outcome_age, std::to_string(next_phone_), std::to_string(n)});
    next_phone_ += n;
  }

  std::string status_of(const std::string& dist) {
    const pg::Result row =
        db_->exec("SELECT status, coalesce(status_reason, '<null>') FROM distributions WHERE id = $1::uuid", {dist});
    return std::string(row.get(0, 0)) + " " + std::string(row.get(0, 1));
  }

  maint::BreakerStats run_breaker() { return maint::distribution_breaker(*db_, config::Config::defaults()); }

  // A recipient of a running distribution whose message went `age` ago.
  std::string recipient(std::string_view phone, std::string_view age, const std::string& tenant_id) {
    const std::string dist = distribution("running", tenant_id);
    return std::string(db_->exec(
        "WITH m AS (INSERT INTO messages (tenant_id, direction, to_addr, body, status, status_rank, created_at)"
        " VALUES ($1, 'outbound', 'whatsapp:' || $3, 'hi', 'delivered', wagate_status_rank('delivered'),"
        " now() - $4::interval) RETURNING id)"
        "INSERT INTO distribution_recipients (tenant_id, distribution_id, phone, body, status, message_id)"
        " SELECT $1, $2::uuid, $3, 'hi', 'queued', id FROM m RETURNING id::text",
        {tenant_id, dist, phone, age}).get(0, 0));
  }
  std::string recipient(std::string_view phone, std::string_view age) { return recipient(phone, age, tenant_); }

  std::string replied_at(const std::string& recipient_id) {
    return std::string(db_->exec("SELECT coalesce(replied_at::text, '<null>') FROM distribution_recipients"
                                 " WHERE id = $1::bigint", {recipient_id}).get(0, 0));
  }

  // An inbound record as fcgi/inbound writes it (a window of -1: none, as an older version spooled it).
  std::string inbound(std::string_view phone, std::string_view body = "thanks", std::string_view action = "",
                      int window_hours = 72, std::string_view received_at = "") {
    json::Value r = json::object();
    json::set(r.get(), "kind", json::string("inbound"));
    json::set(r.get(), "tenant_id", json::integer(std::stoll(tenant_)));
    const std::string n = std::to_string(++next_sid_);
    json::set(r.get(), "sid", json::string("SM" + std::string(32 - n.size(), '0') + n));
    json::set(r.get(), "from", json::string("whatsapp:" + std::string(phone)));
    json::set(r.get(), "to", json::string("whatsapp:+14155230000"));
    json::set(r.get(), "body", json::string(body));
    json::set(r.get(), "media", json::array());
    json::set(r.get(), "details", json::object());
    json::set(r.get(), "params", json::object());
    json::set(r.get(), "contact_action", json::string(action));
    const std::string now = received_at.empty() ? std::string(db_->exec("SELECT now()::text").get(0, 0))
                                                : std::string(received_at);
    json::set(r.get(), "received_at", json::string(now));
    if (window_hours >= 0) json::set(r.get(), "reply_window_hours", json::integer(window_hours));
    return json::dump(r.get());
  }

  std::unique_ptr<pg::Connection> db_;
  std::string tenant_;
  std::string other_tenant_;
  int next_phone_ = 1;
  int next_sid_ = 0;
};

// --- replies ---------------------------------------------------------------

TEST_F(DistributionSql, AnInboundMessageMarksTheRecipientRepliedOnceAtItsFirstReply) {
  const std::string r = recipient("+15557000001", "1 hour");
  const std::string first = inbound("+15557000001", "thanks", "", 72, "2030-01-01 00:00:00+00");
  // A reply at a fixed time after the message: now() would be the statement's own.
  db_->exec("UPDATE messages SET created_at = '2029-12-31 23:00:00+00' WHERE direction = 'outbound'");
  ASSERT_EQ(store::store_inbound(*db_, first), store::Outcome::Stored);
  EXPECT_EQ(replied_at(r), "2030-01-01 00:00:00+00");
  ASSERT_EQ(store::store_inbound(*db_, inbound("+15557000001", "again", "", 72, "2030-01-01 05:00:00+00")),
            store::Outcome::Stored);
  EXPECT_EQ(replied_at(r), "2030-01-01 00:00:00+00");
}

TEST_F(DistributionSql, OnlyAReplyWithinTheWindowAfterTheMessageCounts) {
  const std::string old_message = recipient("+15557000002", "80 hours");
  const std::string recent = recipient("+15557000003", "2 hours");
  const std::string later = recipient("+15557000004", "-1 hour");  // a message after the reply
  store::store_inbound(*db_, inbound("+15557000002"));
  store::store_inbound(*db_, inbound("+15557000003", "hi", "", 1));  // a 1-hour window: too late
  store::store_inbound(*db_, inbound("+15557000004"));
  EXPECT_EQ(replied_at(old_message), "<null>");
  EXPECT_EQ(replied_at(recent), "<null>");
  EXPECT_EQ(replied_at(later), "<null>");
  // A record without a window (spooled by an older version): 72 hours.
  store::store_inbound(*db_, inbound("+15557000003", "hi", "", -1));
  EXPECT_NE(replied_at(recent), "<null>");
}

TEST_F(DistributionSql, AReplyMarksOnlyItsOwnTenantsRecipients) {
  const std::string mine = recipient("+15557000005", "1 hour");
  const std::string theirs = recipient("+15557000005", "1 hour", other_tenant_);
  store::store_inbound(*db_, inbound("+15557000005"));
  EXPECT_NE(replied_at(mine), "<null>");
  EXPECT_EQ(replied_at(theirs), "<null>");
}

TEST_F(DistributionSql, RepliesReplayedFromTheSpoolAreMarkedToo) {
  const std::string r = recipient("+15557000006", "1 hour");
  EXPECT_TRUE(store::apply_records(*db_, {inbound("+15557000006")}).empty());
  EXPECT_NE(replied_at(r), "<null>");
}

TEST_F(DistributionSql, StopIsAReplyAndAnOptOut) {
  const std::string r = recipient("+15557000007", "1 hour");
  ASSERT_EQ(store::store_inbound(*db_, inbound("+15557000007", "STOP", "opt_out")), store::Outcome::Stored);
  EXPECT_NE(replied_at(r), "<null>");
  EXPECT_EQ(db_->exec("SELECT opted_out::text FROM conversations WHERE tenant_id = $1 AND phone = '+15557000007'",
                      {tenant_}).get(0, 0), "true");
}

// --- circuit breaker ---------------------------------------------------------

TEST_F(DistributionSql, ARunningDistributionWithMarketingLimitFailuresPausesWithItsReason) {
  const std::string dist = distribution("running");
  messages(dist, 12, "failed", "63049");
  messages(dist, 38, "delivered");
  const maint::BreakerStats stats = run_breaker();
  EXPECT_EQ(stats.paused, 1);
  EXPECT_EQ(status_of(dist), "paused circuit_breaker: 63049 for 12 of the last 50 messages");
}

TEST_F(DistributionSql, OnlyRunningDistributionsArePaused) {
  std::vector<std::string> others;
  for (const char* status : {"completed", "paused", "canceled", "scheduled"}) {
    others.push_back(distribution(status));
    messages(others.back(), 30, "failed", "63016");
  }
  const std::string healthy = distribution("running");
  messages(healthy, 50, "delivered");
  messages(healthy, 5, "failed", "63049");
  const std::string failing = distribution("running");
  messages(failing, 25, "undelivered", "30008");
  const maint::BreakerStats stats = run_breaker();
  EXPECT_EQ(stats.checked, 2);
  EXPECT_EQ(stats.paused, 1);
  EXPECT_EQ(status_of(others[0]), "completed <null>");
  EXPECT_EQ(status_of(others[1]), "paused <null>");
  EXPECT_EQ(status_of(others[2]), "canceled <null>");
  EXPECT_EQ(status_of(others[3]), "scheduled <null>");
  EXPECT_EQ(status_of(healthy), "running <null>");
  EXPECT_EQ(status_of(failing), "paused circuit_breaker: failures for 25 of the last 25 messages");
}

TEST_F(DistributionSql, MessagesStillUnderWayAreNotOutcomes) {
  const std::string dist = distribution("running");
  messages(dist, 30, "sent");
  messages(dist, 30, "accepted");
  messages(dist, 5, "failed", "63016");
  EXPECT_EQ(run_breaker().paused, 0);
  EXPECT_EQ(status_of(dist), "running <null>");
}

TEST_F(DistributionSql, AfterAResumeOnlyLaterOutcomesCount) {
  const std::string dist = distribution("running");
  messages(dist, 20, "failed", "63049", "1 hour");
  messages(dist, 5, "delivered", "", "1 minute");
  db_->exec("UPDATE distributions SET breaker_since = now() - interval '30 minutes' WHERE id = $1::uuid", {dist});
  EXPECT_EQ(run_breaker().paused, 0);
  EXPECT_EQ(status_of(dist), "running <null>");
  // The same failures after the resume trip it.
  messages(dist, 10, "failed", "63049", "1 minute");
  EXPECT_EQ(run_breaker().paused, 1);
  EXPECT_EQ(status_of(dist), "paused circuit_breaker: 63049 for 10 of the last 15 messages");
}

TEST_F(DistributionSql, OnlyTheMostRecentOutcomesCount) {
  const std::string dist = distribution("running");
  messages(dist, 20, "failed", "63049", "2 hours");
  messages(dist, 50, "delivered", "", "1 minute");
  EXPECT_EQ(run_breaker().paused, 0);
  EXPECT_EQ(status_of(dist), "running <null>");
}

}  // namespace
}  // namespace wagate
