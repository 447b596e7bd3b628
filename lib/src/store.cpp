// store.cpp — making webhooks durable: batched commits, the spool fallback, spool replay.
#include "wagate/store.hpp"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <span>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"

namespace wagate::store {
namespace {

constexpr std::size_t kMaxBatch = 256;
constexpr const char* kStoreStatus = "wagate_store_status";

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Stored: return "stored";
    case Outcome::Duplicate: return "duplicate";
    case Outcome::Spooled: return "spooled";
    case Outcome::Lost: return "lost";
    case Outcome::Refused: return "refused";
  }
  return "?";
}

std::string join_array(const std::vector<const std::string*>& records) {
  std::size_t size = 2;
  for (const auto* r : records) size += r->size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) out += ',';
    out += *records[i];
  }
  out += ']';
  return out;
}

std::vector<Outcome> store_status_batch(pg::Connection& db, const std::vector<const std::string*>& records) {
  const std::string batch = join_array(records);
  const pg::Result rows = db.exec_prepared(kStoreStatus, {std::string_view(batch)});
  std::vector<Outcome> outcomes(records.size(), Outcome::Stored);
  for (int row = 0; row < rows.rows(); ++row) {
    const auto index = static_cast<std::size_t>(rows.get_int(row, 0) - 1);
    if (index < outcomes.size() && rows.get(row, 1) == "duplicate") outcomes[index] = Outcome::Duplicate;
  }
  return outcomes;
}

// The MessageSid of a record, for the log line of a refused one.
std::string sid_of(const std::string& record) {
  const json::ParseResult parsed = json::parse(record);
  if (!parsed.ok()) return {};
  return std::string(json::get_string(parsed.value.get(), "sid").value_or(""));
}

// Stores records [begin, end); on a data error splits them in halves and
// stores each again, down to the single refused record. A connection error
// propagates, leaving the outcomes of what was not stored yet empty.
void store_splitting(pg::Connection& db, const std::vector<const std::string*>& records, std::size_t begin,
                     std::size_t end, std::vector<std::optional<Outcome>>& outcomes) {
  const std::vector<const std::string*> part(records.begin() + static_cast<std::ptrdiff_t>(begin),
                                             records.begin() + static_cast<std::ptrdiff_t>(end));
  try {
    const std::vector<Outcome> stored = store_status_batch(db, part);
    for (std::size_t i = 0; i < stored.size(); ++i) outcomes[begin + i] = stored[i];
  } catch (const pg::QueryError& e) {
    if (!is_data_error(e)) throw;
    if (end - begin == 1) {
      log::warning("status_record_refused").kv("sid", sid_of(*records[begin])).kv("sqlstate", e.sqlstate())
          .kv("error", e.what());
      outcomes[begin] = Outcome::Refused;
      return;
    }
    const std::size_t middle = begin + (end - begin) / 2;
    store_splitting(db, records, begin, middle, outcomes);
    store_splitting(db, records, middle, end, outcomes);
  }
}

void prepare_status(pg::Connection& db) {
  db.prepare(kStoreStatus, "SELECT ord, outcome FROM wagate_store_status_callbacks($1::jsonb)");
}

}  // namespace

bool is_data_error(const DbError& error) {
  const auto* query = dynamic_cast<const pg::QueryError*>(&error);
  return query != nullptr && (query->sqlstate().starts_with("22") || query->sqlstate().starts_with("23"));
}

StatusWriter::StatusWriter(std::string pg_dsn, spool::Spool& spool, int committers,
                           std::chrono::milliseconds db_timeout)
    : pg_dsn_(std::move(pg_dsn)), spool_(spool), db_timeout_(db_timeout) {
  for (int i = 0; i < committers; ++i) threads_.emplace_back([this] { run(); });
}

StatusWriter::~StatusWriter() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

