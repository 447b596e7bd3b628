// webhook_intake.cpp — the spool, tenant cache and spool replay of a webhook process.
#include "wagate/webhook_intake.hpp"

namespace wagate::webhook {

Intake::Intake(const config::Config& config)
    : spool_(config.str("spool_dir")),
      tenants_(config.str("spool_dir") + "/tenants.snapshot"),
      replayer_(std::make_unique<store::SpoolReplayer>(config.str("pg_dsn"), spool_)) {}

}  // namespace wagate::webhook
