// accounts.hpp — the Twilio accounts the simulator accepts: AccountSid and auth token per line of a file.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "wagate/secret.hpp"

namespace wagate::sim {

// ^AC[0-9a-fA-F]{32}$, the shape of every AccountSid.
[[nodiscard]] bool valid_account_sid(std::string_view sid);

// "ACxxxx token" lines; blank lines and '#' comments skipped. Throws
// ConfigError naming the line (never its token) for anything else, and for
// an AccountSid listed twice.
[[nodiscard]] std::map<std::string, Secret, std::less<>> parse_accounts(std::string_view text,
                                                                        std::string_view origin);

// The file is re-read when it changes (size or mtime), so the local stack can
// start the simulator before it provisions the tenant whose account it adds.
// A file that breaks later is logged and the accounts read before are kept.
class Accounts {
 public:
  // Reads the file now: a missing or malformed file at start throws ConfigError.
  explicit Accounts(std::string path);
  // For tests: a fixed set, never re-read.
  explicit Accounts(std::map<std::string, Secret, std::less<>> accounts);

  // The auth token of an account, nullopt when unknown.
  [[nodiscard]] std::optional<Secret> token(std::string_view account_sid);
  // The only account, when there is exactly one.
  [[nodiscard]] std::optional<std::string> sole_account();

 private:
  void reload_if_changed();  // mutex_ held

  std::mutex mutex_;
  std::string path_;
  off_t size_ = -1;
  timespec mtime_{};
  std::map<std::string, Secret, std::less<>> accounts_;
};

}  // namespace wagate::sim