Outcome StatusWriter::store(std::string record, Clock::time_point deadline) {
  auto job = std::make_shared<Job>();
  job->record = std::move(record);
  auto done = job->done.get_future();
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(job);
  }
  wake_.notify_one();
  Outcome outcome = Outcome::Lost;
  if (done.wait_until(deadline) == std::future_status::ready) {
    outcome = done.get();
  } else if (!job->claimed.exchange(true)) {
    // The committer holding it (or none yet) did not answer in time; a
    // committer that takes it later skips it.
    log::warning("status_commit_timeout").kv("records", 1LL);
    outcome = spool_records({job});
  } else {
    // A committer claimed it first and is answering now: a moment, or one
    // fsync of the spool.
    outcome = done.get();
  }
  metrics::count_status_callback(job->record, outcome_name(outcome));
  return outcome;
}

void StatusWriter::run() {
  std::unique_ptr<pg::Connection> owner;
  pg::Connection* conn = nullptr;
  std::vector<std::shared_ptr<Job>> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything handed over has been answered
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        // A record whose waiter gave up is already in the spool.
        if (!queue_.front()->claimed.load()) batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    if (!batch.empty()) commit(conn, owner, batch);
    batch.clear();
  }
}

Outcome StatusWriter::spool_records(const std::vector<std::shared_ptr<Job>>& jobs) {
  Outcome outcome = Outcome::Spooled;
  try {
    std::vector<std::string> payloads;
    payloads.reserve(jobs.size());
    for (const auto& job : jobs) payloads.push_back(job->record);
    spool_.append_batch(payloads);
    metrics::count_spool_append("status", payloads.size());
  } catch (const Error& e) {
    log::error("spool_append_failed").kv("records", static_cast<long long>(jobs.size())).kv("error", e.what());
    outcome = Outcome::Lost;
  }
  log::warning("status_spooled").kv("records", static_cast<long long>(jobs.size())).kv("outcome", outcome_name(outcome));
  return outcome;
}

void StatusWriter::commit(pg::Connection*& conn, std::unique_ptr<pg::Connection>& owner,
                          std::vector<std::shared_ptr<Job>>& batch) {
  std::vector<const std::string*> records;
  records.reserve(batch.size());
  for (const auto& job : batch) records.push_back(&job->record);
  std::vector<std::optional<Outcome>> outcomes(batch.size());
  try {
    if (conn == nullptr || !conn->healthy()) {
      // Bounded like every wait of the webhook path: a committer stuck on a
      // server that does not answer gives up, drops the connection and is
      // free for the next batch.
      owner = std::make_unique<pg::Connection>(
          pg_dsn_, pg::Limits{.connect = db_timeout_, .statement = db_timeout_, .server_statement = db_timeout_});
      prepare_status(*owner);
      conn = owner.get();
    }
    store_splitting(*conn, records, 0, records.size(), outcomes);
    // A job its waiter gave up on is in the spool too; replay finds it a duplicate.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i]->claimed.exchange(true)) batch[i]->done.set_value(*outcomes[i]);
    }
    return;
  } catch (const DbError& e) {
    log::warning("status_commit_failed").kv("records", static_cast<long long>(batch.size())).kv("error", e.what());
    owner.reset();
    conn = nullptr;
  }
  // Only what is not settled yet: a split batch may have stored (or refused)
  // some of its records before the connection went; and a waiter that gave
  // up has spooled its own record.
  std::vector<std::shared_ptr<Job>> unanswered;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i]->claimed.exchange(true)) continue;
    if (outcomes[i]) {
      batch[i]->done.set_value(*outcomes[i]);
    } else {
      unanswered.push_back(batch[i]);
    }
  }
  if (unanswered.empty()) return;
  const Outcome outcome = spool_records(unanswered);
  for (const auto& job : unanswered) job->done.set_value(outcome);
}

Outcome store_inbound(pg::Connection& db, const std::string& record) {
  try {
    const pg::Result rows = db.exec("SELECT wagate_store_inbound($1::jsonb)", {std::string_view(record)});
    return rows.get(0, 0) == "duplicate" ? Outcome::Duplicate : Outcome::Stored;
  } catch (const DbError& e) {
    if (!is_data_error(e)) throw;
    log::warning("inbound_record_refused").kv("sid", sid_of(record))
        .kv("sqlstate", dynamic_cast<const pg::QueryError&>(e).sqlstate()).kv("error", e.what());
    return Outcome::Refused;
  }
}

