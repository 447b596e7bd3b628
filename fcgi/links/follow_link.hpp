// follow_link.hpp — GET /l/<token>: redirect to the recipient's target and count the click or preview.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "preview_agent.hpp"
#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::pg {
class Connection;
}

namespace wagate::links {

// Records one visit of the link with this token and returns its target, or
// nullopt when no link has the token. Throws DbError when the database
// cannot answer.
using RecordVisit = std::function<std::optional<std::string>(std::string_view token, Visit visit)>;

// The answers, independent of the database:
//   302, Location: the stored target, Referrer-Policy: no-referrer (a click
//     or a preview, by classify_visit);
//   404 HTML: a token of the wrong shape (never looked up) or unknown;
//   503 HTML: the database did not answer (a click is not a webhook: there
//     is nothing to keep for later, the visitor may simply retry);
//   500 HTML: a stored target that is not an absolute http(s) URL safe to
//     put in a header (never redirected to).
// Each outcome is counted in wagate_link_visits_total{outcome}.
http::Response follow_link(const http::Request& request, const RecordVisit& record);

// The route: follow_link with the visit recorded by wagate_record_click,
// all of its database work (connecting included) within db_timeout_ms.
http::Response follow_link(http::Request& request, Context& context);

// One visit through wagate_record_click; throws DbError. Exposed for tests.
std::optional<std::string> record_visit(pg::Connection& db, std::string_view token, Visit visit);

// True for an absolute http:// or https:// URL with no byte a header could
// not carry (controls, spaces, non-ASCII). Exposed for tests.
[[nodiscard]] bool is_redirect_target(std::string_view url);

}  // namespace wagate::links
