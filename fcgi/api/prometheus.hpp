// prometheus.hpp — GET /metrics: every process's counters merged, plus queue, spool and database gauges read now.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// Prometheus text format 0.0.4. Served on the local-only metrics listener,
// so it takes no API key. A source that cannot be read (Redis, Postgres)
// leaves its gauges out and sets wagate_metrics_source_up{source} to 0: a
// scrape still answers 200 with everything else, because an outage is
// exactly when the counters matter.
http::Response prometheus(http::Request& request, Context& context);

}  // namespace wagate::api
