// context.cpp — what a handler works with: a config snapshot and this thread's connections.
#include "wagate/context.hpp"

#include "wagate/pg.hpp"
#include "wagate/redis.hpp"

namespace wagate {
namespace {

pg::Limits db_limits(const config::Config& config, DbUse use) {
  const std::chrono::milliseconds db_timeout(config.integer("db_timeout_ms"));
  if (use == DbUse::Api) {
    // The server cancels a slow read first, with an error the API can name
    // (query_timeout); the client's own deadline is only for a server that
    // does not answer at all.
    const std::chrono::milliseconds statement(config.integer("api_statement_timeout_ms"));
    return {.connect = db_timeout, .statement = statement + db_timeout, .server_statement = statement};
  }
  return {.connect = db_timeout, .statement = db_timeout, .server_statement = db_timeout};
}

}  // namespace

Context::Context(const config::Holder& holder) : holder_(holder), config_(holder.current()) {}

Context::~Context() = default;

void Context::refresh() { config_ = holder_.current(); }

pg::Connection& Context::db() {
  if (db_ && !db_->healthy()) db_.reset();
  if (!db_) db_ = std::make_unique<pg::Connection>(config_->str("pg_dsn"), db_limits(*config_, db_use_), db_deadline_);
  return *db_;
}

void Context::set_db_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  db_deadline_ = deadline;
  if (db_) db_->set_deadline(deadline);
}

void Context::drop_db() { db_.reset(); }

redis::Client& Context::redis() {
  if (!redis_) {
    redis_ = std::make_unique<redis::Client>(config_->str("redis_url"),
                                             std::chrono::milliseconds(config_->integer("health_timeout_ms")));
  }
  return *redis_;
}

}  // namespace wagate
