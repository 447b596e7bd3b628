// spool.cpp — the local, fsynced append-only log that holds webhooks while Postgres is unreachable.
#include "wagate/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "wagate/error.hpp"
#include "wagate/file_descriptor.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"

namespace wagate::spool {
namespace {

constexpr std::size_t kHeaderSize = 8;
constexpr std::uint32_t kMaxRecord = 16 * 1024 * 1024;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

void put_u32(char* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFFU);
}

std::uint32_t get_u32(const char* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

std::string errno_text() { return std::strerror(errno); }

bool is_spool_file(const char* name) {
  const std::string_view n(name);
  return n.starts_with("spool-") && n.ends_with(".log");
}

bool is_quarantine_file(const char* name) {
  const std::string_view n(name);
  return n.starts_with("quarantine-") && n.ends_with(".log");
}

void fsync_dir(const std::string& dir) {
  const FileDescriptor dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) fsync(dir_fd.get());
}

std::vector<std::string> spool_files(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  while (const dirent* entry = readdir(d)) {
    if (is_spool_file(entry->d_name)) files.push_back(dir + "/" + entry->d_name);
  }
  closedir(d);
  // Oldest first: replay keeps arrival order across files.
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    struct stat sa{}, sb{};
    stat(a.c_str(), &sa);
    stat(b.c_str(), &sb);
    if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec) return sa.st_mtim.tv_sec < sb.st_mtim.tv_sec;
    if (sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec) return sa.st_mtim.tv_nsec < sb.st_mtim.tv_nsec;
    return a < b;
  });
  return files;
}

