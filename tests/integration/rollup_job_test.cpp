// rollup_job_test.cpp — the rollup job against a real Postgres: its tables equal a full recount, run after run.
//
// Needs WAGATE_TEST_PG_DSN, a migrated database of its own (worker_sql_test.sh
// starts one); every test fails when it is missing, so a run without a
// server cannot pass. Each test starts from no messages and no rollup.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "maint/rollup_job.hpp"
#include "wagate/pg.hpp"

namespace wagate::maint {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

constexpr std::string_view kRollupTables =
    "delivery_rollup_counts, delivery_rollup_times, delivery_rollup_buckets, delivery_rollup_statuses";

// The counts table as a recount straight from the messages would have it:
// per UTC hour and day, per sender and for all senders ('*').
constexpr std::string_view kRecount =
    "WITH m AS (SELECT tenant_id, created_at, coalesce(from_addr, '') AS sender, status,"
    "                  coalesce(error_code, 0) AS error_code, delivery_ms FROM messages WHERE direction = 'outbound'),"
    " p AS (SELECT m.*, v.period, v.start FROM m CROSS JOIN LATERAL (VALUES"
    "         ('hour', date_trunc('hour', created_at, 'UTC')),"
    "         ('day', date_trunc('day', created_at, 'UTC'))) v(period, start)),"
    " s AS (SELECT p.*, x.who FROM p CROSS JOIN LATERAL (VALUES (p.sender), ('*')) x(who))"
    " SELECT string_agg(concat_ws('|', tenant_id, period, extract(epoch FROM start)::bigint, who, status, error_code,"
    "                             n, timed, ms), E'\\n' ORDER BY tenant_id, period, start, who, status, error_code)"
    " FROM (SELECT tenant_id, period, start, who, status, error_code, count(*) AS n, count(delivery_ms) AS timed,"
    "              coalesce(sum(delivery_ms), 0) AS ms FROM s GROUP BY 1, 2, 3, 4, 5, 6) g";

constexpr std::string_view kCounts =
    "SELECT string_agg(concat_ws('|', tenant_id, period, extract(epoch FROM period_start)::bigint, sender, status,"
    "                            error_code, messages, timed, delivery_ms_sum), E'\\n'"
    "                  ORDER BY tenant_id, period, period_start, sender, status, error_code)"
    " FROM delivery_rollup_counts";

// Every row of every rollup table, in a fixed order.
constexpr std::string_view kEverything =
    "SELECT concat_ws(E'\\n--\\n',"
    " (SELECT string_agg(r::text, E'\\n' ORDER BY r::text) FROM delivery_rollup_counts r),"
    " (SELECT string_agg(r::text, E'\\n' ORDER BY r::text) FROM delivery_rollup_times r),"
    " (SELECT string_agg(r::text, E'\\n' ORDER BY r::text) FROM delivery_rollup_buckets r),"
    " (SELECT string_agg(r::text, E'\\n' ORDER BY r::text) FROM delivery_rollup_statuses r))";

// `count` outbound messages (and some inbound ones, which never count)
// spread over the last three days, with every kind of outcome: senders,
// statuses, error codes, delivery times. Deterministic for one `seed`.
constexpr std::string_view kInsert =
    "INSERT INTO messages (tenant_id, created_at, direction, from_addr, to_addr, status, status_rank, error_code,"
    "                      delivery_ms)"
    " SELECT $1::bigint, now() - make_interval(secs => ((i * 7919 + $3::int) % (72 * 3600))::float8),"
    "        CASE WHEN i % 13 = 0 THEN 'inbound' ELSE 'outbound' END,"
    "        CASE i % 3 WHEN 0 THEN 'whatsapp:+15550000001' WHEN 1 THEN 'whatsapp:+15550000002' END,"
    "        'whatsapp:+1555111' || lpad((i % 1000)::text, 4, '0'), st, wagate_status_rank(st),"
    "        CASE WHEN st IN ('failed', 'undelivered') THEN (ARRAY[63016, 30003, 30008])[1 + i % 3] END,"
    "        CASE WHEN st IN ('delivered', 'read') THEN (i * 104729) % 30000 END"
    " FROM generate_series(1, $2::int) i,"
    "      LATERAL (SELECT (ARRAY['delivered', 'read', 'failed', 'sent', 'undelivered', 'queued'])"
    "                      [1 + (i + $3::int) % 6] AS st) s";

class RollupLive : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = env("WAGATE_TEST_PG_DSN");
    ASSERT_FALSE(dsn_.empty()) << "WAGATE_TEST_PG_DSN is not set: run tests/integration/worker_sql_test.sh";
    db_ = std::make_unique<pg::Connection>(dsn_);
    db_->exec("TRUNCATE messages, message_index, metrics_dirty_hours, metrics_rollup_state, " +
              std::string(kRollupTables));
    tenant_a_ = tenant("rollup-a", "AC0123456789abcdef0123456789abcdea");
    tenant_b_ = tenant("rollup-b", "AC0123456789abcdef0123456789abcdeb");
  }

  std::string tenant(std::string_view name, std::string_view account_sid) {
    return std::string(db_->exec("INSERT INTO tenants (name, account_sid, auth_token_enc) VALUES ($1, $2, '\\x00')"
                                 " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING tenant_id",
                                 {name, account_sid})
                           .get(0, 0));
  }

  void insert(const std::string& tenant_id, int count, int seed) {
    db_->exec(kInsert, {tenant_id, std::to_string(count), std::to_string(seed)});
  }

  std::string text(std::string_view sql) { return std::string(db_->exec(sql).get(0, 0)); }

  // What a run from nothing makes of the same messages: the rollup tables
  // and the watermark are cleared and the job runs again, so call it last.
  std::string from_scratch() {
    db_->exec("TRUNCATE metrics_rollup_state, metrics_dirty_hours, " + std::string(kRollupTables));
    EXPECT_TRUE(rollup(*db_).full);
    return text(kEverything);
  }

  std::string dsn_;
  std::unique_ptr<pg::Connection> db_;
  std::string tenant_a_;
  std::string tenant_b_;
};

