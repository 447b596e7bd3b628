// phone_metrics.hpp — GET /api/v1/whatsapp/phones/{e164}/metrics: delivery to one contact and its health.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// The health rule (docs/metrics.md, "Per-phone metrics"): over the last
// kHealthWindow outbound messages to the contact that reached a final
// outcome (delivered or read: success; failed or undelivered: failure),
//   failing   if at least kFailingPercent % failed, or the newest
//             kFailingStreak all failed;
//   degraded  if at least kDegradedPercent % failed;
//   healthy   otherwise;
//   unknown   when there is none.
// Messages still on their way count for nothing yet: a burst just sent
// neither hides failures nor looks like them.
inline constexpr size_t kHealthWindow = 20;
inline constexpr size_t kFailingStreak = 3;
inline constexpr size_t kFailingPercent = 50;
inline constexpr size_t kDegradedPercent = 10;
inline constexpr size_t kRecentErrors = 5;

enum class Health { Unknown, Healthy, Degraded, Failing };
[[nodiscard]] std::string_view health_name(Health health);

struct HealthAssessment {
  Health health = Health::Unknown;
  size_t considered = 0;  // final outcomes looked at (at most kHealthWindow)
  size_t failed = 0;
  std::string reason;     // one sentence: which part of the rule decided
};

// `failed_newest_first`: the outcome of each finished message, newest first
// (true: failed). Only the first kHealthWindow are looked at. Pure.
[[nodiscard]] HealthAssessment assess_health(std::span<const bool> failed_newest_first);

// The route (scope `read`). The {e164} segment may be percent-encoded
// (%2B for '+'); it is normalised like `to` of a send, so a national number
// takes the tenant's default country code. 400 `invalid_phone` otherwise.
http::Response phone_metrics(http::Request& request, Context& context);

}  // namespace wagate::api
