// config.hpp — the one table of configuration keys, the file and environment loader, reload.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/secret.hpp"

namespace wagate::config {

enum class Type {
  String,      // free text (may be further constrained by `allowed`)
  Int,         // integer within [min, max]
  Bool,        // true/false, yes/no, on/off, 1/0
  List,        // comma-separated words, surrounding blanks trimmed
  SecretFile,  // value is a path; the file's content (trailing newline trimmed) is the secret.
               // A relative path is resolved against $CREDENTIALS_DIRECTORY (systemd LoadCredential=).
};

struct KeySpec {
  std::string_view name;
  Type type;
  std::string_view default_value;
  bool reloadable;  // SIGHUP applies a new value without restart
  bool secret;      // never printed: dump() and errors show "(redacted)"
  std::string_view help;
  long long min = 0;               // Int only
  long long max = 0;               // Int only
  std::string_view allowed = {};   // String only: "a|b|c", empty means any
  // A rule the type cannot express (a URL's scheme, say): returns what was
  // expected, or an empty view when `value` is acceptable.
  std::string_view (*check)(std::string_view value) = nullptr;
};

// The table, in the order of the shipped example config.
std::span<const KeySpec> keys();
const KeySpec* find_key(std::string_view name);

// Why `value` is not acceptable for `spec` ("expected an integer from 1 to 20,
// got 'abc'"), or an empty string when it is. Secret values are not echoed.
std::string check_value(const KeySpec& spec, std::string_view value);

// Default path of the config file; `WAGATE_CONFIG` or a --config flag overrides it.
inline constexpr std::string_view kDefaultPath = "/etc/wagate/wagate.conf";

// The variables a config reads from the process environment: every
// WAGATE_<KEY> and CREDENTIALS_DIRECTORY (systemd's LoadCredential=).
[[nodiscard]] std::map<std::string, std::string> process_environment();

class Config {
 public:
  // Loads the file (a missing file is an error) and applies WAGATE_<KEY>
  // environment overrides from the process environment. Throws ConfigError
  // naming the origin, line and key ("wagate.conf:12: unknown key 'foo'").
  static Config load(const std::string& path);
  // The same from text, with an explicit environment (for tests).
  static Config parse(std::string_view text, std::string_view origin,
                      const std::map<std::string, std::string>& env);
  // Defaults plus environment only (no file).
  static Config defaults(const std::map<std::string, std::string>& env = {});

  [[nodiscard]] const std::string& str(std::string_view key) const;
  [[nodiscard]] long long integer(std::string_view key) const;
  [[nodiscard]] bool boolean(std::string_view key) const;
  [[nodiscard]] std::vector<std::string> list(std::string_view key) const;
  [[nodiscard]] const Secret& secret(std::string_view key) const;  // SecretFile keys

  // `key = value` lines for every key, secrets shown as (redacted).
  [[nodiscard]] std::string dump() const;

 private:
  friend class Holder;  // a reload keeps the old value of each non-reloadable key

  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, Secret, std::less<>> secrets_;
};

// Holds the live config of a process. reload() re-reads the file: on success
// the reloadable keys take their new values (a changed non-reloadable key is
// logged and keeps its old value); on error the old config stays and the
// error is logged. Readers take a snapshot with current().
class Holder {
 public:
  explicit Holder(std::string path);
  [[nodiscard]] std::shared_ptr<const Config> current() const;
  bool reload();  // true when the new config was applied
  [[nodiscard]] const std::string& path() const { return path_; }

  // For signal handlers: request_reload() is async-signal-safe; the main loop
  // calls reload_if_requested() at a safe point.
  static void request_reload();
  bool reload_if_requested();

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Config> current_;
};

// The config path a process should use: --config PATH in argv, else
// $WAGATE_CONFIG, else kDefaultPath.
std::string path_from(int argc, char** argv);

}  // namespace wagate::config
