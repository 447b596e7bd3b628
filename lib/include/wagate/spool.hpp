// spool.hpp — the local, fsynced append-only log that holds webhooks while Postgres is unreachable.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::spool {

struct Stats {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
};

// Statistics of a spool directory, for health and `wagate-admin spool status`.
// A missing directory counts as empty.
Stats stats(const std::string& dir);

// True when the directory holds any spool file (cheap: no file is read).
bool pending(const std::string& dir);

// Applies a batch of records (payloads in spool order) durably, e.g. in one
// Postgres transaction; throws to leave the records in the spool. Must be
// idempotent: after a crash a batch may be applied again.
using ApplyBatch = std::function<void(const std::vector<std::string>& payloads)>;

// One writer per process. Records go to a file of this process's own
// (spool-<pid>-<n>.log) held under an exclusive flock, so that replay in any
// process can tell a live writer's file from one a dead process left behind.
//
// Record framing: u32 little-endian length, u32 CRC-32 of the payload, the
// payload. A torn tail (a crash in the middle of a write, never acknowledged)
// fails its length or CRC check and is dropped on replay.
class Spool {
 public:
  explicit Spool(std::string dir);
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // Appends and fdatasyncs before returning: once this returns the record
  // survives kill -9 and power loss. Thread-safe. Throws SpoolError.
  void append(std::string_view payload);
  // Several records with one write and one fdatasync.
  void append_batch(const std::vector<std::string>& payloads);

  // Replays every spool file not held by a live writer (our own current file
  // is closed first so it can be replayed too), oldest first, in batches of
  // at most batch_size records; a file is deleted once all of it has been
  // applied. Returns the number of records applied. Stops at the first batch
  // that throws and rethrows (the file stays for the next attempt).
  std::size_t replay(const ApplyBatch& apply, std::size_t batch_size = 500);

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  void open_file_locked();
  void close_file_locked();

  std::string dir_;
  std::mutex mutex_;
  int fd_ = -1;
  unsigned sequence_ = 0;
};

// CRC-32 (IEEE 802.3), exposed for tests.
std::uint32_t crc32(std::string_view data);

}  // namespace wagate::spool
