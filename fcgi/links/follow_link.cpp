// follow_link.cpp — GET /l/<token>: redirect to the recipient's target and count the click or preview.
#include "follow_link.hpp"

#include <algorithm>
#include <chrono>

#include "link_token.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"

namespace wagate::links {
namespace {

constexpr std::string_view kRecordVisit = "links_record_visit";

// Small pages for a person's browser; no style or script (the site's CSP
// allows neither), nothing that names the token or the target.
constexpr std::string_view kNotFoundPage =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Link not found</title></head>\n"
    "<body><h1>Link not found</h1><p>This link does not exist or is no longer available.</p></body></html>\n";
constexpr std::string_view kUnavailablePage =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Try again shortly</title></head>\n"
    "<body><h1>Try again shortly</h1><p>This link cannot be opened right now. Please try again in a "
    "minute.</p></body></html>\n";
constexpr std::string_view kBrokenPage =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Link cannot be opened</title></head>\n"
    "<body><h1>Link cannot be opened</h1><p>This link's destination is not valid.</p></body></html>\n";

void count(std::string_view outcome) {
  static auto& family = metrics::global().counter(
      "wagate_link_visits_total",
      "Visits of tracked links (GET/HEAD /l/<token>) by outcome: click, preview, not_found (unknown token), "
      "malformed (not a token's shape, never looked up), unavailable (database down), broken_target.",
      {"outcome"});
  family.with({outcome}).inc();
}

http::Response page(int status, std::string_view body) {
  http::Response response;
  response.status = status;
  response.content_type = "text/html";
  response.body = body;
  return response;
}

}  // namespace

bool is_redirect_target(std::string_view url) {
  const bool http_scheme = url.starts_with("https://") || url.starts_with("http://");
  const size_t host_at = url.find("//") + 2;
  return http_scheme && url.size() > host_at && url[host_at] != '/' &&
         std::all_of(url.begin(), url.end(), [](char c) {
           const auto byte = static_cast<unsigned char>(c);
           return byte > 0x20 && byte < 0x7f;
         });
}

http::Response follow_link(const http::Request& request, const RecordVisit& record) {
  const std::string_view token = request.param("token");
  if (!is_valid_token(token)) {
    count("malformed");
    return page(404, kNotFoundPage);
  }
  const Visit visit = classify_visit(request.method, request.header("user-agent"));
  std::optional<std::string> target;
  try {
    target = record(token, visit);
  } catch (const DbError& e) {
    count("unavailable");
    log::warning("link_visit_failed").kv("req_id", request.request_id).kv("error", e.what());
    return page(503, kUnavailablePage);
  }
  if (!target) {
    count("not_found");
    return page(404, kNotFoundPage);
  }
  if (!is_redirect_target(*target)) {
    // Only the distribution API writes targets, and it validates them; a
    // row that fails here was written some other way. Never redirected to:
    // a line break in it would split the header.
    count("broken_target");
    log::error("link_target_invalid").kv("req_id", request.request_id);
    return page(500, kBrokenPage);
  }
  count(visit == Visit::Preview ? "preview" : "click");
  http::Response response;
  response.status = 302;
  response.content_type = "text/html";
  response.headers.emplace_back("Location", *target);
  // The target must not learn the token (a visitor's key to this link).
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

std::optional<std::string> record_visit(pg::Connection& db, std::string_view token, Visit visit) {
  db.prepare(std::string(kRecordVisit), "SELECT wagate_record_click($1, $2)");
  const pg::Result result =
      db.exec_prepared(std::string(kRecordVisit), {token, visit == Visit::Preview ? "true" : "false"});
  if (result.rows() != 1 || result.is_null(0, 0)) return std::nullopt;
  return std::string(result.get(0, 0));
}

http::Response follow_link(http::Request& request, Context& context) {
  // A visitor waits at most this long for either answer, redirect or 503,
  // even when Postgres accepts connections but does not answer.
  const DbBudget budget(context, std::chrono::milliseconds(context.config().integer("db_timeout_ms")));
  return follow_link(request, [&](std::string_view token, Visit visit) {
    try {
      return record_visit(context.db(), token, visit);
    } catch (const DbError&) {
      context.drop_db();  // the next visit reconnects instead of reusing a dead socket
      throw;
    }
  });
}

}  // namespace wagate::links