TEST_F(RollupLive, AFirstRunEqualsAFullRecount) {
  insert(tenant_a_, 3000, 1);
  insert(tenant_b_, 700, 2);
  const RollupStats stats = rollup(*db_);
  EXPECT_TRUE(stats.full);
  EXPECT_GE(stats.hours, 72);  // three days of hours, both tenants
  EXPECT_GE(stats.days, 6);
  EXPECT_GT(stats.rows, 0);
  EXPECT_EQ(text(kCounts), text(kRecount));
  // Only outbound messages count.
  EXPECT_EQ(text("SELECT sum(messages) FROM delivery_rollup_counts WHERE period = 'day' AND sender = '*'"),
            text("SELECT count(*) FROM messages WHERE direction = 'outbound'"));
}

TEST_F(RollupLive, ARunWithNothingChangedRecomputesNothingAndChangesNothing) {
  insert(tenant_a_, 2000, 3);
  ASSERT_TRUE(rollup(*db_).full);
  const std::string before = text(kEverything);
  for (int run = 0; run < 2; ++run) {
    const RollupStats again = rollup(*db_);
    EXPECT_FALSE(again.full);
    EXPECT_EQ(again.hours, 0);
    EXPECT_EQ(again.days, 0);
    EXPECT_EQ(again.rows, 0);
    EXPECT_EQ(text(kEverything), before);
  }
}

