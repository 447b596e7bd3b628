// health.hpp — GET /api/v1/health: each dependency's state and latency.
#pragma once

#include "wagate/context.hpp"
#include "wagate/error.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// No key needed. 200 when Postgres and Redis answer, else 503; each check is
// {"status": "ok"|"down", "ok", "latency_ms", "reason"} where reason is a
// stable code (connect_failed, timeout, auth_failed, query_failed), never
// the driver's message (it names hosts, ports and users: it goes to the log).
http::Response health(http::Request& request, Context& context);

// The reason code of a failed check. Exposed for tests.
[[nodiscard]] const char* failure_reason(const Error& error);

}  // namespace wagate::api