bool read_all(int fd, std::string& out) {
  char buffer[65536];
  while (true) {
    const ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (got == 0) return true;
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

// The length of the intact, non-empty record at pos, if one starts there.
std::optional<std::uint32_t> record_at(std::string_view bytes, std::size_t pos) {
  if (bytes.size() - pos < kHeaderSize) return std::nullopt;
  const std::uint32_t length = get_u32(bytes.data() + pos);
  if (length == 0 || length > kMaxRecord || bytes.size() - pos - kHeaderSize < length) return std::nullopt;
  if (crc32(bytes.substr(pos + kHeaderSize, length)) != get_u32(bytes.data() + pos + 4)) return std::nullopt;
  return length;
}

// What a write cut short by a crash leaves: part of a header, a header whose
// payload never arrived, or blocks the file system had allocated but not
// yet written (zeros).
bool looks_torn(std::string_view tail) {
  if (tail.size() < kHeaderSize) return true;
  if (std::all_of(tail.begin(), tail.end(), [](char c) { return c == 0; })) return true;
  const std::uint32_t length = get_u32(tail.data());
  return length > 0 && length <= kMaxRecord && tail.size() - kHeaderSize < length;
}

// Counts the intact records of bytes (as replay would find them).
std::uint64_t count_records(std::string_view bytes) { return parse_file(bytes).records.size(); }

bool pread_all(int fd, std::string& out, std::size_t offset, std::size_t length) {
  out.resize(length);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t got = pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

bool write_all(int fd, std::string_view bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return true;
}

void frame(std::string& out, std::string_view payload) {
  char header[kHeaderSize];
  put_u32(header, static_cast<std::uint32_t>(payload.size()));
  put_u32(header + 4, crc32(payload));
  out.append(header, kHeaderSize);
  out.append(payload);
}

// The sidecar of a spool file: how many records its writer has fsynced and
// up to which byte, with a CRC so that a torn or concurrent read is noticed
// (and the file counted the slow way) rather than believed.
constexpr std::size_t kSidecarSize = 20;

std::string sidecar_path(std::string_view spool_path) {
  return std::string(spool_path.substr(0, spool_path.size() - 4)) + ".count";
}

void put_u64(char* out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value));
  put_u32(out + 4, static_cast<std::uint32_t>(value >> 32));
}

std::uint64_t get_u64(const char* in) {
  return get_u32(in) | (static_cast<std::uint64_t>(get_u32(in + 4)) << 32);
}

struct SidecarCount {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

std::optional<SidecarCount> read_sidecar(const std::string& spool_path) {
  const FileDescriptor fd(open(sidecar_path(spool_path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string raw;
  if (!pread_all(fd.get(), raw, 0, kSidecarSize) || crc32(std::string_view(raw).substr(0, 16)) != get_u32(raw.data() + 16)) return std::nullopt;
  return SidecarCount{get_u64(raw.data()), get_u64(raw.data() + 8)};
}

}  // namespace

std::uint32_t crc32(std::string_view data) {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFU;
  for (const char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

bool pending(const std::string& dir) { return !spool_files(dir).empty(); }

ParsedFile parse_file(std::string_view bytes) {
  ParsedFile parsed;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (const auto length = record_at(bytes, pos)) {
      parsed.records.emplace_back(bytes.substr(pos + kHeaderSize, *length));
      pos += kHeaderSize + *length;
      continue;
    }
    std::size_t next = pos + 1;
    while (next < bytes.size() && !record_at(bytes, next)) ++next;
    const std::string_view damaged = bytes.substr(pos, next - pos);
    if (next == bytes.size() && looks_torn(damaged)) {
      parsed.torn_tail = damaged.size();
    } else {
      parsed.skipped.emplace_back(damaged);
    }
    pos = next;
  }
  return parsed;
}

std::vector<std::string> read_file_records(const std::string& path) {
  const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw SpoolError("spool: cannot open " + path + ": " + errno_text());
  std::string bytes;
  if (!read_all(fd.get(), bytes)) throw SpoolError("spool: cannot read " + path);
  return parse_file(bytes).records;
}

Stats stats(const std::string& dir) {
  Stats result;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return result;
  std::vector<std::string> files;
  while (const dirent* entry = readdir(d)) {
    const std::string path = dir + "/" + entry->d_name;
    struct stat st{};
    if (is_quarantine_file(entry->d_name) && stat(path.c_str(), &st) == 0) {
      ++result.quarantine_files;
      result.quarantine_bytes += static_cast<std::uint64_t>(st.st_size);
    } else if (is_spool_file(entry->d_name)) {
      files.push_back(path);
    }
  }
  closedir(d);
  for (const std::string& path : files) {
    const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;  // replayed and deleted since the listing
    // The sidecar before the size: a writer updates it after its fsync, so
    // it never covers more than the bytes a later fstat sees; if it appears
    // to, it is damaged and the whole file is counted instead.
    SidecarCount known = read_sidecar(path).value_or(SidecarCount{});
    struct stat st{};
    if (fstat(fd.get(), &st) == 0) {
      const auto size = static_cast<std::uint64_t>(st.st_size);
      ++result.files;
      result.bytes += size;
      if (known.bytes > size) known = {};
      std::string tail;
      if (known.bytes < size && pread_all(fd.get(), tail, known.bytes, size - known.bytes)) {
        known.records += count_records(tail);
      }
      result.records += known.records;
    }
  }
  return result;
}

Spool::Spool(std::string dir) : dir_(std::move(dir)) {
  // Made early so the first append during an outage finds it; a failure here
  // is reported by that append.
  std::error_code ignored;
  std::filesystem::create_directories(dir_, ignored);
  chmod(dir_.c_str(), 0700);
}

Spool::~Spool() {
  const std::lock_guard lock(mutex_);
  close_file_locked();
}

std::string Spool::next_name() {
  return std::to_string(getpid()) + "-" + std::to_string(time(nullptr)) + "-" + std::to_string(sequence_++);
}

void Spool::open_file_locked() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw SpoolError("spool: cannot create " + dir_ + ": " + errno_text());
  }
  std::string name = next_name();
  const std::string staging = dir_ + "/.staging-" + name;
  std::string path = dir_ + "/spool-" + name + ".log";
  // Created under a name replay ignores and renamed only once locked: a
  // replayer can never take (and delete) a file its writer has not locked yet.
  FileDescriptor fd(open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) throw SpoolError("spool: cannot open " + staging + ": " + errno_text());
  bool placed = flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
  // Never over an existing file: a spool opened again in the same second by
  // the same pid (a restart, a reused pid) would otherwise replace a file
  // full of acknowledged records.
  for (int attempt = 0; placed; ++attempt) {
    if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) break;
    if (errno != EEXIST || attempt == 999) {
      placed = false;
      break;
    }
    name = next_name();
    path = dir_ + "/spool-" + name + ".log";
  }
  if (!placed) {
    const std::string reason = errno_text();
    fd.reset();
    unlink(staging.c_str());
    throw SpoolError("spool: cannot prepare " + path + ": " + reason);
  }
  // The directory entry must be durable too, or a crash could lose the file.
  fsync_dir(dir_);
  fd_ = std::move(fd);
  file_records_ = 0;
  file_bytes_ = 0;
  // Without its sidecar a file is still counted, only by reading it: the
  // count is a convenience, the records are what must not fail.
  count_fd_.reset(open(sidecar_path(path).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
}

void Spool::close_file_locked() {
  count_fd_.reset();
  fd_.reset();  // releases the flock: the file is now replayable
}

void Spool::append(std::string_view payload) { append_batch({std::string(payload)}); }

void Spool::append_batch(const std::vector<std::string>& payloads) {
  std::string bytes;
  for (const std::string& payload : payloads) {
    if (payload.empty()) throw SpoolError("spool: empty record");
    if (payload.size() > kMaxRecord) throw SpoolError("spool: record too large");
    frame(bytes, payload);
  }

  const std::lock_guard lock(mutex_);
  if (!fd_) open_file_locked();
  if (!write_all(fd_.get(), bytes)) {
    const std::string reason = errno_text();
    close_file_locked();  // a half-written record must not be followed by good ones
    throw SpoolError("spool: write failed: " + reason);
  }
  if (fdatasync(fd_.get()) != 0) {
    const std::string reason = errno_text();
    close_file_locked();
    throw SpoolError("spool: fdatasync failed: " + reason);
  }
  file_records_ += payloads.size();
  file_bytes_ += bytes.size();
  if (count_fd_) {
    // Not fsynced: after a crash stats() reads the bytes it does not cover.
    char sidecar[kSidecarSize];
    put_u64(sidecar, file_records_);
    put_u64(sidecar + 8, file_bytes_);
    put_u32(sidecar + 16, crc32(std::string_view(sidecar, 16)));
    if (pwrite(count_fd_.get(), sidecar, kSidecarSize, 0) != static_cast<ssize_t>(kSidecarSize)) count_fd_.reset();
  }
}

void Spool::write_quarantine(const std::vector<std::string>& payloads, const std::string& from) {
  std::string bytes;
  for (const std::string& payload : payloads) frame(bytes, payload);
  const std::string path = dir_ + "/quarantine-" + next_name() + ".log";
  FileDescriptor fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw SpoolError("spool: cannot create " + path + ": " + errno_text());
  const bool ok = write_all(fd.get(), bytes) && fdatasync(fd.get()) == 0;
  const std::string reason = errno_text();
  fd.reset();
  if (!ok) {
    unlink(path.c_str());
    throw SpoolError("spool: cannot write " + path + ": " + reason);
  }
  fsync_dir(dir_);
  log::warning("spool_quarantined").kv("file", path).kv("from", from)
      .kv("records", static_cast<long long>(payloads.size()));
}

std::size_t Spool::replay(const ApplyBatch& apply, std::size_t batch_size) {
  {
    // Our own file is rotated so its records can be replayed now; new
    // records go to a fresh file.
    const std::lock_guard lock(mutex_);
    close_file_locked();
  }
  std::size_t applied = 0;
  for (const std::string& path : spool_files(dir_)) {
    // Held until the file is deleted: its flock keeps other replayers out.
    const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;
    struct stat st{};
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || fstat(fd.get(), &st) != 0 || st.st_nlink == 0) {
      continue;  // a live writer, another replayer, or already replayed and deleted
    }
    std::string bytes;
    if (!read_all(fd.get(), bytes)) continue;
    ParsedFile parsed = parse_file(bytes);
    if (parsed.torn_tail > 0) {
      log::warning("spool_torn_tail").kv("file", path).kv("dropped_bytes", static_cast<long long>(parsed.torn_tail));
    }
    const std::vector<std::string>& records = parsed.records;
    std::vector<std::string> quarantine = std::move(parsed.skipped);
    const std::size_t damaged = quarantine.size();
    for (std::size_t start = 0; start < records.size(); start += batch_size) {
      const std::size_t end = std::min(records.size(), start + batch_size);
      const std::vector<std::size_t> rejected =
          apply(std::vector<std::string>(records.begin() + static_cast<std::ptrdiff_t>(start),
                                         records.begin() + static_cast<std::ptrdiff_t>(end)));
      std::vector<bool> is_rejected(end - start, false);
      std::size_t refused = 0;
      for (const std::size_t index : rejected) {
        if (index < is_rejected.size() && !is_rejected[index]) {
          is_rejected[index] = true;
          quarantine.push_back(records[start + index]);
          ++refused;
        }
      }
      applied += end - start - refused;
    }
    // Moved aside before the file goes: nothing leaves the spool unkept.
    if (!quarantine.empty()) write_quarantine(quarantine, path);
    if (damaged > 0) metrics::count_spool_quarantine("damaged", damaged);
    if (quarantine.size() > damaged) metrics::count_spool_quarantine("refused", quarantine.size() - damaged);
    unlink(sidecar_path(path).c_str());  // first: a file without its sidecar is still counted right
    unlink(path.c_str());                // still under our lock: nobody else can be replaying it
    log::info("spool_replayed").kv("file", path).kv("records", static_cast<long long>(records.size()))
        .kv("quarantined", static_cast<long long>(quarantine.size()));
  }
  return applied;
}

}  // namespace wagate::spool
