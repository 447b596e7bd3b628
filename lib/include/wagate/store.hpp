// store.hpp — making webhooks durable: batched commits, the spool fallback, spool replay.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/spool.hpp"

namespace wagate::pg {
class Connection;
}

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

// Current time as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", the arrival time of a webhook.
std::string utc_now();

// Stores status-callback records with several requests per commit: the
// accepting threads hand their record over and wait; each committer thread
// takes everything waiting (up to a bound) and stores it with one statement,
// one transaction and one commit. Nobody is answered before the commit (or
// the fsync of the spool) that holds their record. When Postgres refuses the
// data of a batch, the batch is split in halves and committed again until
// every good record is stored and each refused one stands alone (Refused).
class StatusWriter {
 public:
  StatusWriter(std::string pg_dsn, spool::Spool& spool, int committers);
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;
  ~StatusWriter();

  Outcome store(std::string record);  // blocks until durable

 private:
  struct Job {
    std::string record;
    std::promise<Outcome> done;
  };
  void run();
  void commit(pg::Connection*& conn, std::unique_ptr<pg::Connection>& owner, std::vector<Job*>& batch);

  std::string pg_dsn_;
  spool::Spool& spool_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
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
// there is anything to replay.
class SpoolReplayer {
 public:
  SpoolReplayer(std::string pg_dsn, spool::Spool& spool);
  SpoolReplayer(const SpoolReplayer&) = delete;
  SpoolReplayer& operator=(const SpoolReplayer&) = delete;
  ~SpoolReplayer();

 private:
  void run();
  std::string pg_dsn_;
  spool::Spool& spool_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wagate::store
