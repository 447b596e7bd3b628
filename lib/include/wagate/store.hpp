// store.hpp — making webhooks durable: batched commits, the spool fallback, spool replay.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/pg.hpp"
#include "wagate/spool.hpp"

namespace wagate::store {

// A webhook reduced to one JSON record ({"kind": "status"|"inbound", ...}):
// the same text goes to Postgres, or to the spool and later to Postgres.
enum class Outcome {
  Stored,     // committed to Postgres as a new event or message
  Duplicate,  // committed before: nothing changed
  Spooled,    // Postgres unreachable: appended to the spool and fsynced
  Lost,       // neither Postgres nor the spool would take it
  Refused,    // Postgres refused this record's data: not stored, the sender must be told (4xx)
};

// A statement Postgres refused for its data (SQLSTATE class 22, data
// exception, or 23, integrity constraint violation): a fact about one input,
// never an outage, so never a reason to spool. Everything else (a lost
// connection, a timeout, a missing function) may pass and is spooled.
[[nodiscard]] bool is_data_error(const DbError& error);

// Stores status-callback records with several requests per commit: the
// accepting threads hand their record over and wait; each committer thread
// takes everything waiting (up to a bound) and stores it with one statement,
// one transaction and one commit. Nobody is answered before the commit (or
// the fsync of the spool) that holds their record. When Postgres refuses the
// data of a batch, the batch is split in halves and committed again until
// every good record is stored and each refused one stands alone (Refused).
//
// A waiter does not depend on its committer: when the commit holding its
// record has not answered by the waiter's deadline (Postgres stopped, a
// dead socket), the waiter spools the record itself and is answered. The
// committer gives up on its own after db_timeout (its connection is then
// abandoned, and it connects again for the next batch). Such a record may
// still be committed by the statement given up on: it is then both in
// Postgres and in the spool, and replay finds it a duplicate (key
// MessageSid + status), so it is stored once.
class StatusWriter {
 public:
  using Clock = std::chrono::steady_clock;

  StatusWriter(std::string pg_dsn, spool::Spool& spool, int committers, std::chrono::milliseconds db_timeout);
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;
  ~StatusWriter();

  // Blocks until durable: committed, or spooled once the deadline passes.
  Outcome store(std::string record, Clock::time_point deadline);
  Outcome store(std::string record) { return store(std::move(record), Clock::now() + db_timeout_); }

 private:
  struct Job {
    std::string record;
    std::promise<Outcome> done;
    // Whoever sets it first answers: a committer with its outcome, or the
    // waiter that gave up and spooled the record itself.
    std::atomic<bool> claimed{false};
  };
  void run();
  void commit(pg::Connection*& conn, std::unique_ptr<pg::Connection>& owner,
              std::vector<std::shared_ptr<Job>>& batch);
  Outcome spool_records(const std::vector<std::shared_ptr<Job>>& jobs);

  std::string pg_dsn_;
  spool::Spool& spool_;
  std::chrono::milliseconds db_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Stores one inbound-message record in its own transaction; Refused (and a
// warning naming the MessageSid) when Postgres refuses its data. Throws
// DbError for anything else.
Outcome store_inbound(pg::Connection& db, const std::string& record);

// Applies spooled records of both kinds in one transaction (idempotent: a
// batch applied twice has the effect of once). Returns the indices of the
// records that can never be applied: not a readable record, or refused by
// Postgres as data (found by splitting the batch, so that every other record
// is applied). Throws DbError when Postgres is unreachable.
std::vector<std::size_t> apply_records(pg::Connection& db, const std::vector<std::string>& records);

// Replays the spool into Postgres in the background, once a second while
// there is anything to replay. Its connection is bounded by `limits` like
// every other wait of a webhook process: a Postgres that does not answer
// must not hold a graceful stop (which joins this thread) for ever.
class SpoolReplayer {
 public:
  SpoolReplayer(std::string pg_dsn, spool::Spool& spool, pg::Limits limits);
  SpoolReplayer(const SpoolReplayer&) = delete;
  SpoolReplayer& operator=(const SpoolReplayer&) = delete;
  ~SpoolReplayer();

 private:
  void run();
  std::string pg_dsn_;
  spool::Spool& spool_;
  pg::Limits limits_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wagate::store
