// webhook_intake.cpp — the spool, tenant cache and spool replay of a webhook process.
#include "wagate/webhook_intake.hpp"

#include <chrono>

#include "wagate/pg.hpp"

namespace wagate::webhook {
namespace {

// A replay batch (up to 500 records) may rightly take longer than one
// webhook's budget; it is still bounded, so that a stop never waits for ever.
constexpr std::chrono::seconds kReplayStatementLimit{30};

pg::Limits replay_limits(const config::Config& config) {
  const std::chrono::milliseconds connect(config.integer("db_timeout_ms"));
  return pg::Limits{.connect = connect, .statement = kReplayStatementLimit, .server_statement = kReplayStatementLimit};
}

}  // namespace

Intake::Intake(const config::Config& config)
    : spool_(config.str("spool_dir")),
      tenants_(config.str("spool_dir") + "/tenants.snapshot"),
      replayer_(std::make_unique<store::SpoolReplayer>(config.str("pg_dsn"), spool_, replay_limits(config))) {}

}  // namespace wagate::webhook
