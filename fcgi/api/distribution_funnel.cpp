// distribution_funnel.cpp — a distribution's counts: how far each recipient got, from its own row and its message.
#include "distribution_funnel.hpp"

#include "wagate/message_status.hpp"

namespace wagate::api {

FunnelCounts count_funnel(std::span<const FunnelGroup> groups) {
  FunnelCounts counts;
  const int sent_rank = *message_status::rank("sent");
  const int delivered_rank = *message_status::rank("delivered");
  const int read_rank = *message_status::rank("read");
  for (const FunnelGroup& group : groups) {
    const long long n = group.recipients;
    counts.planned += n;
    if (group.clicked) counts.clicked += n;
    if (group.replied) counts.replied += n;
    if (!group.message_status) {
      // Without a message a recipient is only planned, unless it ended
      // before one was made.
      if (group.recipient_status == "skipped") counts.skipped += n;
      if (group.recipient_status == "canceled") counts.canceled += n;
      if (group.recipient_status == "skipped" || group.recipient_status == "canceled") counts.done += n;
      continue;
    }
    counts.queued += n;
    const std::string& status = *group.message_status;
    // Ranks put failed and canceled above sent (they are final), so "reached
    // sent" is a rank at or above sent that is not one of them, or a
    // failure that a sent callback preceded.
    const int rank = message_status::rank(status).value_or(0);
    const bool ended_unsent = status == "failed" || status == "canceled";
    const bool sent = (rank >= sent_rank && !ended_unsent) || group.was_sent;
    if (sent) counts.sent += n;
    if (sent || ended_unsent) counts.done += n;
    if (rank >= delivered_rank) counts.delivered += n;
    if (rank >= read_rank) counts.read += n;
    if (status == "failed") counts.failed += n;
    if (status == "undelivered") counts.undelivered += n;
    if (status == "canceled") counts.canceled += n;
  }
  return counts;
}

double funnel_progress(const FunnelCounts& counts) {
  if (counts.planned == 0) return 1.0;
  return static_cast<double>(counts.done) / static_cast<double>(counts.planned);
}

}  // namespace wagate::api
