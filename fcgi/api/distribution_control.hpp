// distribution_control.hpp — pause, resume and cancel of a distribution.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// POST /api/v1/distributions/{id}/pause (scope send): scheduled or running
// -> paused. The feeder's next pass (within feeder_interval_ms) feeds it no
// more; messages already queued go on. 200 {"id", "status", "status_reason"}.
http::Response pause_distribution(http::Request& request, Context& context);
// POST /api/v1/distributions/{id}/resume (scope send): paused -> running (or
// scheduled while send_at is ahead); it continues with exactly the recipients
// still planned.
http::Response resume_distribution(http::Request& request, Context& context);
// POST /api/v1/distributions/{id}/cancel (scope send): every planned
// recipient, and every queued message no sender has claimed, becomes
// canceled; the distribution canceled. 200 {..., "canceled": n}.
http::Response cancel_distribution(http::Request& request, Context& context);

}  // namespace wagate::api
