// delivery_metrics.hpp — GET /api/v1/whatsapp/delivery-metrics: counts, rates, delivery-time percentiles, errors and a series, exact and fresh.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// The route (scope read, the caller's tenant only). The request is parsed
// in delivery_metrics_query, planned in delivery_metrics_window and added
// up in delivery_metrics_report; this file writes the answer.
http::Response delivery_metrics(http::Request& request, Context& context);

}  // namespace wagate::api
