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

// ---- the decisions, without Postgres or the network ----

// What a page of Twilio's list (newest first) means for a lookup that reads
// back to `not_before`.
enum class PageStep {
  Complete,      // the list reaches back past the send (or ends): it says all there is
  NextPage,      // the send may be further back: read next_page_uri
  Inconclusive,  // no list, or not far enough back: it proves nothing
};

struct PageRead {
  PageStep step = PageStep::Inconclusive;
  std::string next_page_uri;  // NextPage
  std::string problem;        // Inconclusive: why, for the log line
};

// Twilio's answer to the `page`-th request (1-based) of a lookup, of at
// most `max_pages`. Its messages are appended to `listed`.
[[nodiscard]] PageRead read_page(const twilio::Response& response, std::chrono::system_clock::time_point not_before,
                                 int page, int max_pages, std::vector<twilio::MessageResource>& listed);

// A message in 'unknown': its request may or may not have created a message.
struct UnknownSend {
  twilio::LostSend send;
  int attempts = 0;            // requests made so far, the last one's answer lost
  bool window_passed = false;  // its last attempt is older than reconcile_window_minutes
};

enum class Resolution {
  Found,           // Twilio has it: record its SID and status
  LookAgainLater,  // nothing proves anything yet: stays 'unknown'
  SendAgain,       // Twilio's list proves it was never created: 'retrying'
  GiveUp,          // never created, and the attempts are used up: 'failed'
};

struct UnknownDecision {
  Resolution resolution = Resolution::LookAgainLater;
  const twilio::MessageResource* found = nullptr;  // Found: into `listed`
  std::string why;                                 // SendAgain / GiveUp: the message's last_error
};

// `listed`: every message of the lookup (read_page said Complete), or
// nullptr when the lookup was inconclusive or could not be made. `taken`:
// the listed SIDs other messages already hold.
[[nodiscard]] UnknownDecision resolve_unknown(const UnknownSend& message,
                                              const std::vector<twilio::MessageResource>* listed,
                                              const std::vector<std::string>& taken, long long max_attempts);

// One run: stale claims, orphaned callbacks, then up to `limit` unknown
// sends that are due. Throws DbError when Postgres fails under it; a
// tenant or a lookup that fails is logged and retried next run.
ReconcileStats reconcile(pg::Connection& db, const config::Config& config, int limit = 200);

}  // namespace wagate::maint
