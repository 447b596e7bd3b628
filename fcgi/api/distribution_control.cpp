// distribution_control.cpp — pause, resume and cancel of a distribution.
#include "distribution_control.hpp"

#include <optional>
#include <string>

#include "auth.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/text.hpp"

namespace wagate::api {
namespace {

enum class Action { Pause, Resume, Cancel };

std::string_view action_name(Action action) {
  switch (action) {
    case Action::Pause:
      return "pause";
    case Action::Resume:
      return "resume";
    case Action::Cancel:
      return "cancel";
  }
  return "";
}

// Which statuses an action applies to; anything else is 409.
bool applies(Action action, std::string_view status) {
  switch (action) {
    case Action::Pause:
      return status == "scheduled" || status == "running";
    case Action::Resume:
      return status == "paused";
    case Action::Cancel:
      return status == "scheduled" || status == "running" || status == "paused";
  }
  return false;
}

std::string_view allowed_from(Action action) {
  switch (action) {
    case Action::Pause:
      return "scheduled or running";
    case Action::Resume:
      return "paused";
    case Action::Cancel:
      return "scheduled, running or paused";
  }
  return "";
}

http::Response control(http::Request& request, Context& context, Action action) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Send);
  if (!auth.ok()) return auth.refusal;
  const std::string id(request.param("id"));
  if (!text::is_uuid(id)) return http::Response::error(404, "not_found", "no distribution with this id");
  const std::string tenant = std::to_string(auth.key->tenant_id);
  pg::Connection& db = context.db();
  pg::Transaction tx(db);
  // The row lock orders this with the feeder's pass (which holds it while it
  // feeds): once this commits, no pass feeds a paused or canceled one.
  const pg::Result row =
      db.exec("SELECT status, send_at > now() FROM distributions WHERE tenant_id = $1 AND id = $2::uuid FOR UPDATE",
              {tenant, id});
  if (row.rows() == 0) return http::Response::error(404, "not_found", "no distribution with this id");
  const std::string status(row.get(0, 0));
  if (!applies(action, status)) {
    return http::Response::error(409, "invalid_transition",
                                 "a " + status + " distribution cannot be " +
                                     (action == Action::Pause    ? std::string("paused")
                                      : action == Action::Resume ? std::string("resumed")
                                                                 : std::string("canceled")) +
                                     "; " + std::string(action_name(action)) + " applies to a " +
                                     std::string(allowed_from(action)) + " one",
                                 "status");
  }
  long long canceled = 0;
  std::string next;
  switch (action) {
    case Action::Pause:
      next = "paused";
      break;
    case Action::Resume:
      next = row.get(0, 1) == "t" ? "scheduled" : "running";
      break;
    case Action::Cancel: {
      next = "canceled";
      const pg::Result done = db.exec(
          "SELECT wagate_cancel_distribution_rest($1, $2::uuid, 'canceled: the distribution was canceled')",
          {tenant, id});
      canceled = done.get_int(0, 0);
      break;
    }
  }
  // A client's transition: whatever reason the gateway gave before is over.
  // A resume also moves the circuit breaker's watermark: only outcomes after
  // it count, or the failures that paused it would pause it again at once.
  (void)db.exec(
      "UPDATE distributions SET status = $3, status_reason = NULL,"
      " breaker_since = CASE WHEN $4 THEN now() ELSE breaker_since END"
      " WHERE tenant_id = $1 AND id = $2::uuid",
      {tenant, id, next, action == Action::Resume ? "true" : "false"});
  tx.commit();
  log::info("distribution_" + std::string(action_name(action)))
      .kv("req_id", request.request_id)
      .kv("tenant", auth.key->tenant_id)
      .kv("key_id", auth.key->key_id)
      .kv("distribution", id)
      .kv("status", next);
  json::Value body = json::object();
  json::set(body.get(), "id", json::string(id));
  json::set(body.get(), "status", json::string(next));
  json::set(body.get(), "status_reason", json::null());
  if (action == Action::Cancel) json::set(body.get(), "canceled", json::integer(canceled));
  return http::Response::json(200, json::dump(body.get()));
}

}  // namespace

http::Response pause_distribution(http::Request& request, Context& context) {
  return control(request, context, Action::Pause);
}
http::Response resume_distribution(http::Request& request, Context& context) {
  return control(request, context, Action::Resume);
}
http::Response cancel_distribution(http::Request& request, Context& context) {
  return control(request, context, Action::Cancel);
}

}  // namespace wagate::api
