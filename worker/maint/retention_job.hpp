// retention_job.hpp — the retention job: old months of messages archived and dropped by partition, with their history.
#pragma once

#include <string>
#include <vector>

namespace wagate::pg {
class Connection;
}
namespace wagate::config {
class Config;
}

namespace wagate::maint {

// Months of partitions kept ready after the current one, so that an insert
// never lands in messages_default for want of its month.
inline constexpr int kMonthsAhead = 3;
// Rows one statement deletes: each batch is its own short transaction, so
// the hot path never waits long behind retention.
inline constexpr int kRetentionBatch = 5000;

// What one run did, for its log line and for tests.
struct RetentionStats {
  std::string boundary;                 // "YYYY-MM-DD": everything created before it is gone
  long long partitions_created = 0;     // future months made ready
  long long months_moved = 0;           // old months taken out of messages_default into a partition
  std::vector<std::string> dropped;     // partitions dropped, oldest first
  long long messages_dropped = 0;       // rows of those partitions
  long long messages_archived = 0;      // lines written to archive_dir
  long long index_rows_deleted = 0;     // message_index rows of dropped messages
  long long events_deleted = 0;         // status_events of dropped messages, and old orphans
  long long idempotency_keys_deleted = 0;
};

// One run, under the caller's advisory lock:
//   1. the current month and kMonthsAhead more have their partitions;
//   2. the boundary is the start of the UTC month holding now - retention_days;
//      every monthly partition whose upper bound is at or before it is
//      detached, archived to archive_dir (when set; written and fsynced
//      before anything is deleted), its messages' status_events and
//      message_index rows deleted in batches, and dropped. Rows of such months
//      found in messages_default are first moved into their own partition
//      and dropped the same way;
//   3. message_index rows and status_events older than the boundary that no
//      message owns any more go in batches, as do expired idempotency keys.
// A run interrupted anywhere is finished by the next one. Throws DbError
// when Postgres fails under it, and Error when the archive cannot be
// written (the partition is then kept).
RetentionStats retention(pg::Connection& db, const config::Config& config);

}  // namespace wagate::maint
