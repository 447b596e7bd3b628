// send_store_test.cpp — the sender's claim and outcome statements against a real Postgres: one request per claim, fenced outcomes.
//
// Needs WAGATE_TEST_PG_DSN, a migrated database of its own (worker_sql_test.sh
// starts one); every test fails when it is missing, so a run without a
// server cannot pass. What the sender decides is send_decision_test's
// business; this file holds what Postgres makes of it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "sender/send_store.hpp"
#include "wagate/pg.hpp"

namespace wagate::sender {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

constexpr std::string_view kTo = "whatsapp:+15550001111";

class SendStoreLive : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = env("WAGATE_TEST_PG_DSN");
    ASSERT_FALSE(dsn_.empty()) << "WAGATE_TEST_PG_DSN is not set: run tests/integration/worker_sql_test.sh";
    db_ = std::make_unique<pg::Connection>(dsn_);
    db_->exec("TRUNCATE messages, message_index, conversations");
    tenant_ = std::string(db_->exec("INSERT INTO tenants (name, account_sid, auth_token_enc)"
                                    " VALUES ('send-store', 'AC0123456789abcdef0123456789abcdef', '\\x00')"
                                    " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING tenant_id")
                              .get(0, 0));
    store_ = std::make_unique<SendStore>(dsn_);
  }

  // An accepted outbound message, as the API commits it.
  MessageKey accepted(std::string_view to = kTo) {
    const pg::Result row = db_->exec(
        "INSERT INTO messages (tenant_id, direction, to_addr, from_addr, body, status, status_rank)"
        " VALUES ($1, 'outbound', $2, 'whatsapp:+15559990000', 'hello', 'accepted', wagate_status_rank('accepted'))"
        " RETURNING created_at::text, id::text",
        {tenant_, to});
    return {std::stoll(tenant_), std::string(row.get(0, 0)), std::string(row.get(0, 1))};
  }

  std::string column(const MessageKey& key, std::string_view expression) {
    return std::string(
        db_->exec("SELECT coalesce((" + std::string(expression) + ")::text, '<null>') FROM messages WHERE id = $1",
                  {key.id})
            .get(0, 0));
  }

  SendRecord outcome(const MessageKey& key, int attempt, std::string kind) {
    SendRecord record;
    record.key = key;
    record.attempt = attempt;
    record.outcome = std::move(kind);
    return record;
  }

  std::string record(const SendRecord& one) { return store_->record({one}).at(0); }

  std::string dsn_;
  std::unique_ptr<pg::Connection> db_;
  std::unique_ptr<SendStore> store_;
  std::string tenant_;
};

TEST_F(SendStoreLive, AMessageIsClaimedOnceHoweverManySendersTry) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->load({key}).size(), 1U);
  const auto first = store_->claim({key});
  ASSERT_EQ(first.count(key.id), 1U);
  EXPECT_EQ(first.at(key.id).outcome, ClaimOutcome::Dispatching);
  EXPECT_EQ(first.at(key.id).attempt, 1);
  // A second sender that read the same entry (reclaimed, swept twice) gets nothing to send.
  SendStore other(dsn_);
  EXPECT_TRUE(other.claim({key}).empty());
  EXPECT_TRUE(other.load({key}).empty());
  EXPECT_EQ(column(key, "status"), "dispatching");
  EXPECT_EQ(column(key, "attempts"), "1");
}

TEST_F(SendStoreLive, AnUnknownOutcomeIsNeverClaimedOrSweptAgain) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  SendRecord unknown = outcome(key, 1, "unknown");
  unknown.last_error = "transport: Operation timed out";
  EXPECT_EQ(record(unknown), "recorded");
  EXPECT_EQ(column(key, "status"), "unknown");
  EXPECT_EQ(column(key, "last_error"), "transport: Operation timed out");
  // Only reconciliation may decide: no load, no claim, no sweep, even when due.
  db_->exec("UPDATE messages SET next_attempt_at = now() - interval '1 hour' WHERE id = $1", {key.id});
  EXPECT_TRUE(store_->load({key}).empty());
  EXPECT_TRUE(store_->claim({key}).empty());
  EXPECT_TRUE(store_->take_due(100, {}).empty());
  EXPECT_EQ(column(key, "attempts"), "1");
}

