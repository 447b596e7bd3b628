// retention_job.cpp — the retention job: old months of messages archived and dropped by partition, with their history.
//
// Dropping a month is one catalog operation however many rows it holds,
// where deleting them row by row would bloat the table and the WAL and hold
// locks for as long. Everything that is still deleted row by row (the
// history of the dropped messages, expired idempotency keys) goes in
// bounded batches of one short transaction each.
#include "retention_job.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "wagate/config.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"

namespace wagate::maint {
namespace {

// DETACH PARTITION takes an exclusive lock on messages: waiting for it
// queues every writer behind us, so each try waits briefly and gives way.
constexpr const char* kDetachLockTimeout = "2s";
constexpr int kDetachAttempts = 5;
constexpr std::string_view kLockNotAvailable = "55P03";
constexpr int kArchiveFetch = 1000;
// Set on a detached table once its archive is on disk, so that a run
// interrupted before the drop does not write the month a second time.
constexpr std::string_view kArchivedComment = "wagate-archived:";

constexpr std::string_view kBoundary =
    "SELECT to_char(date_trunc('month', (now() - make_interval(days => $1::int)) AT TIME ZONE 'UTC'), "
    "'YYYY-MM-DD')";

constexpr std::string_view kEnsureAhead =
    "SELECT wagate_ensure_message_partitions(date_trunc('month', now() AT TIME ZONE 'UTC')::date, $1::int)";

// Monthly tables whose month ends at or before the boundary: attached
// partitions, and tables a run left detached before dropping them.
constexpr std::string_view kOldPartitions =
    "SELECT c.relname, i.inhrelid IS NOT NULL, coalesce(obj_description(c.oid, 'pg_class'), '') "
    "FROM pg_class c "
    "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'messages'::regclass "
    "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace "
    "AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$' "
    "AND (to_date(substr(c.relname, 10), 'YYYY_MM') + interval '1 month')::date <= $1::date "
    "ORDER BY c.relname";

constexpr std::string_view kOldDefaultMonths =
    "SELECT DISTINCT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') "
    "FROM messages_default WHERE created_at < ($1::date)::timestamp AT TIME ZONE 'UTC' ORDER BY 1";

// message_index rows whose message is gone, with the events of those
// messages; a batch deletes both or neither.
constexpr std::string_view kDeleteOldIndex =
    "WITH batch AS (SELECT message_sid, tenant_id FROM message_index "
    "  WHERE created_at < ($1::date)::timestamp AT TIME ZONE 'UTC' ORDER BY created_at LIMIT $2::int), "
    "events AS (DELETE FROM status_events e USING batch b "
    "  WHERE e.tenant_id = b.tenant_id AND e.message_sid = b.message_sid RETURNING 1), "
    "indexed AS (DELETE FROM message_index x USING batch b WHERE x.message_sid = b.message_sid RETURNING 1) "
    "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM indexed)";

// Callbacks that never found their message (it was never ours, or it was
// dropped before its SID was indexed).
constexpr std::string_view kDeleteOrphanEvents =
    "DELETE FROM status_events WHERE event_id IN ("
    "  SELECT event_id FROM status_events e WHERE received_at < ($1::date)::timestamp AT TIME ZONE 'UTC' "
    "  AND NOT EXISTS (SELECT 1 FROM message_index x WHERE x.message_sid = e.message_sid "
    "                  AND x.tenant_id = e.tenant_id) "
    "  LIMIT $2::int)";

constexpr std::string_view kDeleteExpiredKeys =
    "DELETE FROM idempotency_keys k USING ("
    "  SELECT tenant_id, idem_key FROM idempotency_keys WHERE expires_at < now() LIMIT $1::int) b "
    "WHERE k.tenant_id = b.tenant_id AND k.idem_key = b.idem_key AND k.expires_at < now()";

std::string quoted(const std::string& table) { return "\"" + table + "\""; }

struct RetentionMetrics {
  metrics::Counter& partitions;
  metrics::Family<metrics::Counter>& rows;
  metrics::Counter& archived;
};

RetentionMetrics& retention_metrics() {
  static RetentionMetrics m{
      metrics::global()
          .counter("wagate_retention_dropped_partitions_total", "Monthly messages partitions dropped by retention.")
          .with(),
      metrics::global().counter("wagate_retention_deleted_rows_total", "Rows deleted by retention, by table.",
                                {"table"}),
      metrics::global()
          .counter("wagate_retention_archived_rows_total", "Messages written to the retention archive.")
          .with(),
  };
  return m;
}

std::string to_string(std::string_view text) { return std::string(text); }

// Runs a batched delete until a batch deletes nothing; returns the total of
// what the batches returned.
template <class Batch>
long long until_done(Batch batch) {
  long long total = 0;
  while (true) {
    const long long done = batch();
    total += done;
    if (done == 0) return total;
  }
}

// Owns a file descriptor.
class File {
 public:
  explicit File(int fd) : fd_(fd) {}
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void archive_failed(const std::string& path, const char* what) {
  throw Error("retention: cannot " + std::string(what) + " " + path + ": " + std::strerror(errno));
}

void write_all(const File& file, const std::string& path, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(file.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      archive_failed(path, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// A file name in `dir` not taken yet: table.jsonl, else table.1.jsonl, ...
// (a month can be dropped twice: rows of it may reach messages_default
// after its partition was detached).
std::string free_archive_name(const std::string& dir, const std::string& table) {
  std::string name = table + ".jsonl";
  for (int n = 1; std::filesystem::exists(dir + "/" + name); ++n) name = table + "." + std::to_string(n) + ".jsonl";
  return name;
}

// Writes every message of the detached table, with its status history, as
// one JSON line, to a temporary file; fsyncs it, renames it into place and
// fsyncs the directory. Returns the number of lines.
long long archive(pg::Connection& db, const std::string& dir, const std::string& table, const std::string& name) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    std::filesystem::create_directories(dir, error);
    if (error) throw Error("retention: cannot create archive_dir " + dir + ": " + error.message());
    ::chmod(dir.c_str(), 0700);  // message bodies are in it
  }
  const std::string path = dir + "/" + name;
  const std::string tmp = dir + "/." + name + ".tmp";
  long long lines = 0;
  {
    const File file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (file.get() < 0) archive_failed(tmp, "create");
    pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    db.exec("SET LOCAL TimeZone = 'UTC'");  // timestamps in the archive read the same wherever it is opened
    db.exec("DECLARE archive NO SCROLL CURSOR FOR "
            "SELECT (to_jsonb(m) || jsonb_build_object('events', coalesce(("
            "  SELECT jsonb_agg(to_jsonb(e) ORDER BY e.received_at, e.event_id) FROM status_events e "
            "  WHERE e.tenant_id = m.tenant_id AND e.message_sid = m.message_sid), '[]'::jsonb)))::text "
            "FROM " + quoted(table) + " m ORDER BY m.tenant_id, m.created_at, m.id");
    const std::string fetch = "FETCH " + std::to_string(kArchiveFetch) + " FROM archive";
    while (true) {
      const pg::Result rows = db.exec(fetch);
      if (rows.rows() == 0) break;
      std::string chunk;
      for (int row = 0; row < rows.rows(); ++row) {
        chunk += rows.get(row, 0);
        chunk += '\n';
      }
      write_all(file, tmp, chunk);
      lines += rows.rows();
    }
    tx.commit();
    if (::fsync(file.get()) != 0) archive_failed(tmp, "fsync");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) archive_failed(path, "rename into");
  const File directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory.get() < 0 || ::fsync(directory.get()) != 0) archive_failed(dir, "fsync");
  return lines;
}

// The delivery-metrics rollup of the table's month and every month before
// it (dropped already, the oldest first). Detaching fires no trigger, so
// without this the metrics would go on counting messages that are gone
// (sql/004_rollups.sql). Called in the transaction that takes the month out
// of messages, so that the two are never seen apart.
void forget_metrics(pg::Connection& db, const std::string& table) {
  constexpr std::string_view kPrefix = "messages_";
  db.exec("SELECT wagate_metrics_forget((to_date($1, 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC')",
          {table.substr(kPrefix.size())});
}

void detach(pg::Connection& db, const std::string& table) {
  for (int attempt = 1;; ++attempt) {
    try {
      pg::Transaction tx(db);
      db.exec(std::string("SET LOCAL lock_timeout = '") + kDetachLockTimeout + "'");
      db.exec("ALTER TABLE messages DETACH PARTITION " + quoted(table));
      forget_metrics(db, table);
      tx.commit();
      return;
    } catch (const pg::QueryError& e) {
      if (e.sqlstate() != kLockNotAvailable || attempt == kDetachAttempts) throw;
      log::info("retention_detach_waiting").kv("partition", table).kv("attempt", attempt);
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

// The status history and SID index of the detached table's messages, in
// batches along its own (tenant_id, message_sid) index.
void delete_history(pg::Connection& db, const std::string& table, RetentionStats& stats) {
  const std::string sql =
      "WITH batch AS (SELECT tenant_id, message_sid FROM " + quoted(table) +
      "  WHERE message_sid IS NOT NULL AND (tenant_id, message_sid) > ($1::bigint, $2::text) "
      "  ORDER BY tenant_id, message_sid LIMIT $3::int), "
      "events AS (DELETE FROM status_events e USING batch b "
      "  WHERE e.tenant_id = b.tenant_id AND e.message_sid = b.message_sid RETURNING 1), "
      "indexed AS (DELETE FROM message_index x USING batch b "
      "  WHERE x.message_sid = b.message_sid AND x.tenant_id = b.tenant_id RETURNING 1), "
      "last AS (SELECT tenant_id, message_sid FROM batch ORDER BY tenant_id DESC, message_sid DESC LIMIT 1) "
      "SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM events), (SELECT count(*) FROM indexed), "
      "  (SELECT tenant_id FROM last), (SELECT message_sid FROM last)";
  std::string after_tenant = "0";
  std::string after_sid;
  const std::string batch_size = std::to_string(kRetentionBatch);
  while (true) {
    const pg::Result result = db.exec(sql, {after_tenant, after_sid, batch_size});
    stats.events_deleted += result.get_int(0, 1);
    stats.index_rows_deleted += result.get_int(0, 2);
    if (result.get_int(0, 0) == 0) return;
    after_tenant = to_string(result.get(0, 3));
    after_sid = to_string(result.get(0, 4));
  }
}

void drop_partition(pg::Connection& db, const config::Config& config, const std::string& table, bool attached,
                    const std::string& comment, RetentionStats& stats) {
  if (attached) {
    detach(db, table);
  } else {
    forget_metrics(db, table);  // detached by someone else, or by a run that stopped before forgetting it
  }
  const std::string archive_dir = config.str("archive_dir");
  std::string archived_to;
  if (comment.starts_with(kArchivedComment)) {
    archived_to = comment.substr(kArchivedComment.size());
    if (archive_dir.empty() || !std::filesystem::exists(archive_dir + "/" + archived_to)) archived_to.clear();
  }
  const long long rows = db.exec("SELECT count(*) FROM " + quoted(table)).get_int(0, 0);
  if (!archive_dir.empty() && archived_to.empty()) {
    const std::string name = free_archive_name(archive_dir, table);
    const long long lines = archive(db, archive_dir, table, name);
    if (lines != rows) {
      throw Error("retention: archive " + name + " has " + std::to_string(lines) + " lines for " +
                  std::to_string(rows) + " rows of " + table + "; the partition is kept");
    }
    db.exec("COMMENT ON TABLE " + quoted(table) + " IS " + "'" + std::string(kArchivedComment) + name + "'");
    archived_to = name;
    stats.messages_archived += lines;
    retention_metrics().archived.inc(static_cast<std::uint64_t>(lines));
  }
  const long long events_before = stats.events_deleted;
  delete_history(db, table, stats);
  db.exec("DROP TABLE " + quoted(table));
  stats.messages_dropped += rows;
  stats.dropped.push_back(table);
  retention_metrics().partitions.inc();
  retention_metrics().rows.with({"messages"}).inc(static_cast<std::uint64_t>(rows));
  log::info("partition_dropped")
      .kv("partition", table)
      .kv("rows", rows)
      .kv("events", stats.events_deleted - events_before)
      .kv("archive", archived_to.empty() ? std::string("none") : archive_dir + "/" + archived_to);
}

void drop_old_partitions(pg::Connection& db, const config::Config& config, RetentionStats& stats) {
  const pg::Result old = db.exec(kOldPartitions, {stats.boundary});
  for (int row = 0; row < old.rows(); ++row) {
    drop_partition(db, config, to_string(old.get(row, 0)), old.get(row, 1) == "t", to_string(old.get(row, 2)),
                   stats);
  }
}

}  // namespace

RetentionStats retention(pg::Connection& db, const config::Config& config) {
  RetentionStats stats;
  const std::string days = std::to_string(config.integer("retention_days"));
  const std::string batch = std::to_string(kRetentionBatch);
  stats.boundary = to_string(db.exec(kBoundary, {days}).get(0, 0));
  stats.partitions_created = db.exec(kEnsureAhead, {std::to_string(kMonthsAhead + 1)}).get_int(0, 0);

  drop_old_partitions(db, config, stats);
  // Rows of old months in messages_default (inserted while their month had
  // no partition): moved into a partition of their own, then dropped like
  // any other month.
  const pg::Result months = db.exec(kOldDefaultMonths, {stats.boundary});
  for (int row = 0; row < months.rows(); ++row) {
    db.exec("SELECT wagate_ensure_message_partitions($1::date, 1)", {months.get(row, 0)});
    ++stats.months_moved;
  }
  if (stats.months_moved > 0) drop_old_partitions(db, config, stats);

  until_done([&] {
    const pg::Result result = db.exec(kDeleteOldIndex, {stats.boundary, batch});
    stats.events_deleted += result.get_int(0, 0);
    stats.index_rows_deleted += result.get_int(0, 1);
    return result.get_int(0, 1);
  });
  stats.events_deleted += until_done([&] { return db.exec(kDeleteOrphanEvents, {stats.boundary, batch}).affected(); });
  stats.idempotency_keys_deleted = until_done([&] { return db.exec(kDeleteExpiredKeys, {batch}).affected(); });

  auto& rows = retention_metrics().rows;
  rows.with({"status_events"}).inc(static_cast<std::uint64_t>(stats.events_deleted));
  rows.with({"message_index"}).inc(static_cast<std::uint64_t>(stats.index_rows_deleted));
  rows.with({"idempotency_keys"}).inc(static_cast<std::uint64_t>(stats.idempotency_keys_deleted));
  return stats;
}

}  // namespace wagate::maint
