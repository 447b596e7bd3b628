// distributions.hpp — the distribution routes: create (plan every contact), read with its funnel, list, recipients.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// The query of the two paged routes, checked. Throws ApiError 400
// `invalid_parameter` naming the parameter (unknown, repeated, empty,
// malformed, out of range); `allowed` names the parameters the route takes.
struct PageQuery {
  int limit = 50;
  std::optional<std::string> cursor;
  std::vector<std::string> statuses;  // recipients only; each a known recipient or message status
};
[[nodiscard]] PageQuery parse_page_query(std::string_view query, bool takes_status);

// Whether a recipient may be listed as `status`: one of its own states
// (planned, queued, sent, failed, skipped, canceled) or, once it has a
// message, any outbound message status.
[[nodiscard]] bool known_recipient_status(std::string_view status);

// POST /api/v1/distributions (scope send): 201 {"id", "status",
// "recipients": {"accepted", "duplicates", "opted_out", "invalid"}} with
// Location, once the distribution and every planned recipient are committed
// together. Idempotency-Key as on /send.
http::Response create_distribution(http::Request& request, Context& context);
// GET /api/v1/distributions/{id} (scope read): the distribution and its funnel.
http::Response get_distribution(http::Request& request, Context& context);
// GET /api/v1/distributions (scope read): {"distributions": [...], "next_cursor"}, newest first.
http::Response list_distributions(http::Request& request, Context& context);
// GET /api/v1/distributions/{id}/recipients (scope read): {"recipients": [...], "next_cursor"}, in planning order.
http::Response list_distribution_recipients(http::Request& request, Context& context);

}  // namespace wagate::api