TEST_F(SendStoreLive, ARetryIsSentAgainAtItsTimeAndNotBefore) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  SendRecord retry = outcome(key, 1, "retrying");
  retry.retry_in_ms = 120000;
  retry.last_error = "HTTP 429 (Twilio error 20429)";
  EXPECT_EQ(record(retry), "recorded");
  EXPECT_EQ(column(key, "status"), "retrying");
  EXPECT_EQ(column(key, "next_attempt_at > now() + interval '100 seconds'"), "true");
  EXPECT_EQ(column(key, "next_attempt_at <= now() + interval '120 seconds'"), "true");
  // load() is the sender's gate (the claim only takes what it loaded).
  EXPECT_TRUE(store_->load({key}).empty()) << "not due yet";
  EXPECT_TRUE(store_->take_due(100, {}).empty()) << "the sweeper leaves it until then";

  db_->exec("UPDATE messages SET next_attempt_at = now() - interval '1 second' WHERE id = $1", {key.id});
  const std::vector<DueMessage> due = store_->take_due(100, {});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].key.id, key.id);
  EXPECT_TRUE(store_->take_due(100, {}).empty()) << "queued again once, not every sweep";
  ASSERT_EQ(store_->load({key}).size(), 1U);
  const auto again = store_->claim({key});
  ASSERT_EQ(again.count(key.id), 1U);
  EXPECT_EQ(again.at(key.id).attempt, 2);
}

TEST_F(SendStoreLive, APermanentRefusalFailsWithTwiliosCodeAndIsNotSentAgain) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  SendRecord failed = outcome(key, 1, "failed");
  failed.error_code = 21211;
  failed.error_message = "The 'To' number is not a valid phone number.";
  failed.last_error = "HTTP 400 (Twilio error 21211)";
  EXPECT_EQ(record(failed), "recorded");
  EXPECT_EQ(column(key, "status"), "failed");
  EXPECT_EQ(column(key, "error_code"), "21211");
  EXPECT_EQ(column(key, "error_message"), "The 'To' number is not a valid phone number.");
  EXPECT_EQ(column(key, "failed_at IS NOT NULL"), "true");
  EXPECT_TRUE(store_->load({key}).empty());
  EXPECT_TRUE(store_->claim({key}).empty());
}

TEST_F(SendStoreLive, AnOutcomeOfAnOlderAttemptCannotUndoANewerClaim) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  SendRecord retry = outcome(key, 1, "retrying");
  ASSERT_EQ(record(retry), "recorded");
  ASSERT_EQ(store_->claim({key}).at(key.id).attempt, 2);
  // Attempt 1's outcome arrives again (a sender that was thought dead).
  EXPECT_EQ(record(outcome(key, 1, "failed")), "stale");
  EXPECT_EQ(record(outcome(key, 1, "unknown")), "stale");
  EXPECT_EQ(record(outcome(key, 1, "retrying")), "stale");
  EXPECT_EQ(column(key, "status"), "dispatching");
  EXPECT_EQ(column(key, "attempts"), "2");
}

TEST_F(SendStoreLive, TwiliosSidIsRecordedWhateverTheAttemptAndOnlyOnce) {
  const MessageKey key = accepted();
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  ASSERT_EQ(record(outcome(key, 1, "retrying")), "recorded");
  ASSERT_EQ(store_->claim({key}).size(), 1U);
  // The first attempt did reach Twilio after all: its SID is the message's.
  SendRecord created = outcome(key, 1, "created");
  created.sid = "SM0123456789abcdef0123456789abcdef";
  EXPECT_EQ(record(created), "recorded");
  EXPECT_EQ(column(key, "message_sid"), "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(column(key, "status"), "queued");
  EXPECT_EQ(record(created), "duplicate");
  // A second Twilio message for the same row is loud, and changes nothing.
  SendRecord second = outcome(key, 2, "created");
  second.sid = "SMffffffffffffffffffffffffffffffff";
  EXPECT_EQ(record(second), "sid_conflict");
  EXPECT_EQ(column(key, "message_sid"), "SM0123456789abcdef0123456789abcdef");
  // Nothing sends it again.
  EXPECT_TRUE(store_->load({key}).empty());
  EXPECT_TRUE(store_->claim({key}).empty());
}

TEST_F(SendStoreLive, ARecipientWhoOptedOutAfterAcceptanceIsCanceledByTheClaim) {
  const MessageKey stopped = accepted();
  const MessageKey other = accepted("whatsapp:+15550002222");
  db_->exec("INSERT INTO conversations (tenant_id, phone, opted_out, opted_out_at)"
            " VALUES ($1, wagate_contact_phone($2), true, now())",
            {tenant_, kTo});
  const auto claimed = store_->claim({stopped, other});
  ASSERT_EQ(claimed.size(), 2U);
  EXPECT_EQ(claimed.at(stopped.id).outcome, ClaimOutcome::CanceledOptedOut);
  EXPECT_EQ(claimed.at(other.id).outcome, ClaimOutcome::Dispatching);
  EXPECT_EQ(column(stopped, "status"), "canceled");
  EXPECT_EQ(column(stopped, "attempts"), "0") << "no request was made";
  EXPECT_EQ(column(stopped, "error_message"),
            "not sent: the recipient opted out (STOP) after the message was accepted");
  EXPECT_TRUE(store_->load({stopped}).empty());
  EXPECT_TRUE(store_->claim({stopped}).empty());
}

}  // namespace
}  // namespace wagate::sender
