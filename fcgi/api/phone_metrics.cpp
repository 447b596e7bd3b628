// phone_metrics.cpp — GET /api/v1/whatsapp/phones/{e164}/metrics: delivery to one contact and its health.
#include "phone_metrics.hpp"

#include <algorithm>
#include <array>

#include "auth.hpp"
#include "messages.hpp"
#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"
#include "wagate/phone.hpp"

namespace wagate::api {
namespace {

constexpr std::string_view kIsoUtc = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

std::string iso(std::string_view expression) {
  return "to_char((" + std::string(expression) + ") AT TIME ZONE 'UTC', " + std::string(kIsoUtc) + ")";
}

// Every query filters on tenant_id and the contact's address and is served
// by messages_to_idx (tenant_id, to_addr, created_at DESC).
void prepare(pg::Connection& db) {
  db.prepare("phone_totals",
             "SELECT count(*), "
             "count(*) FILTER (WHERE status IN ('delivered', 'read')), "
             "count(*) FILTER (WHERE status IN ('failed', 'undelivered')), "
             "count(*) FILTER (WHERE status NOT IN ('delivered', 'read', 'failed', 'undelivered', 'canceled')), " +
                 iso("max(created_at)") +
                 " FROM messages WHERE tenant_id = $1 AND to_addr = $2 AND direction = 'outbound'");
  db.prepare("phone_outcomes",
             "SELECT status IN ('failed', 'undelivered') FROM messages "
             "WHERE tenant_id = $1 AND to_addr = $2 AND direction = 'outbound' "
             "AND status IN ('delivered', 'read', 'failed', 'undelivered') "
             "ORDER BY created_at DESC LIMIT " + std::to_string(kHealthWindow));
  db.prepare("phone_errors",
             "SELECT id::text, message_sid, error_code, error_message, status, " +
                 iso("coalesce(failed_at, last_status_at, created_at)") +
                 " FROM messages WHERE tenant_id = $1 AND to_addr = $2 AND direction = 'outbound' "
                 "AND error_code IS NOT NULL ORDER BY created_at DESC LIMIT " + std::to_string(kRecentErrors));
  db.prepare("phone_conversation",
             "SELECT " + iso("last_inbound_at") + ", opted_out, "
             "window_expires_at IS NOT NULL AND window_expires_at > now() "
             "FROM conversations WHERE tenant_id = $1 AND phone = $2");
}

json::Value text_or_null(const pg::Result& rows, int row, int col) {
  return rows.is_null(row, col) ? json::null() : json::string(rows.get(row, col));
}

size_t percent(size_t part, size_t whole) { return whole == 0 ? 0 : part * 100 / whole; }

}  // namespace

std::string_view health_name(Health health) {
  switch (health) {
    case Health::Unknown: return "unknown";
    case Health::Healthy: return "healthy";
    case Health::Degraded: return "degraded";
    case Health::Failing: return "failing";
  }
  return "unknown";
}

HealthAssessment assess_health(std::span<const bool> failed_newest_first) {
  HealthAssessment result;
  const std::span<const bool> window = failed_newest_first.first(std::min(failed_newest_first.size(), kHealthWindow));
  result.considered = window.size();
  for (const bool failed : window) result.failed += failed ? 1U : 0U;
  const std::string counts = std::to_string(result.failed) + " of the last " + std::to_string(result.considered) +
                             " finished messages failed";
  if (window.empty()) {
    result.reason = "no outbound message to this contact has finished yet";
    return result;
  }
  bool streak = window.size() >= kFailingStreak;
  for (size_t i = 0; streak && i < kFailingStreak; ++i) streak = window[i];
  // Compared as part * 100 >= whole * threshold: no rounding at the edges.
  if (result.failed * 100 >= result.considered * kFailingPercent) {
    result.health = Health::Failing;
    result.reason = counts + " (at least " + std::to_string(kFailingPercent) + "%)";
  } else if (streak) {
    result.health = Health::Failing;
    result.reason = "the newest " + std::to_string(kFailingStreak) + " finished messages all failed";
  } else if (result.failed * 100 >= result.considered * kDegradedPercent) {
    result.health = Health::Degraded;
    result.reason = counts + " (at least " + std::to_string(kDegradedPercent) + "%)";
  } else {
    result.health = Health::Healthy;
    result.reason = counts + " (under " + std::to_string(kDegradedPercent) + "%)";
  }
  return result;
}

http::Response phone_metrics(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::optional<std::string> raw = percent_decode(request.param("e164"));
  if (!raw) throw ApiError(400, "invalid_phone", "the phone in the path has a malformed %-escape", "phone");
  const phone::Normalized normalized = phone::normalize(*raw, auth.key->default_country_code);
  if (!normalized.ok()) throw ApiError(400, "invalid_phone", "phone " + normalized.reason, "phone");
  const std::string& e164 = *normalized.e164;
  const std::string tenant = std::to_string(auth.key->tenant_id);
  const std::string address = "whatsapp:" + e164;

  pg::Connection& db = context.db();
  prepare(db);
  // One snapshot, so that totals, health and errors describe the same moment.
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const pg::Result totals = db.exec_prepared("phone_totals", {tenant, address});
  const pg::Result outcomes = db.exec_prepared("phone_outcomes", {tenant, address});
  const pg::Result errors = db.exec_prepared("phone_errors", {tenant, address});
  const pg::Result conversation = db.exec_prepared("phone_conversation", {tenant, e164});
  tx.commit();

  const long long sent = totals.get_int(0, 0);
  const long long successes = totals.get_int(0, 1);
  const long long failures = totals.get_int(0, 2);
  // The query returns at most kHealthWindow outcomes, newest first.
  std::array<bool, kHealthWindow> flags{};
  const size_t finished = std::min(static_cast<size_t>(outcomes.rows()), kHealthWindow);
  for (size_t i = 0; i < finished; ++i) flags[i] = outcomes.get(static_cast<int>(i), 0) == "t";
  const HealthAssessment health = assess_health(std::span<const bool>(flags.data(), finished));

  json::Value body = json::object();
  json_t* o = body.get();
  json::set(o, "phone", json::string(e164));
  json::set(o, "sent", json::integer(sent));
  json::set(o, "successes", json::integer(successes));
  json::set(o, "failures", json::integer(failures));
  json::set(o, "pending", json::integer(totals.get_int(0, 3)));
  // Among messages with a final outcome: those still on their way are
  // neither a success nor a failure yet.
  json::set(o, "delivery_rate", successes + failures == 0
                                    ? json::null()
                                    : json::real(static_cast<double>(successes) /
                                                 static_cast<double>(successes + failures)));
  json::set(o, "last_outbound_at", text_or_null(totals, 0, 4));
  const bool has_conversation = conversation.rows() > 0;
  json::Value last_inbound = has_conversation ? text_or_null(conversation, 0, 0) : json::null();
  // The later of the two, both being the same fixed-width UTC text.
  std::string last_message;
  if (!totals.is_null(0, 4)) last_message = std::string(totals.get(0, 4));
  if (has_conversation && !conversation.is_null(0, 0) && conversation.get(0, 0) > last_message) {
    last_message = std::string(conversation.get(0, 0));
  }
  json::set(o, "last_inbound_at", std::move(last_inbound));
  json::set(o, "last_message_at", last_message.empty() ? json::null() : json::string(last_message));
  json::set(o, "opted_out", json::boolean(has_conversation && conversation.get(0, 1) == "t"));
  json::set(o, "window_open", json::boolean(has_conversation && conversation.get(0, 2) == "t"));

  json::set(o, "health", json::string(health_name(health.health)));
  json::Value basis = json::object();
  json::set(basis.get(), "window", json::integer(static_cast<long long>(kHealthWindow)));
  json::set(basis.get(), "considered", json::integer(static_cast<long long>(health.considered)));
  json::set(basis.get(), "failed", json::integer(static_cast<long long>(health.failed)));
  json::set(basis.get(), "failure_percent",
            health.considered == 0 ? json::null()
                                   : json::integer(static_cast<long long>(percent(health.failed, health.considered))));
  json::set(basis.get(), "reason", json::string(health.reason));
  json::set(o, "health_basis", std::move(basis));

  json::Value recent = json::array();
  for (int i = 0; i < errors.rows(); ++i) {
    json::Value item = error_object(static_cast<int>(errors.get_int(i, 2)), errors.optional(i, 3));
    json::set(item.get(), "message_id", json::string(errors.get(i, 0)));
    json::set(item.get(), "message_sid", text_or_null(errors, i, 1));
    json::set(item.get(), "status", json::string(errors.get(i, 4)));
    json::set(item.get(), "at", json::string(errors.get(i, 5)));
    json::append(recent.get(), std::move(item));
  }
  json::set(o, "recent_errors", std::move(recent));
  return http::Response::json(200, json::dump(o));
}

}  // namespace wagate::api
