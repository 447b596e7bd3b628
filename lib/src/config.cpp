// config.cpp — the config file and environment loader, validation against the key table, reload.
#include "wagate/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <system_error>

#include "wagate/error.hpp"
#include "wagate/file_descriptor.hpp"
#include "wagate/log.hpp"

extern char** environ;

namespace wagate::config {
namespace {

// A credential file is a key or a token; anything bigger is a wrong path
// (a log, /dev/zero) and must not be read into memory.
constexpr size_t kMaxSecretFileBytes = 64 * 1024;
constexpr std::string_view kEnvPrefix = "WAGATE_";
constexpr std::string_view kCredentialsDirectory = "CREDENTIALS_DIRECTORY";

std::atomic<bool> g_reload_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_reload() must be async-signal-safe");

std::string_view trim(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n\f\v";
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

std::string env_name(std::string_view key) {
  std::string name(kEnvPrefix);
  for (const char c : key) name.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  return name;
}

std::optional<long long> parse_int(std::string_view text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string lower;
  for (const char c : text) lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

bool is_allowed(std::string_view allowed, std::string_view value) {
  while (true) {
    const size_t bar = allowed.find('|');
    if (allowed.substr(0, bar) == value) return true;
    if (bar == std::string_view::npos) return false;
    allowed.remove_prefix(bar + 1);
  }
}

std::string list_words(std::string_view allowed) {
  std::string words;
  while (true) {
    const size_t bar = allowed.find('|');
    if (!words.empty()) words += bar == std::string_view::npos ? " or " : ", ";
    words += allowed.substr(0, bar);
    if (bar == std::string_view::npos) return words;
    allowed.remove_prefix(bar + 1);
  }
}

const KeySpec& spec_of(std::string_view key) {
  const KeySpec* spec = find_key(key);
  if (spec == nullptr) throw ConfigError("no config key '" + std::string(key) + "'");
  return *spec;
}

const KeySpec& spec_of(std::string_view key, Type type, std::string_view accessor) {
  const KeySpec& spec = spec_of(key);
  if (spec.type != type) throw ConfigError("config key '" + std::string(key) + "' is not read with " +
                                           std::string(accessor));
  return spec;
}

// Reads a credential file; the error names the path and the reason, never a
// byte of what the file holds.
Secret read_secret_file(const std::string& path, std::string_view where, std::string_view key) {
  const auto fail = [&](int error) {
    return ConfigError(std::string(where) + ": cannot read " + std::string(key) + " '" + path +
                       "': " + std::generic_category().message(error));
  };
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) throw fail(errno);
  std::string content;
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) throw fail(errno);
  if (!S_ISREG(info.st_mode)) {
    throw ConfigError(std::string(where) + ": cannot read " + std::string(key) + " '" + path +
                      "': not a regular file");
  }
  if (static_cast<unsigned long long>(info.st_size) > kMaxSecretFileBytes) {
    throw ConfigError(std::string(where) + ": cannot read " + std::string(key) + " '" + path +
                      "': larger than " + std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  // Sized once up front so the bytes are never copied into a buffer that a
  // reallocation would free without wiping.
  content.resize(kMaxSecretFileBytes + 1);
  size_t used = 0;
  while (used < content.size()) {
    const ssize_t got = ::read(fd.get(), content.data() + used, content.size() - used);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      Secret wipe(std::move(content));
      throw fail(error);
    }
    if (got == 0) break;
    used += static_cast<size_t>(got);
  }
  if (used > kMaxSecretFileBytes) {
    Secret wipe(std::move(content));
    throw ConfigError(std::string(where) + ": cannot read " + std::string(key) + " '" + path +
                      "': larger than " + std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  // Trimming the tail in place keeps the capacity, and Secret wipes all of it.
  while (used > 0 && (content[used - 1] == '\n' || content[used - 1] == '\r')) --used;
  std::fill(content.begin() + static_cast<std::ptrdiff_t>(used), content.end(), '\0');
  content.resize(used);
  return Secret(std::move(content));
}

std::string resolve_secret_path(const std::string& path, const std::map<std::string, std::string>& env) {
  if (path.starts_with('/')) return path;
  const auto dir = env.find(std::string(kCredentialsDirectory));
  if (dir == env.end() || dir->second.empty()) return path;
  return dir->second.ends_with('/') ? dir->second + path : dir->second + "/" + path;
}


}  // namespace

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = text.substr(0, equals);
    if (name.starts_with(kEnvPrefix) || name == kCredentialsDirectory) {
      env.emplace(name, text.substr(equals + 1));
    }
  }
  return env;
}

std::string check_value(const KeySpec& spec, std::string_view value) {
  const std::string got = spec.secret ? std::string(Secret::kRedacted) : "'" + std::string(value) + "'";
  switch (spec.type) {
    case Type::Int: {
      const auto number = parse_int(value);
      if (!number || *number < spec.min || *number > spec.max) {
        return "expected an integer from " + std::to_string(spec.min) + " to " + std::to_string(spec.max) +
               ", got " + got;
      }
      return {};
    }
    case Type::Bool:
      if (!parse_bool(value)) return "expected true or false (yes/no, on/off, 1/0), got " + got;
      return {};
    case Type::String:
      if (!spec.allowed.empty() && !is_allowed(spec.allowed, value)) {
        return "expected " + list_words(spec.allowed) + ", got " + got;
      }
      break;
    case Type::List:
    case Type::SecretFile:
      break;
  }
  if (spec.check != nullptr) {
    const std::string_view expected = spec.check(value);
    if (!expected.empty()) return "expected " + std::string(expected) + ", got " + got;
  }
  return {};
}

Config Config::parse(std::string_view text, std::string_view origin,
                     const std::map<std::string, std::string>& env) {
  Config config;
  // Where each value was set ("wagate.conf:12", "environment variable
  // WAGATE_X"), so a later error can point there.
  std::map<std::string, std::string, std::less<>> origins;
  for (const KeySpec& spec : keys()) config.values_.emplace(spec.name, spec.default_value);

  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view raw = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);

