// distributions.hpp — the distribution routes: create (plan every contact), read with its funnel, list, recipients.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <set>

#include "distribution_plan.hpp"
#include "wagate/context.hpp"
#include "wagate/http.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"

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

// Shared by the JSON create and the CSV append, so both plan and record
// recipients the same way.
//
// The tenant's opted-out phones among phones.
[[nodiscard]] std::set<std::string, std::less<>> opted_out_among(pg::Connection& db, long long tenant_id,
                                                                 const std::vector<std::string>& phones);
// Where {{link}} points: public_base_url, else the request's scheme://host.
[[nodiscard]] std::string link_base(const http::Request& request, const config::Config& config);
// The plan's recipients and their links, in one set-based statement.
void insert_recipients(pg::Connection& db, long long tenant_id, const std::string& distribution_id, const Plan& plan);
// The answer's "recipients": {"accepted", "duplicates", "opted_out", "invalid"}.
[[nodiscard]] json::Value recipients_summary(size_t accepted, size_t duplicates, size_t opted_out,
                                             const std::vector<InvalidContact>& invalid);

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
