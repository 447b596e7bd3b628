// send_store.hpp — the sender's Postgres statements: load, claim, defer, record outcomes, sweep due messages.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tenant_directory.hpp"

namespace wagate::pg {
class Connection;
}

namespace wagate::sender {

// A message row's primary key; created_at is kept as Postgres printed it
// (with its offset), so it round-trips exactly and prunes to one partition.
struct MessageKey {
  long long tenant_id = 0;
  std::string created_at;
  std::string id;  // canonical lower-case uuid
};

// What a request to Twilio needs from a message row.
struct LoadedMessage {
  MessageKey key;
  size_t input_index = 0;  // which of load()'s keys it answers
  std::string to;
  std::string from;
  std::string body;
  std::string content_sid;
  std::string content_variables;
  std::vector<std::string> media_urls;
  int validity_period_s = 0;  // what is left of the message's ValidityPeriod; 0: none
};

// One send outcome, for wagate_record_send_results (sql/003_sending.sql).
struct SendRecord {
  MessageKey key;
  int attempt = 0;
  std::string outcome;  // created | failed | retrying | unknown
  std::string sid;
  std::optional<int> error_code;
  std::string error_message;
  long long retry_in_ms = 0;
  std::string last_error;
};

// What the claim made of a sendable message.
enum class ClaimOutcome {
  Dispatching,       // claimed: this process sends it now
  CanceledOptedOut,  // 'canceled': the recipient opted out after acceptance
};

struct Claim {
  ClaimOutcome outcome = ClaimOutcome::Dispatching;
  int attempt = 0;  // attempts after the claim: the fencing token of its outcome
};

struct DueMessage {
  MessageKey key;
  int priority = 1;
};

// Per stream: a message last queued at or after its cutoff (Redis server
// time, ms) may still have its entry waiting unread, so it is not queued
// again. nullopt: nothing waits in that stream, every due message goes.
// Entries the group has read are acknowledged, pending (reclaimed later) or
// deferred to Postgres, so queuing those messages again loses nothing.
struct RequeueCutoff {
  std::optional<long long> high_ms;
  std::optional<long long> normal_ms;
};

// One connection, used from the sender's loop thread only. Every method
// throws DbError when Postgres is unreachable (the connection is dropped and
// the next call reconnects) and QueryError when a statement is refused.
class SendStore {
 public:
  explicit SendStore(std::string dsn);
  SendStore(const SendStore&) = delete;
  SendStore& operator=(const SendStore&) = delete;
  ~SendStore();

  // The messages among `keys` that may be sent now: outbound, no SID yet,
  // 'accepted', or 'retrying' and due. Others (claimed by another sender,
  // done, not due) are simply absent.
  std::vector<LoadedMessage> load(const std::vector<MessageKey>& keys);

  // Claims messages for this process ('dispatching', attempts + 1) and
  // commits, before any request leaves. A message whose recipient opted out
  // since it was accepted is canceled instead, in the same statement: final,
  // nothing to send or record. Returns id -> what became of each message it
  // moved; a message not returned belongs to someone else now, or is done.
  std::map<std::string, Claim> claim(const std::vector<MessageKey>& keys);

  // Puts messages back for later: their next_attempt_at moves to now + delay
  // and the sweeper queues them again then. Only sendable messages move.
  void defer(const std::vector<std::pair<MessageKey, std::chrono::milliseconds>>& messages);

  // Records outcomes in one statement; one result per record, in order
  // ('recorded', 'stale', 'duplicate', 'sid_conflict', 'missing').
  std::vector<std::string> record(const std::vector<SendRecord>& records);

  // Messages that are due ('accepted' or 'retrying', next_attempt_at passed,
  // or 'accepted' with none after a grace), not queued again in the last
  // 30 s, whose last queue entry the group has already read (see
  // RequeueCutoff), and that no other sweeper holds: marked requeued and
  // returned.
  std::vector<DueMessage> take_due(int limit, const RequeueCutoff& cutoff);

  // The tenant through the directory, on this connection.
  std::shared_ptr<const TenantInfo> tenant(TenantDirectory& directory, const Secret& master_key, long long tenant_id);

 private:
  pg::Connection& db();
  template <typename Fn>
  auto guarded(Fn&& fn) -> decltype(fn(std::declval<pg::Connection&>()));

  std::string dsn_;
  std::unique_ptr<pg::Connection> db_;
};

}  // namespace wagate::sender