namespace {

struct Spooled {
  const std::vector<std::string>& records;
  std::vector<bool> inbound;  // else a status callback
};

// Applies the records at `group` (indices, in spool order) in one transaction.
void apply_group(pg::Connection& db, const Spooled& spooled, std::span<const std::size_t> group) {
  pg::Transaction tx(db);
  std::vector<const std::string*> statuses;
  const auto flush_statuses = [&] {
    if (statuses.empty()) return;
    const std::string batch = join_array(statuses);
    db.exec("SELECT count(*) FROM wagate_store_status_callbacks($1::jsonb)", {std::string_view(batch)});
    statuses.clear();
  };
  for (const std::size_t index : group) {
    const std::string& record = spooled.records[index];
    if (!spooled.inbound[index]) {
      statuses.push_back(&record);
    } else {
      flush_statuses();  // keeps spool order across kinds
      db.exec("SELECT wagate_store_inbound($1::jsonb)", {std::string_view(record)});
    }
  }
  flush_statuses();
  tx.commit();
}

// Like store_splitting: halves a group Postgres refuses until the refused
// records stand alone; the halves are applied in order.
void apply_splitting(pg::Connection& db, const Spooled& spooled, std::span<const std::size_t> group,
                     std::vector<std::size_t>& refused) {
  if (group.empty()) return;
  try {
    apply_group(db, spooled, group);
  } catch (const DbError& e) {
    if (!is_data_error(e)) throw;
    if (group.size() == 1) {
      log::warning("spool_record_refused").kv("sid", sid_of(spooled.records[group[0]]))
          .kv("sqlstate", dynamic_cast<const pg::QueryError&>(e).sqlstate()).kv("error", e.what());
      refused.push_back(group[0]);
      return;
    }
    const std::size_t middle = group.size() / 2;
    apply_splitting(db, spooled, group.first(middle), refused);
    apply_splitting(db, spooled, group.subspan(middle), refused);
  }
}

}  // namespace

std::vector<std::size_t> apply_records(pg::Connection& db, const std::vector<std::string>& records) {
  Spooled spooled{records, std::vector<bool>(records.size(), false)};
  std::vector<std::size_t> readable;
  std::vector<std::size_t> refused;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const json::ParseResult parsed = json::parse(records[i]);
    const auto kind = parsed.ok() ? json::get_string(parsed.value.get(), "kind") : std::nullopt;
    if (kind == "status" || kind == "inbound") {
      spooled.inbound[i] = kind == "inbound";
      readable.push_back(i);
    } else {
      log::warning("spool_record_unreadable").kv("bytes", static_cast<long long>(records[i].size()));
      refused.push_back(i);
    }
  }
  apply_splitting(db, spooled, readable, refused);
  std::sort(refused.begin(), refused.end());
  return refused;
}

SpoolReplayer::SpoolReplayer(std::string pg_dsn, spool::Spool& spool, pg::Limits limits)
    : pg_dsn_(std::move(pg_dsn)), spool_(spool), limits_(limits), thread_([this] { run(); }) {}

SpoolReplayer::~SpoolReplayer() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SpoolReplayer::run() {
  std::unique_ptr<pg::Connection> db;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) return;
    }
    if (!spool::pending(spool_.dir())) continue;
    try {
      if (!db || !db->healthy()) db = std::make_unique<pg::Connection>(pg_dsn_, limits_);
      const std::size_t applied =
          spool_.replay([&](const std::vector<std::string>& records) { return apply_records(*db, records); });
      if (applied > 0) log::info("spool_drained").kv("records", static_cast<long long>(applied));
    } catch (const Error& e) {
      db.reset();
      log::debug("spool_replay_deferred").kv("error", e.what());
    }
  }
}

}  // namespace wagate::store