    const std::string_view line = trim(raw);
    if (line.empty() || line.starts_with('#')) continue;
    const std::string where = std::string(origin) + ":" + std::to_string(line_number);
    // The line itself is not quoted back: it may hold a password.
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) throw ConfigError(where + ": expected 'key = value'");
    const std::string_view key = trim(line.substr(0, equals));
    if (key.empty() || key.find_first_of(" \t") != std::string_view::npos) {
      throw ConfigError(where + ": expected 'key = value'");
    }
    const KeySpec* spec = find_key(key);
    if (spec == nullptr) throw ConfigError(where + ": unknown key '" + std::string(key) + "'");
    if (const auto seen = origins.find(key); seen != origins.end()) {
      throw ConfigError(where + ": duplicate key '" + std::string(key) + "' (first set at " + seen->second +
                        ")");
    }
    std::string_view value = trim(line.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (const std::string problem = check_value(*spec, value); !problem.empty()) {
      throw ConfigError(where + ": bad value for '" + std::string(key) + "': " + problem);
    }
    config.values_[std::string(key)] = value;
    origins.emplace(key, where);
  }

  for (const KeySpec& spec : keys()) {
    const std::string name = env_name(spec.name);
    const auto found = env.find(name);
    if (found == env.end()) continue;
    if (const std::string problem = check_value(spec, found->second); !problem.empty()) {
      throw ConfigError("environment variable " + name + ": bad value for '" + std::string(spec.name) +
                        "': " + problem);
    }
    config.values_[std::string(spec.name)] = found->second;
    origins[std::string(spec.name)] = "environment variable " + name;
  }

  for (const KeySpec& spec : keys()) {
    std::string& value = config.values_[std::string(spec.name)];
    if (spec.type == Type::Bool) value = *parse_bool(value) ? "true" : "false";
    if (spec.type == Type::SecretFile) {
      if (value.empty()) continue;
      const auto found = origins.find(spec.name);
      const std::string where = found != origins.end() ? found->second : std::string(origin);
      config.secrets_.insert_or_assign(std::string(spec.name),
                                       read_secret_file(resolve_secret_path(value, env), where, spec.name));
    } else if (spec.secret) {
      config.secrets_.insert_or_assign(std::string(spec.name), Secret(value));
    }
  }
  return config;
}

