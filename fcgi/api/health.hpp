// health.hpp — GET /api/v1/health: each dependency's state and latency.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

http::Response health(http::Request& request, Context& context);

}  // namespace wagate::api
