// log.cpp — one key=value line per event on stderr with a journald level prefix, written in one write(2).
#include "wagate/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <mutex>

#include "wagate/error.hpp"

namespace wagate::log {
namespace {

// A value longer than this is cut: one event must stay one readable line, and
// a caller-supplied string must not be able to flood the journal.
constexpr size_t kMaxValueBytes = 2048;
constexpr std::string_view kTruncated = "...(truncated)";
constexpr char kHex[] = "0123456789abcdef";

std::atomic<int> g_level{static_cast<int>(Level::Info)};

// The default sink takes no lock: each line goes out in one write(2), which
// the kernel does not interleave with other threads' writes. Only a replaced
// sink (tests) is serialised.
std::atomic<bool> g_custom_sink{false};
std::mutex g_sink_mutex;
std::function<void(std::string_view)> g_sink;

void write_stderr(std::string_view line) {
  while (!line.empty()) {
    const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;  // nowhere left to report it
    line.remove_prefix(static_cast<size_t>(written));
  }
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '"' || c == '=') return true;
  }
  return false;
}

void append_key(std::string& out, std::string_view key) {
  if (key.empty()) key = "_";
  for (const char c : key) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                       c == '-' || c == '.';
    out.push_back(plain ? c : '_');
  }
}

// Control characters are escaped so that no value can end the line and
// forge another event after it.
void append_value(std::string& out, std::string_view value) {
  const bool truncated = value.size() > kMaxValueBytes;
  if (truncated) value = value.substr(0, kMaxValueBytes);
  if (!truncated && !needs_quotes(value)) {
    out += value;
    return;
  }
  out.push_back('"');
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\x";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  if (truncated) out += kTruncated;
  out.push_back('"');
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level parse_level(std::string_view name) {
  if (name == "error") return Level::Error;
  if (name == "warning") return Level::Warning;
  if (name == "info") return Level::Info;
  if (name == "debug") return Level::Debug;
  throw ConfigError("unknown log level '" + std::string(name) + "': expected debug, info, warning or error");
}

void set_sink(std::function<void(std::string_view line)> sink) {
  const std::lock_guard lock(g_sink_mutex);
  g_custom_sink.store(static_cast<bool>(sink));
  g_sink = std::move(sink);
}

Line::Line(Level level, std::string_view event)
    : enabled_(static_cast<int>(level) <= g_level.load(std::memory_order_relaxed)) {
  if (!enabled_) return;
  text_.reserve(128);
  text_ += '<';
  text_ += static_cast<char>('0' + static_cast<int>(level));
  text_ += ">event=";
  append_value(text_, event);
}

Line::~Line() {
  if (!enabled_) return;
  try {
    text_ += '\n';
    if (!g_custom_sink.load()) {
      write_stderr(text_);
      return;
    }
    const std::lock_guard lock(g_sink_mutex);
    if (g_sink) {
      g_sink(text_);
    } else {
      write_stderr(text_);
    }
  } catch (...) {
    // A log line that cannot be written must not take the process down.
  }
}

Line& Line::kv(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  text_ += ' ';
  append_key(text_, key);
  text_ += '=';
  append_value(text_, value);
  return *this;
}

Line& Line::kv(std::string_view key, long long value) {
  if (!enabled_) return *this;
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return kv(key, std::string_view(buffer, static_cast<size_t>(result.ptr - buffer)));
}

Line& Line::kv(std::string_view key, double value) {
  if (!enabled_) return *this;
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return kv(key, std::string_view(buffer, static_cast<size_t>(result.ptr - buffer)));
}

Line& Line::kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }

Line& Line::kv(std::string_view key, const Secret&) { return kv(key, Secret::kRedacted); }

}  // namespace wagate::log
