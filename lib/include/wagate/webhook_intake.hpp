// webhook_intake.hpp — what a webhook process holds from start to stop: the spool, the tenant cache, spool replay.
#pragma once

#include <memory>

#include "wagate/config.hpp"
#include "wagate/spool.hpp"
#include "wagate/store.hpp"
#include "wagate/tenants.hpp"

namespace wagate::webhook {

// wagate-inbound and wagate-status both check a webhook against the tenant
// cache and fall back to the spool while Postgres is unreachable, so both
// need the same three things, opened from spool_dir and pg_dsn: the spool,
// the cache whose snapshot lies beside the spool files (a process that starts
// during an outage can still validate), and the replayer that empties the spool.
class Intake {
 public:
  explicit Intake(const config::Config& config);
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;

  spool::Spool& spool() { return spool_; }
  tenants::Cache& tenants() { return tenants_; }

  // After the last request: stops the background replay, letting a batch
  // under way finish. The spool and the cache stay usable.
  void stop_replay() { replayer_.reset(); }

 private:
  spool::Spool spool_;
  tenants::Cache tenants_;
  std::unique_ptr<store::SpoolReplayer> replayer_;
};

}  // namespace wagate::webhook
