// log.hpp — one key=value line per event on stderr, journald level prefixes, secrets redacted by type.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "wagate/secret.hpp"

namespace wagate::log {

enum class Level { Error = 3, Warning = 4, Info = 6, Debug = 7 };

void set_level(Level level);
Level parse_level(std::string_view name);  // "error|warning|info|debug"; throws ConfigError

// Where finished lines go; default writes each line with one write(2) to
// stderr. Tests replace it to capture output.
void set_sink(std::function<void(std::string_view line)> sink);

// Builds one line and emits it when destroyed:
//   log::info("request").kv("req_id", id).kv("status", 200);
// prints "<6>event=request req_id=abc status=200". Values with blanks, quotes,
// '=' or control characters are quoted and escaped, so a line is always one line.
class Line {
 public:
  Line(Level level, std::string_view event);
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line();

  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, long long value);
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, long value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, unsigned long value) { return kv(key, static_cast<long long>(value)); }
  Line& kv(std::string_view key, double value);
  Line& kv(std::string_view key, bool value);
  Line& kv(std::string_view key, const Secret&);  // always "(redacted)"

 private:
  bool enabled_;
  std::string text_;
};

inline Line error(std::string_view event) { return Line(Level::Error, event); }
inline Line warning(std::string_view event) { return Line(Level::Warning, event); }
inline Line info(std::string_view event) { return Line(Level::Info, event); }
inline Line debug(std::string_view event) { return Line(Level::Debug, event); }

}  // namespace wagate::log
