// spool.hpp — the local, fsynced append-only log that holds webhooks while Postgres is unreachable.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/file_descriptor.hpp"

namespace wagate::spool {

struct Stats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::uint64_t quarantine_files = 0;  // never replayed automatically: an operator must look
  std::uint64_t quarantine_bytes = 0;
};

// Statistics of a spool directory, for health and metrics. Cheap: a
// directory listing, stat() per file and the record count its writer keeps
// in a sidecar (<file>.count); only bytes a sidecar does not cover (a writer
// that died between its fsync and the sidecar update, a file of an older
// version) are read. A missing directory counts as empty.
Stats stats(const std::string& dir);

// True when the directory holds any spool file (cheap: no file is read).
bool pending(const std::string& dir);

// Applies a batch of records (payloads in spool order) durably, e.g. in one
// Postgres transaction, and returns the indices (into payloads) of those that
// can never be applied (refused as data, not a record at all): they go to
// quarantine and the rest counts as applied. Throws to leave the whole batch
// in the spool (an outage). Must be idempotent: after a crash a batch may be
// applied again.
using ApplyBatch = std::function<std::vector<std::size_t>(const std::vector<std::string>& payloads)>;

// A spool file split by its framing: intact records, the byte ranges between
// them that are not records (kept for quarantine), and how many bytes at the
// end were a torn write.
struct ParsedFile {
  std::vector<std::string> records;
  std::vector<std::string> skipped;
  std::size_t torn_tail = 0;
};

// Parses framed bytes, resynchronising after a damaged record on the next
// header whose length is in bounds and whose CRC matches. The end of the
// file is a torn tail (not quarantined) only when no record follows and it
// looks like an interrupted write: shorter than a header, a header whose
// payload runs past the end, or zeros. Exposed for tests and tools.
ParsedFile parse_file(std::string_view bytes);

// The records of a spool or quarantine file (read-only; for tests and tools).
std::vector<std::string> read_file_records(const std::string& path);

// One writer per process. Records go to a file of this process's own
// (spool-<pid>-<n>.log) held under an exclusive flock, so that replay in any
// process can tell a live writer's file from one a dead process left behind.
//
// Record framing: u32 little-endian length (1..16 MiB: a zero header is not a
// record), u32 CRC-32 of the payload, the payload. A torn tail (a crash in
// the middle of a write, never acknowledged) is dropped on replay; any other
// damage, and every record the apply step refuses, is moved to
// quarantine-<pid>-<time>-<n>.log beside the spool files, in the same framing
// (a damaged range is one record of raw bytes), counted by
// wagate_spool_quarantined_total and logged with the file's name.
class Spool {
 public:
  explicit Spool(std::string dir);
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // Appends and fdatasyncs before returning: once this returns the record
  // survives kill -9 and power loss. Thread-safe. Throws SpoolError (also for
  // an empty payload, which the framing cannot tell from zeroed disk).
  void append(std::string_view payload);
  // Several records with one write and one fdatasync.
  void append_batch(const std::vector<std::string>& payloads);

  // Replays every spool file not held by a live writer (our own current file
  // is closed first so it can be replayed too), oldest first, in batches of
  // at most batch_size records; a file is deleted once all of it has been
  // applied or quarantined. Returns the number of records applied. Stops at
  // the first batch that throws and rethrows (the file stays for the next
  // attempt).
  std::size_t replay(const ApplyBatch& apply, std::size_t batch_size = 500);

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  void open_file_locked();
  void close_file_locked();

  void write_quarantine(const std::vector<std::string>& payloads, const std::string& from);
  std::string next_name();

  std::string dir_;
  std::mutex mutex_;
  FileDescriptor fd_;
  FileDescriptor count_fd_;  // the sidecar of fd_'s file
  std::uint64_t file_records_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::atomic<unsigned> sequence_{0};  // file names of the writer and of quarantine
};

// CRC-32 (IEEE 802.3), exposed for tests.
std::uint32_t crc32(std::string_view data);

}  // namespace wagate::spool
