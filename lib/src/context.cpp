// context.cpp — what a handler works with: a config snapshot and this thread's connections.
#include "wagate/context.hpp"

#include "wagate/pg.hpp"
#include "wagate/redis.hpp"

namespace wagate {

Context::Context(const config::Holder& holder) : holder_(holder), config_(holder.current()) {}

Context::~Context() = default;

void Context::refresh() { config_ = holder_.current(); }

pg::Connection& Context::db() {
  if (db_ && !db_->healthy()) db_.reset();
  if (!db_) db_ = std::make_unique<pg::Connection>(config_->str("pg_dsn"));
  return *db_;
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