Config Config::load(const std::string& path) {
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) throw ConfigError(path + ": cannot open: " + std::generic_category().message(errno));
  std::string text;
  char buffer[16384];
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw ConfigError(path + ": cannot read: " + std::generic_category().message(errno));
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
  }
  // The file may hold pg_dsn with a password; wipe the raw text when done.
  const Secret raw(std::move(text));
  return parse(raw.reveal(), path, process_environment());
}

Config Config::defaults(const std::map<std::string, std::string>& env) { return parse({}, "defaults", env); }

const std::string& Config::str(std::string_view key) const {
  spec_of(key);
  return values_.find(key)->second;
}

long long Config::integer(std::string_view key) const {
  spec_of(key, Type::Int, "integer()");
  return *parse_int(values_.find(key)->second);
}

bool Config::boolean(std::string_view key) const {
  spec_of(key, Type::Bool, "boolean()");
  return values_.find(key)->second == "true";
}

std::vector<std::string> Config::list(std::string_view key) const {
  spec_of(key, Type::List, "list()");
  std::vector<std::string> words;
  std::string_view rest = values_.find(key)->second;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view word = trim(rest.substr(0, comma));
    if (!word.empty()) words.emplace_back(word);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  return words;
}

const Secret& Config::secret(std::string_view key) const {
  const KeySpec& spec = spec_of(key);
  if (spec.type != Type::SecretFile && !spec.secret) {
    throw ConfigError("config key '" + std::string(key) + "' is not a secret");
  }
  static const Secret kUnset;
  const auto found = secrets_.find(key);
  return found == secrets_.end() ? kUnset : found->second;
}

std::string Config::dump() const {
  std::string out;
  for (const KeySpec& spec : keys()) {
    out += spec.name;
    out += " = ";
    // A SecretFile value is the path, which is safe to show; its content is not.
    if (spec.secret && spec.type != Type::SecretFile) {
      out += Secret::kRedacted;
    } else {
      out += values_.find(spec.name)->second;
    }
    out += '\n';
  }
  return out;
}

Holder::Holder(std::string path)
    : path_(std::move(path)), current_(std::make_shared<const Config>(Config::load(path_))) {}

std::shared_ptr<const Config> Holder::current() const {
  const std::lock_guard lock(mutex_);
  return current_;
}

bool Holder::reload() {
  Config next;
  try {
    next = Config::load(path_);
  } catch (const ConfigError& e) {
    log::error("config_reload_failed").kv("path", path_).kv("error", e.what());
    return false;
  }
  const std::lock_guard lock(mutex_);
  for (const KeySpec& spec : keys()) {
    if (spec.reloadable) continue;
    const std::string name(spec.name);
    const auto old_secret = current_->secrets_.find(name);
    const auto new_secret = next.secrets_.find(name);
    const bool secret_changed = (old_secret == current_->secrets_.end()) != (new_secret == next.secrets_.end()) ||
                                (old_secret != current_->secrets_.end() && !(old_secret->second == new_secret->second));
    const std::string& old_value = current_->values_.find(name)->second;
    if (next.values_[name] == old_value && !secret_changed) continue;
    auto warning = log::warning("config_key_needs_restart");
    warning.kv("key", spec.name);
    if (!spec.secret) warning.kv("running", old_value).kv("configured", next.values_[name]);
    next.values_[name] = old_value;
    if (old_secret == current_->secrets_.end()) {
      next.secrets_.erase(name);
    } else {
      next.secrets_.insert_or_assign(name, old_secret->second);
    }
  }
  current_ = std::make_shared<const Config>(std::move(next));
  return true;
}

void Holder::request_reload() { g_reload_requested.store(true, std::memory_order_relaxed); }

bool Holder::reload_if_requested() {
  if (!g_reload_requested.exchange(false, std::memory_order_relaxed)) return false;
  return reload();
}

std::string path_from(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--config") {
      if (i + 1 >= argc) throw ConfigError("--config needs a path");
      return argv[i + 1];
    }
    if (arg.starts_with("--config=")) return std::string(arg.substr(9));
  }
  if (const char* env = std::getenv("WAGATE_CONFIG"); env != nullptr && *env != '\0') return env;
  return std::string(kDefaultPath);
}

}  // namespace wagate::config
