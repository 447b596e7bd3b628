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

// Which bounds this thread's database connection gets (see db_limits()).
enum class DbUse {
  Webhook,  // db_timeout_ms for connecting, for each statement and as statement_timeout
  Api,      // statement_timeout api_statement_timeout_ms; the client waits db_timeout_ms longer
};

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

  // Set once, before the first db(): the next connection is made with it.
  void set_db_use(DbUse use) { db_use_ = use; }
  // A deadline for all the database work of the current request, connecting
  // included (nullopt: none); see DbBudget.
  void set_db_deadline(std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  const config::Holder& holder_;
  DbUse db_use_ = DbUse::Webhook;
  std::optional<std::chrono::steady_clock::time_point> db_deadline_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<pg::Connection> db_;
  std::unique_ptr<redis::Client> redis_;
};

}  // namespace wagate

namespace wagate {

// A webhook's database work, all of it (tenant lookup, store), must end
// within one budget so that Twilio is answered in time either way: stored,
// or spooled. Sets the context's deadline for the scope of one request.
class DbBudget {
 public:
  DbBudget(Context& context, std::chrono::milliseconds budget)
      : context_(context), deadline_(std::chrono::steady_clock::now() + budget) {
    context_.set_db_deadline(deadline_);
  }
  DbBudget(const DbBudget&) = delete;
  DbBudget& operator=(const DbBudget&) = delete;
  ~DbBudget() { context_.set_db_deadline(std::nullopt); }
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const { return deadline_; }

 private:
  Context& context_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace wagate
