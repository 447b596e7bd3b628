// accounts.cpp — the Twilio accounts the simulator accepts: AccountSid and auth token per line of a file.
#include "accounts.hpp"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <utility>

#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/text.hpp"

namespace wagate::sim {
namespace {

constexpr std::string_view kBlanks = " \t\r";

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kBlanks);
  return text.substr(begin, end - begin + 1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the accounts file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

bool valid_account_sid(std::string_view sid) {
  if (sid.size() != 34 || sid.substr(0, 2) != "AC") return false;
  for (const char c : sid.substr(2)) {
    if (!text::is_hex(c)) return false;
  }
  return true;
}

std::map<std::string, Secret, std::less<>> parse_accounts(std::string_view text, std::string_view origin) {
  std::map<std::string, Secret, std::less<>> accounts;
  int line_number = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;

    const std::string where = std::string(origin) + ":" + std::to_string(line_number) + ": ";
    const size_t gap = line.find_first_of(kBlanks);
    const std::string_view sid = line.substr(0, gap);
    const std::string_view token = gap == std::string_view::npos ? std::string_view() : trim(line.substr(gap));
    if (!valid_account_sid(sid)) throw ConfigError(where + "expected an AccountSid (AC + 32 hex digits) first");
    if (token.empty() || token.find_first_of(kBlanks) != std::string_view::npos) {
      throw ConfigError(where + "expected one auth token after the AccountSid");
    }
    if (!accounts.emplace(std::string(sid), Secret(std::string(token))).second) {
      throw ConfigError(where + "AccountSid " + std::string(sid) + " is listed twice");
    }
  }
  return accounts;
}

Accounts::Accounts(std::string path) : path_(std::move(path)) {
  const std::lock_guard lock(mutex_);
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) throw ConfigError(path_ + ": cannot read the accounts file");
  accounts_ = parse_accounts(read_file(path_), path_);
  size_ = info.st_size;
  mtime_ = info.st_mtim;
}

Accounts::Accounts(std::map<std::string, Secret, std::less<>> accounts) : accounts_(std::move(accounts)) {}

void Accounts::reload_if_changed() {
  if (path_.empty()) return;
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) return;  // gone for a moment (being replaced): keep what we have
  if (info.st_size == size_ && info.st_mtim.tv_sec == mtime_.tv_sec && info.st_mtim.tv_nsec == mtime_.tv_nsec) {
    return;
  }
  size_ = info.st_size;
  mtime_ = info.st_mtim;
  try {
    accounts_ = parse_accounts(read_file(path_), path_);
    log::info("accounts_reloaded").kv("file", path_).kv("accounts", accounts_.size());
  } catch (const ConfigError& error) {
    log::warning("accounts_reload_failed").kv("error", error.what()).kv("kept", accounts_.size());
  }
}

std::optional<Secret> Accounts::token(std::string_view account_sid) {
  const std::lock_guard lock(mutex_);
  reload_if_changed();
  const auto it = accounts_.find(account_sid);
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Accounts::sole_account() {
  const std::lock_guard lock(mutex_);
  reload_if_changed();
  if (accounts_.size() != 1) return std::nullopt;
  return accounts_.begin()->first;
}

}  // namespace wagate::sim
