// distribution_funnel.hpp — a distribution's counts: how far each recipient got, from its own row and its message.
#pragma once

#include <optional>
#include <span>
#include <string>

namespace wagate::api {

// Recipients alike in everything the funnel looks at, and how many they are
// (one row of a GROUP BY over the recipients joined with their messages).
struct FunnelGroup {
  std::string recipient_status;               // distribution_recipients.status
  std::optional<std::string> message_status;  // nullopt: no message yet
  bool was_sent = false;                      // the message has a sent_at (a "sent" callback arrived)
  bool clicked = false;                       // its link has clicks > 0
  bool replied = false;
  long long recipients = 0;
};

// The stages (planned .. replied) count the recipients that reached at least
// that stage: a read message counts as queued, sent, delivered and read. The
// outcomes (failed .. canceled) count recipients whose message ended so.
struct FunnelCounts {
  long long planned = 0;  // every recipient
  long long queued = 0;   // its message exists
  long long sent = 0;     // handed to WhatsApp: sent or further, or failed after a sent callback
  long long delivered = 0;
  long long read = 0;
  long long failed = 0;
  long long undelivered = 0;
  long long clicked = 0;
  long long replied = 0;
  long long skipped = 0;
  long long canceled = 0;  // the recipient or its message
  // Not a count of the answer: the recipients whose part is over (handed to
  // WhatsApp, failed, skipped or canceled), for progress.
  long long done = 0;
  friend bool operator==(const FunnelCounts&, const FunnelCounts&) = default;
};

[[nodiscard]] FunnelCounts count_funnel(std::span<const FunnelGroup> groups);

// done / planned, 0..1; 1 for a distribution without recipients, as there
// is nothing left to do.
[[nodiscard]] double funnel_progress(const FunnelCounts& counts);

}  // namespace wagate::api
