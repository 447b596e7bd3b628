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
#include <cstring>
#include <filesystem>
#include <string>

#include "wagate/error.hpp"
#include "wagate/log.hpp"

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

// Splits a file's bytes into complete, intact records; a torn tail ends it.
std::vector<std::string> parse_records(std::string_view bytes, const std::string& path) {
  std::vector<std::string> records;
  std::size_t pos = 0;
  while (bytes.size() - pos >= kHeaderSize) {
    const std::uint32_t length = get_u32(bytes.data() + pos);
    const std::uint32_t crc = get_u32(bytes.data() + pos + 4);
    if (length > kMaxRecord || bytes.size() - pos - kHeaderSize < length) break;
    const std::string_view payload = bytes.substr(pos + kHeaderSize, length);
    if (crc32(payload) != crc) break;
    records.emplace_back(payload);
    pos += kHeaderSize + length;
  }
  if (pos != bytes.size()) {
    log::warning("spool_torn_tail").kv("file", path).kv("dropped_bytes", static_cast<long long>(bytes.size() - pos));
  }
  return records;
}

}  // namespace

std::uint32_t crc32(std::string_view data) {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFU;
  for (const char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

bool pending(const std::string& dir) { return !spool_files(dir).empty(); }

Stats stats(const std::string& dir) {
  Stats result;
  for (const std::string& path : spool_files(dir)) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string bytes;
    if (read_all(fd, bytes)) {
      ++result.files;
      result.bytes += bytes.size();
      std::size_t pos = 0;
      while (bytes.size() - pos >= kHeaderSize) {
        const std::uint32_t length = get_u32(bytes.data() + pos);
        if (length > kMaxRecord || bytes.size() - pos - kHeaderSize < length) break;
        ++result.records;
        pos += kHeaderSize + length;
      }
    }
    close(fd);
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

void Spool::open_file_locked() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw SpoolError("spool: cannot create " + dir_ + ": " + errno_text());
  }
  const std::string name = std::to_string(getpid()) + "-" + std::to_string(time(nullptr)) + "-" +
                           std::to_string(sequence_++);
  const std::string staging = dir_ + "/.staging-" + name;
  const std::string path = dir_ + "/spool-" + name + ".log";
  // Created under a name replay ignores and renamed only once locked: a
  // replayer can never take (and delete) a file its writer has not locked yet.
  const int fd = open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw SpoolError("spool: cannot open " + staging + ": " + errno_text());
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(staging.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text();
    close(fd);
    unlink(staging.c_str());
    throw SpoolError("spool: cannot prepare " + path + ": " + reason);
  }
  // The directory entry must be durable too, or a crash could lose the file.
  const int dir_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  fd_ = fd;
}

void Spool::close_file_locked() {
  if (fd_ >= 0) {
    close(fd_);  // releases the flock: the file is now replayable
    fd_ = -1;
  }
}

void Spool::append(std::string_view payload) { append_batch({std::string(payload)}); }

void Spool::append_batch(const std::vector<std::string>& payloads) {
  std::string bytes;
  for (const std::string& payload : payloads) {
    if (payload.size() > kMaxRecord) throw SpoolError("spool: record too large");
    char header[kHeaderSize];
    put_u32(header, static_cast<std::uint32_t>(payload.size()));
    put_u32(header + 4, crc32(payload));
    bytes.append(header, kHeaderSize);
    bytes.append(payload);
  }

  const std::lock_guard lock(mutex_);
  if (fd_ < 0) open_file_locked();
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd_, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = errno_text();
      close_file_locked();  // a half-written record must not be followed by good ones
      throw SpoolError("spool: write failed: " + reason);
    }
    written += static_cast<std::size_t>(n);
  }
  if (fdatasync(fd_) != 0) {
    const std::string reason = errno_text();
    close_file_locked();
    throw SpoolError("spool: fdatasync failed: " + reason);
  }
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
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st{};
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0) {
      close(fd);  // a live writer, another replayer, or already replayed and deleted
      continue;
    }
    std::string bytes;
    if (!read_all(fd, bytes)) {
      close(fd);
      continue;
    }
    const std::vector<std::string> records = parse_records(bytes, path);
    try {
      for (std::size_t start = 0; start < records.size(); start += batch_size) {
        const std::size_t end = std::min(records.size(), start + batch_size);
        apply(std::vector<std::string>(records.begin() + static_cast<std::ptrdiff_t>(start),
                                       records.begin() + static_cast<std::ptrdiff_t>(end)));
        applied += end - start;
      }
    } catch (...) {
      close(fd);
      throw;
    }
    unlink(path.c_str());  // still under our lock: nobody else can be replaying it
    close(fd);
    log::info("spool_replayed").kv("file", path).kv("records", static_cast<long long>(records.size()));
  }
  return applied;
}

}  // namespace wagate::spool