TEST_F(RollupLive, LateChangesRecomputeExactlyTheirHoursAndEqualARecount) {
  insert(tenant_a_, 3000, 4);
  insert(tenant_b_, 500, 5);
  ASSERT_TRUE(rollup(*db_).full);
  const std::string old = text("SELECT (now() - interval '30 hours')::text");

  // Late callbacks and edits in old hours: a read after delivered, a failure
  // code changed, a delivery time set, a sender changed, rows deleted; and
  // messages that are new. Their hours are noted before the change.
  db_->exec("CREATE TEMP TABLE touched (tenant_id bigint, hour timestamptz)");
  db_->exec(
      "INSERT INTO touched SELECT tenant_id, date_trunc('hour', created_at, 'UTC') FROM ("
      " (SELECT tenant_id, created_at FROM messages WHERE direction = 'outbound' AND status = 'delivered'"
      "   AND created_at < $1::timestamptz ORDER BY id LIMIT 40)"
      " UNION ALL (SELECT tenant_id, created_at FROM messages WHERE direction = 'outbound' AND status = 'failed'"
      "   ORDER BY id LIMIT 1)) t",
      {old});
  db_->exec(
      "UPDATE messages m SET status = 'read', status_rank = wagate_status_rank('read') FROM ("
      " SELECT id FROM messages WHERE direction = 'outbound' AND status = 'delivered'"
      "  AND created_at < $1::timestamptz ORDER BY id LIMIT 20) x WHERE m.id = x.id",
      {old});
  db_->exec(
      "UPDATE messages m SET delivery_ms = 4242, from_addr = 'whatsapp:+15550000009' FROM ("
      " SELECT id FROM messages WHERE direction = 'outbound' AND status = 'delivered'"
      "  AND created_at < $1::timestamptz ORDER BY id LIMIT 20) x WHERE m.id = x.id",
      {old});
  db_->exec(
      "UPDATE messages m SET error_code = 63049 FROM (SELECT id FROM messages WHERE direction = 'outbound'"
      " AND status = 'failed' ORDER BY id LIMIT 1) x WHERE m.id = x.id");
  db_->exec(
      "INSERT INTO touched SELECT tenant_id, date_trunc('hour', created_at, 'UTC') FROM ("
      " SELECT tenant_id, created_at FROM messages WHERE direction = 'outbound' AND status = 'sent'"
      "  ORDER BY id LIMIT 5) d");
  db_->exec(
      "DELETE FROM messages m USING (SELECT id FROM messages WHERE direction = 'outbound' AND status = 'sent'"
      " ORDER BY id LIMIT 5) x WHERE m.id = x.id");
  // An inbound message changing counts for nothing.
  db_->exec(
      "UPDATE messages m SET status = 'read', status_rank = wagate_status_rank('read') FROM (SELECT id FROM messages"
      " WHERE direction = 'inbound' ORDER BY id LIMIT 3) x WHERE m.id = x.id");
  const long long touched = db_->exec("SELECT count(DISTINCT (tenant_id, hour)) FROM touched").get_int(0, 0);
  const long long touched_days =
      db_->exec("SELECT count(DISTINCT (tenant_id, date_trunc('day', hour, 'UTC'))) FROM touched").get_int(0, 0);
  ASSERT_GT(touched, 5);
  EXPECT_NE(text(kCounts), text(kRecount)) << "the changes must be ones the rollup has to catch up with";

  const RollupStats stats = rollup(*db_);
  EXPECT_FALSE(stats.full);
  EXPECT_EQ(stats.hours, touched) << "work is bounded by what changed";
  EXPECT_EQ(stats.days, touched_days);
  EXPECT_EQ(text(kCounts), text(kRecount));

  // New messages now and in the current hour.
  insert(tenant_b_, 50, 6);
  EXPECT_FALSE(rollup(*db_).full);
  EXPECT_EQ(text(kCounts), text(kRecount));
  const std::string incremental = text(kEverything);
  EXPECT_EQ(incremental, from_scratch()) << "every table, not only the counts, equals a run from nothing";
}

TEST_F(RollupLive, AnHourWhoseMessagesWereAllDeletedLeavesNoRows) {
  insert(tenant_a_, 400, 7);
  ASSERT_TRUE(rollup(*db_).full);
  const std::string hour(db_->exec("SELECT min(date_trunc('hour', created_at, 'UTC')) FROM messages"
                                   " WHERE direction = 'outbound'")
                             .get(0, 0));
  db_->exec("DELETE FROM messages WHERE date_trunc('hour', created_at, 'UTC') = $1::timestamptz", {hour});
  rollup(*db_);
  EXPECT_EQ(db_->exec("SELECT count(*) FROM delivery_rollup_counts WHERE period = 'hour' AND period_start = $1",
                      {hour})
                .get_int(0, 0),
            0);
  EXPECT_EQ(text(kCounts), text(kRecount));
  EXPECT_EQ(text("SELECT count(*) FROM metrics_dirty_hours"), "0");
}

TEST_F(RollupLive, AChangeCommittedAfterARunsSnapshotIsRolledUpByTheNextRun) {
  insert(tenant_a_, 600, 8);
  ASSERT_TRUE(rollup(*db_).full);

  // A callback's transaction is open while the job runs: the job cannot see
  // it, and must not lose it once it commits.
  pg::Connection writer(dsn_);
  writer.exec("BEGIN");
  writer.exec(
      "UPDATE messages m SET status = 'failed', status_rank = wagate_status_rank('failed'), error_code = 30008 FROM ("
      " SELECT id FROM messages WHERE direction = 'outbound' AND status = 'sent' ORDER BY id LIMIT 3) x"
      " WHERE m.id = x.id");
  writer.exec("INSERT INTO messages (tenant_id, direction, from_addr, status, status_rank)"
              " VALUES ($1, 'outbound', 'whatsapp:+15550000001', 'queued', wagate_status_rank('queued'))",
              {tenant_a_});
  // Meanwhile other writes commit, as callbacks do all the time: the run's
  // snapshot then reaches past the open transaction.
  db_->exec("INSERT INTO messages (tenant_id, direction, from_addr, status, status_rank)"
            " VALUES ($1, 'outbound', 'whatsapp:+15550000002', 'sent', wagate_status_rank('sent'))",
            {tenant_b_});
  const RollupStats during = rollup(*db_);
  EXPECT_EQ(during.hours, 1) << "only the committed write's hour";
  writer.exec("COMMIT");
  EXPECT_NE(text(kCounts), text(kRecount));

  const RollupStats after = rollup(*db_);
  EXPECT_GE(after.hours, 1);
  EXPECT_EQ(text(kCounts), text(kRecount));
}

}  // namespace
}  // namespace wagate::maint
