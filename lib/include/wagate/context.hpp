// context.hpp — what a handler works with: a config snapshot and this thread's connections.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "wagate/config.hpp"

namespace wagate::pg {
class Connection;
}
namespace wagate::redis {
class Client;
}

namespace wagate {

// One per accepting thread, never shared: libpq and hiredis connections are
// not thread-safe, and a thread that owns its connections needs no locks.
class Context {
 public:
  explicit Context(const config::Holder& holder);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();

  // The config snapshot for the current request; refresh() picks up a reload.
  [[nodiscard]] const config::Config& config() const { return *config_; }
  void refresh();

  // Connects on first use and after a failure; throws DbError / RedisError
  // when the server cannot be reached.
  pg::Connection& db();
  redis::Client& redis();
  // Forget the connection after an error that may have left it unusable.
  void drop_db();

 private:
  const config::Holder& holder_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<pg::Connection> db_;
  std::unique_ptr<redis::Client> redis_;
};

}  // namespace wagate
