// reconcile.hpp — the reconcile job: sends whose outcome was lost, resolved against Twilio's own message list.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "wagate/twilio_client.hpp"

namespace wagate::pg {
class Connection;
}
namespace wagate::config {
class Config;
}

namespace wagate::maint {

// What one run did, for its log line and for tests.
struct ReconcileStats {
  long long stale_claims = 0;     // 'dispatching' left by a dead sender, now 'unknown'
  long long orphaned_events = 0;  // callbacks that missed their SID's arrival, now applied
  long long checked = 0;          // unknown messages looked up at Twilio
  long long found = 0;            // Twilio has them: SID and status recorded
  long long resent = 0;           // provably never created: 'retrying' again
  long long gave_up = 0;          // provably never created, attempts used up: 'failed'
  long long pending = 0;          // not found yet, or Twilio unreachable: looked at again later
};

// One run: stale claims, orphaned callbacks, then up to `limit` unknown
// sends that are due. Throws DbError when Postgres fails under it; a
// tenant or a lookup that fails is logged and retried next run.
ReconcileStats reconcile(pg::Connection& db, const config::Config& config, int limit = 200);

}  // namespace wagate::maint
