// distributions.cpp — the distribution routes: create (plan every contact), read with its funnel, list, recipients.
#include "distributions.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>

#include "auth.hpp"
#include "distribution_cost.hpp"
#include "distribution_funnel.hpp"
#include "distribution_plan.hpp"
#include "distribution_request.hpp"
#include "messages.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/idempotency.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/message_status.hpp"
#include "wagate/pg.hpp"
#include "wagate/pg_array.hpp"
#include "wagate/text.hpp"
#include "wagate/time.hpp"
#include "wagate/webhook.hpp"

namespace wagate::api {
namespace {

constexpr std::string_view kDistributionsPath = "/api/v1/distributions/";
constexpr std::array<std::string_view, 6> kRecipientStatuses = {"planned", "queued",  "sent",
                                                                "failed",  "skipped", "canceled"};

[[noreturn]] void invalid_parameter(const std::string& field, const std::string& message) {
  throw ApiError(400, "invalid_parameter", message, field);
}

std::string iso(std::string_view column) {
  return "to_char(" + std::string(column) + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

json::Value text_or_null(const pg::Result& rows, int row, int col) {
  return rows.is_null(row, col) ? json::null() : json::string(rows.get(row, col));
}

http::Response not_found() { return http::Response::error(404, "not_found", "no distribution with this id"); }

// The {id} of the route: a uuid, or 404 like an id that does not exist.
std::optional<std::string> distribution_id(const http::Request& request) {
  const std::string id(request.param("id"));
  if (!text::is_uuid(id)) return std::nullopt;
  return id;
}

// Cursors are signed as the message list's are; each scope starts with its
// list's name, so no cursor pages another list.
Secret signing_key(const config::Config& config) {
  const Secret master = webhook::master_key(config);
  if (master.empty()) {
    throw ConfigError("master_key_file is not set: pagination cursors are signed with a key derived from it");
  }
  return cursor_key(master);
}

std::string list_scope(long long tenant_id) { return "distributions\ntenant=" + std::to_string(tenant_id); }

std::string recipients_scope(long long tenant_id, std::string_view id, std::vector<std::string> statuses) {
  std::sort(statuses.begin(), statuses.end());
  std::string list;
  for (const std::string& status : statuses) list += (list.empty() ? "" : ",") + status;
  return "distribution_recipients\ntenant=" + std::to_string(tenant_id) + "\ndistribution=" + std::string(id) +
         "\nstatus=" + list;
}

// ---- create ----

http::Response created_response(std::string body, std::string_view id) {
  http::Response response = http::Response::json(201, std::move(body));
  response.headers.emplace_back("Location", std::string(kDistributionsPath) + std::string(id));
  return response;
}

http::Response replayed(int status, std::string body) {
  std::string id;
  if (status == 201) {
    const json::ParseResult parsed = json::parse(body);
    if (parsed.ok()) id = std::string(json::get_string(parsed.value.get(), "id").value_or(""));
  }
  http::Response response = id.empty() ? http::Response::json(status, std::move(body)) : created_response(body, id);
  response.headers.emplace_back(idempotency::kReplayedHeader, "true");
  return response;
}

std::string variables_json(const Variables& variables) {
  json::Value object = json::object();
  for (const auto& [name, value] : variables) json::set(object.get(), name.c_str(), json::string(value));
  return json::dump(object.get());
}

json::Value optional_string(const std::optional<std::string>& value) {
  return value ? json::string(*value) : json::null();
}

// The planned recipients as one JSON array, the single parameter of the
// set-based insert: however long the list, the statement has three.
std::string recipients_json(const Plan& plan) {
  json::Value rows = json::array();
  for (const PlannedRecipient& r : plan.recipients) {
    json::Value row = json::object();
    json_t* o = row.get();
    json::set(o, "ord", json::integer(static_cast<long long>(r.index)));
    json::set(o, "phone", json::string(r.phone));
    json::set(o, "name", optional_string(r.name));
    json::Value variables = json::parse(variables_json(r.variables)).value;
    json::set(o, "variables", std::move(variables));
    json::set(o, "timezone", optional_string(r.timezone));
    json::set(o, "body", optional_string(r.body));
    json::set(o, "content_variables",
              r.content_variables ? json::parse(*r.content_variables).value : json::null());
    json::set(o, "link_token", optional_string(r.link_token));
    json::set(o, "target_url", optional_string(r.target_url));
    json::append(rows.get(), std::move(row));
  }
  return json::dump(rows.get());
}

std::string content_variables_template(const DistributionRequest& request) {
  json::Value object = json::object();
  for (const auto& [name, value] : request.content_variables) json::set(object.get(), name.c_str(), json::string(value));
  return json::dump(object.get());
}

}  // namespace

std::string link_base(const http::Request& request, const config::Config& config) {
  const std::string& configured = config.str("public_base_url");
  if (!configured.empty()) return configured;
  return (request.scheme.empty() ? std::string("https") : request.scheme) + "://" + request.host;
}

std::set<std::string, std::less<>> opted_out_among(pg::Connection& db, long long tenant_id,
                                                   const std::vector<std::string>& phones) {
  std::set<std::string, std::less<>> out;
  if (phones.empty()) return out;
  db.prepare("distribution_opted_out",
             "SELECT phone FROM conversations WHERE tenant_id = $1 AND opted_out AND phone = ANY($2::text[])");
  const pg::Result rows =
      db.exec_prepared("distribution_opted_out", {std::to_string(tenant_id), pg::array_literal(phones)});
  for (int i = 0; i < rows.rows(); ++i) out.emplace(rows.get(i, 0));
  return out;
}

json::Value recipients_summary(size_t accepted, size_t duplicates, size_t opted_out,
                               const std::vector<InvalidContact>& invalid_contacts) {
  json::Value recipients = json::object();
  json_t* o = recipients.get();
  json::set(o, "accepted", json::integer(static_cast<long long>(accepted)));
  json::set(o, "duplicates", json::integer(static_cast<long long>(duplicates)));
  json::set(o, "opted_out", json::integer(static_cast<long long>(opted_out)));
  json::Value invalid = json::array();
  for (const InvalidContact& contact : invalid_contacts) {
    json::Value item = json::object();
    json::set(item.get(), "index", json::integer(static_cast<long long>(contact.index)));
    json::set(item.get(), "phone", json::string(contact.phone));
    json::set(item.get(), "error", json::string(contact.error));
    json::append(invalid.get(), std::move(item));
  }
  json::set(o, "invalid", std::move(invalid));
  return recipients;
}

void insert_recipients(pg::Connection& db, long long tenant_id, const std::string& distribution_id, const Plan& plan) {
  if (plan.recipients.empty()) return;
  // Ordered by the contacts' positions, so recipient ids follow the list.
  db.prepare("distribution_insert_recipients",
             "WITH planned AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(ord int, phone text, name text, "
             "variables jsonb, timezone text, body text, content_variables jsonb, link_token text, target_url text)), "
             "inserted AS (INSERT INTO distribution_recipients (tenant_id, distribution_id, phone, name, variables, "
             "timezone, body, content_variables, link_token) SELECT $1, $2::uuid, phone, name, variables, timezone, "
             "body, content_variables, link_token FROM planned ORDER BY ord RETURNING id, link_token) "
             "INSERT INTO distribution_links (token, tenant_id, distribution_id, recipient_id, target_url) "
             "SELECT p.link_token, $1, $2::uuid, i.id, p.target_url FROM inserted i "
             "JOIN planned p ON p.link_token = i.link_token");
  (void)db.exec_prepared("distribution_insert_recipients",
                         {std::to_string(tenant_id), distribution_id, recipients_json(plan)});
}

namespace {

json::Value plan_summary(const Plan& plan) {
  return recipients_summary(plan.recipients.size(), plan.duplicates, plan.opted_out, plan.invalid);
}

// The distribution row, then every planned recipient and its link in one
// set-based statement. Returns the answer.
http::Response record(pg::Connection& db, long long tenant_id, const DistributionRequest& request, const Plan& plan,
                      const std::optional<std::string>& idempotency_key) {
  db.prepare("distribution_insert",
             "INSERT INTO distributions (tenant_id, name, status, body, content_sid, content_variables, link, "
             "send_at, window_start, window_end, rate_per_second, sender, expires_at, idempotency_key, "
             "recipient_count) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::timestamptz, $9::time, $10::time, "
             "$11::int, $12, $13::timestamptz, $14, $15::int) RETURNING id::text");

  const std::string tenant = std::to_string(tenant_id);
  const auto param = [](const std::optional<std::string>& value) -> pg::Param {
    return value ? pg::Param(*value) : std::nullopt;
  };
  // Kept here: a pg::Param is a view, so the text must outlive the statement.
  const auto instant = [](const std::optional<long long>& micros) -> std::optional<std::string> {
    return micros ? std::optional<std::string>(time::postgres_literal(*micros)) : std::nullopt;
  };
  const std::optional<std::string> send_at = instant(request.send_at);
  const std::optional<std::string> expires_at = instant(request.expires_at);
  std::optional<std::string> content_variables;
  if (!request.content_variables.empty()) content_variables = content_variables_template(request);
  std::optional<std::string> window_start;
  std::optional<std::string> window_end;
  if (request.send_window) {
    window_start = request.send_window->start.text();
    window_end = request.send_window->end.text();
  }
  std::optional<std::string> rate;
  if (request.rate_per_second) rate = std::to_string(*request.rate_per_second);
  // Nothing to send: the distribution is over as it starts.
  const std::string status = plan.recipients.empty() ? "completed" : "scheduled";
  const pg::Result row = db.exec_prepared(
      "distribution_insert",
      {tenant, request.name, status, param(request.body), param(request.content_sid), param(content_variables),
       param(request.link), param(send_at), param(window_start), param(window_end), param(rate),
       param(request.sender), param(expires_at), param(idempotency_key),
       std::to_string(plan.recipients.size())});
  const std::string id(row.get(0, 0));
  insert_recipients(db, tenant_id, id, plan);

  json::Value body = json::object();
  json::set(body.get(), "id", json::string(id));
  json::set(body.get(), "status", json::string(status));
  json::set(body.get(), "recipients", plan_summary(plan));
  return created_response(json::dump(body.get()), id);
}

// ---- read ----

enum DistributionColumn : int {
  kId, kName, kStatus, kStatusReason, kCreatedAt, kSendAt, kExpiresAt, kBody, kContentSid, kContentVariables, kLink,
  kWindowStart, kWindowEnd, kRate, kSender, kRecipientCount, kCreatedMicros,
};

const std::string& distribution_columns() {
  static const std::string columns =
      "d.id::text, d.name, d.status, d.status_reason, " + iso("d.created_at") + ", " + iso("d.send_at") + ", " +
      iso("d.expires_at") + ", d.body, d.content_sid, d.content_variables::text, d.link, "
      "to_char(d.window_start, 'HH24:MI'), to_char(d.window_end, 'HH24:MI'), d.rate_per_second, d.sender, "
      "d.recipient_count, (extract(epoch FROM d.created_at) * 1000000)::bigint";
  return columns;
}

json::Value distribution_json(const pg::Result& rows, int row) {
  json::Value out = json::object();
  json_t* o = out.get();
  json::set(o, "id", json::string(rows.get(row, kId)));
  json::set(o, "name", json::string(rows.get(row, kName)));
  json::set(o, "status", json::string(rows.get(row, kStatus)));
  json::set(o, "status_reason", text_or_null(rows, row, kStatusReason));
  json::set(o, "created_at", json::string(rows.get(row, kCreatedAt)));
  json::set(o, "send_at", text_or_null(rows, row, kSendAt));
  json::set(o, "expires_at", text_or_null(rows, row, kExpiresAt));
  json::set(o, "recipient_count", json::integer(rows.get_int(row, kRecipientCount)));
  return out;
}

// What the distribution sends, as it was given.
void set_message(json_t* o, const pg::Result& rows, int row) {
  json::set(o, "body", text_or_null(rows, row, kBody));
  json::set(o, "content_sid", text_or_null(rows, row, kContentSid));
  json::Value variables = json::null();
  if (!rows.is_null(row, kContentVariables)) variables = json::parse(rows.get(row, kContentVariables)).value;
  json::set(o, "content_variables", std::move(variables));
  json::set(o, "link", text_or_null(rows, row, kLink));
  json::Value window = json::null();
  if (!rows.is_null(row, kWindowStart)) {
    window = json::object();
    json::set(window.get(), "start", json::string(rows.get(row, kWindowStart)));
    json::set(window.get(), "end", json::string(rows.get(row, kWindowEnd)));
  }
  json::set(o, "send_window", std::move(window));
  json::set(o, "rate_per_second",
            rows.is_null(row, kRate) ? json::null() : json::integer(rows.get_int(row, kRate)));
  json::set(o, "sender", text_or_null(rows, row, kSender));
}

pg::Result find_distribution(pg::Connection& db, long long tenant_id, const std::string& id) {
  db.prepare("distribution_by_id",
             "SELECT " + distribution_columns() + " FROM distributions d WHERE d.tenant_id = $1 AND d.id = $2::uuid");
  return db.exec_prepared("distribution_by_id", {std::to_string(tenant_id), id});
}

json::Value counts_json(const FunnelCounts& c) {
  json::Value out = json::object();
  json_t* o = out.get();
  json::set(o, "planned", json::integer(c.planned));
  json::set(o, "queued", json::integer(c.queued));
  json::set(o, "sent", json::integer(c.sent));
  json::set(o, "delivered", json::integer(c.delivered));
  json::set(o, "read", json::integer(c.read));
  json::set(o, "failed", json::integer(c.failed));
  json::set(o, "undelivered", json::integer(c.undelivered));
  json::set(o, "clicked", json::integer(c.clicked));
  json::set(o, "replied", json::integer(c.replied));
  json::set(o, "skipped", json::integer(c.skipped));
  json::set(o, "canceled", json::integer(c.canceled));
  return out;
}

FunnelCounts funnel(pg::Connection& db, const std::string& tenant, const std::string& id) {
  db.prepare("distribution_funnel",
             // Each recipient's message by its id (messages_id_idx), one probe
             // each: a plain join lets a planner without statistics for the
             // messages a feeder just wrote scan them per recipient instead.
             "SELECT r.status, m.status, m.sent_at IS NOT NULL, coalesce(l.clicks, 0) > 0, r.replied_at IS NOT NULL, "
             "count(*) FROM distribution_recipients r "
             "LEFT JOIN LATERAL (SELECT status, sent_at FROM messages WHERE id = r.message_id "
             "AND tenant_id = r.tenant_id LIMIT 1) m ON true "
             "LEFT JOIN distribution_links l ON l.tenant_id = r.tenant_id AND l.recipient_id = r.id "
             "WHERE r.tenant_id = $1 AND r.distribution_id = $2::uuid GROUP BY 1, 2, 3, 4, 5");
  const pg::Result rows = db.exec_prepared("distribution_funnel", {tenant, id});
  std::vector<FunnelGroup> groups;
  groups.reserve(static_cast<size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    groups.push_back({std::string(rows.get(i, 0)), rows.optional(i, 1), rows.get(i, 2) == "t",
                      rows.get(i, 3) == "t", rows.get(i, 4) == "t", rows.get_int(i, 5)});
  }
  return count_funnel(groups);
}

// The messages averaged for an estimate: the tenant's most recent priced
// ones, within this many days (messages_priced_idx reads them in order).
constexpr int kEstimateSample = 1000;
constexpr int kEstimateDays = 30;

json::Value cost(pg::Connection& db, const std::string& tenant, const std::string& id, long long planned) {
  db.prepare("distribution_cost",
             "SELECT m.price_unit, coalesce(sum(abs(m.price)), 0)::text, count(m.price), "
             "count(*) FILTER (WHERE m.price IS NULL AND m.priced_at IS NULL AND m.message_sid IS NOT NULL "
             "  AND m.status IN ('delivered', 'read', 'undelivered', 'failed')), "
             "count(*) FILTER (WHERE m.price IS NULL AND m.priced_at IS NOT NULL) "
             "FROM distribution_recipients r JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id "
             "WHERE r.tenant_id = $1 AND r.distribution_id = $2::uuid GROUP BY 1 ORDER BY 1 NULLS LAST");
  const pg::Result rows = db.exec_prepared("distribution_cost", {tenant, id});
  std::vector<CostGroup> groups;
  for (int i = 0; i < rows.rows(); ++i) {
    groups.push_back({rows.optional(i, 0), std::string(rows.get(i, 1)), rows.get_int(i, 2), rows.get_int(i, 3),
                      rows.get_int(i, 4)});
  }
  db.prepare("distribution_cost_estimate",
             "SELECT price_unit, round(avg(abs(price)) * $2::bigint, 5)::text, count(*) FROM ("
             "  SELECT price, price_unit FROM messages WHERE tenant_id = $1 AND price IS NOT NULL "
             "    AND created_at > now() - make_interval(days => " + std::to_string(kEstimateDays) + ") "
             "  ORDER BY created_at DESC LIMIT " + std::to_string(kEstimateSample) +
             ") recent GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 1");
  const pg::Result recent = db.exec_prepared("distribution_cost_estimate", {tenant, std::to_string(planned)});
  std::optional<PriceHistory> history;
  if (recent.rows() > 0) {
    history = PriceHistory{std::string(recent.get(0, 0)), std::string(recent.get(0, 1)), recent.get_int(0, 2)};
  }
  return cost_json(groups, history);
}

json::Value errors_json(pg::Connection& db, const std::string& tenant, const std::string& id) {
  db.prepare("distribution_errors",
             "SELECT m.error_code, count(*) FROM distribution_recipients r "
             "CROSS JOIN LATERAL (SELECT error_code FROM messages WHERE id = r.message_id "
             "AND tenant_id = r.tenant_id LIMIT 1) m "
             "WHERE r.tenant_id = $1 AND r.distribution_id = $2::uuid AND r.message_id IS NOT NULL "
             "AND m.error_code IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1");
  const pg::Result rows = db.exec_prepared("distribution_errors", {tenant, id});
  json::Value errors = json::array();
  for (int i = 0; i < rows.rows(); ++i) {
    const auto code = static_cast<int>(rows.get_int(i, 0));
    json::Value item = json::object();
    json::set(item.get(), "code", json::integer(code));
    json::set(item.get(), "count", json::integer(rows.get_int(i, 1)));
    json::set(item.get(), "description", json::string(error_codes::describe(code).description));
    json::append(errors.get(), std::move(item));
  }
  return errors;
}

int parse_limit(const std::string& value) {
  int limit = -1;
  if (value.size() > 3 ||
      std::from_chars(value.data(), value.data() + value.size(), limit).ptr != value.data() + value.size()) {
    limit = -1;
  }
  if (limit < 1 || limit > kMaxListLimit) {
    invalid_parameter("limit", "limit must be a whole number from 1 to " + std::to_string(kMaxListLimit));
  }
  return limit;
}

}  // namespace

bool known_recipient_status(std::string_view status) {
  if (std::find(kRecipientStatuses.begin(), kRecipientStatuses.end(), status) != kRecipientStatuses.end()) {
    return true;
  }
  return message_status::outbound_index(status).has_value();
}

PageQuery parse_page_query(std::string_view query, bool takes_status) {
  PageQuery result;
  std::vector<std::string> seen;
  size_t pos = 0;
  const std::string known = takes_status ? "status, limit, cursor" : "limit, cursor";
  while (pos <= query.size()) {
    const size_t amp = query.find('&', pos);
    const std::string_view item = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? query.size() + 1 : amp + 1;
    if (item.empty()) continue;
    const size_t equals = item.find('=');
    const std::optional<std::string> name = percent_decode(item.substr(0, equals));
    const std::optional<std::string> value =
        percent_decode(equals == std::string_view::npos ? std::string_view() : item.substr(equals + 1));
    if (!name) invalid_parameter("query", "the query string has a malformed %-escape");
    if (*name != "limit" && *name != "cursor" && !(takes_status && *name == "status")) {
      invalid_parameter(*name, "unknown parameter '" + *name + "'; known: " + known);
    }
    if (!value) invalid_parameter(*name, *name + " has a malformed %-escape");
    if (std::find(seen.begin(), seen.end(), *name) != seen.end()) {
      invalid_parameter(*name, *name + " is given more than once");
    }
    seen.push_back(*name);
    if (value->empty()) invalid_parameter(*name, *name + " must not be empty");
    if (*name == "limit") {
      result.limit = parse_limit(*value);
    } else if (*name == "cursor") {
      result.cursor = *value;
    } else {
      size_t start = 0;
      while (start <= value->size()) {
        const size_t comma = value->find(',', start);
        std::string status = value->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? value->size() + 1 : comma + 1;
        if (!known_recipient_status(status)) {
          invalid_parameter("status", "unknown status '" + status + "'; a recipient is planned, queued, skipped or "
                                      "canceled, or once it has a message, that message's status (sent, "
                                      "delivered, read, failed, undelivered, ...), comma-separated");
        }
        if (std::find(result.statuses.begin(), result.statuses.end(), status) == result.statuses.end()) {
          result.statuses.push_back(std::move(status));
        }
      }
    }
  }
  return result;
}

http::Response create_distribution(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Send);
  if (!auth.ok()) return auth.refusal;
  const api_keys::Key& caller = *auth.key;
  if (request.media_type() != "application/json") {
    throw ApiError(415, "unsupported_media_type", "send the request as Content-Type: application/json");
  }
  const idempotency::RequestKey idem = idempotency::key_from(request);
  if (!idem.error.empty()) throw ApiError(400, "invalid_idempotency_key", idem.error, "Idempotency-Key");

  // Decided by the request and the tenant alone, before the key is claimed,
  // so not remembered: a fixed request may reuse the key.
  const DistributionRequest parsed = parse_distribution_request(request.body, time::now_micros());
  if (!caller.whatsapp_from && !caller.messaging_service_sid) {
    throw ApiError(422, "sender_not_configured",
                   "this tenant has no WhatsApp sender number or Messaging Service; an operator must set one");
  }
  if (parsed.sender && parsed.sender != caller.whatsapp_from && parsed.sender != caller.messaging_service_sid) {
    throw ApiError(422, "sender_not_allowed",
                   "sender is not one of this tenant's senders (its WhatsApp number or Messaging Service SID)",
                   "sender");
  }

  pg::Connection& db = context.db();
  pg::Transaction tx(db);
  if (idem.key) {
    const idempotency::Claim claim = idempotency::claim_or_refuse(
        db, caller.tenant_id, *idem.key, request, context.config().integer("idempotency_ttl_hours"));
    if (claim.outcome == idempotency::Outcome::Replay) return replayed(claim.status, claim.body);
  }

  const std::set<std::string, std::less<>> opted_out =
      opted_out_among(db, caller.tenant_id, contact_phones(parsed, caller.default_country_code));
  PlanInputs inputs;
  inputs.default_country_code = caller.default_country_code;
  inputs.opted_out = &opted_out;
  inputs.link_base = link_base(request, context.config());
  const Plan plan = plan_distribution(parsed, inputs);

  http::Response response = record(db, caller.tenant_id, parsed, plan, idem.key);
  if (idem.key) idempotency::complete(db, caller.tenant_id, *idem.key, response.status, response.body);
  tx.commit();
  log::info("distribution_created")
      .kv("req_id", request.request_id)
      .kv("tenant", caller.tenant_id)
      .kv("key_id", caller.key_id)
      .kv("contacts", static_cast<long long>(parsed.contacts.size()))
      .kv("accepted", static_cast<long long>(plan.recipients.size()));
  return response;
}

http::Response get_distribution(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::optional<std::string> id = distribution_id(request);
  if (!id) return not_found();
  pg::Connection& db = context.db();
  // One snapshot: the counts and the errors describe the same moment.
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const pg::Result rows = find_distribution(db, auth.key->tenant_id, *id);
  if (rows.rows() == 0) return not_found();
  const std::string tenant = std::to_string(auth.key->tenant_id);
  const FunnelCounts counts = funnel(db, tenant, *id);
  json::Value body = distribution_json(rows, 0);
  json_t* o = body.get();
  set_message(o, rows, 0);
  json::set(o, "counts", counts_json(counts));
  json::set(o, "errors", errors_json(db, tenant, *id));
  json::set(o, "cost", cost(db, tenant, *id, counts.planned));
  // Four decimals: enough for a progress bar, stable for a client comparing answers.
  json::set(o, "progress", json::real(std::round(funnel_progress(counts) * 10000.0) / 10000.0));
  tx.commit();
  return http::Response::json(200, json::dump(o));
}

http::Response list_distributions(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const PageQuery query = parse_page_query(request.query, false);
  const long long tenant_id = auth.key->tenant_id;
  const std::string scope = list_scope(tenant_id);
  std::optional<Cursor> after;
  if (query.cursor) {
    after = decode_cursor(*query.cursor, signing_key(context.config()), scope);
    if (!after) {
      invalid_parameter("cursor", "cursor is not one this API gave out for this list: pass next_cursor unchanged, "
                                  "or leave cursor out to start from the newest");
    }
  }
  const std::string select = "SELECT " + distribution_columns() + " FROM distributions d WHERE d.tenant_id = $1";
  const std::string order = " ORDER BY d.created_at DESC, d.id DESC LIMIT $2";
  const std::string tenant = std::to_string(tenant_id);
  const std::string limit = std::to_string(query.limit + 1);  // one more: is there a next page?
  pg::Connection& db = context.db();
  pg::Result rows = [&] {
    if (!after) {
      db.prepare("distributions_first_page", select + order);
      return db.exec_prepared("distributions_first_page", {tenant, limit});
    }
    db.prepare("distributions_next_page",
               select + " AND (d.created_at, d.id) < ($3::timestamptz, $4::uuid)" + order);
    return db.exec_prepared("distributions_next_page",
                            {tenant, limit, time::postgres_literal(after->created_us), after->id});
  }();
  const int shown = std::min(rows.rows(), query.limit);
  json::Value list = json::array();
  for (int i = 0; i < shown; ++i) json::append(list.get(), distribution_json(rows, i));
  json::Value body = json::object();
  json::set(body.get(), "distributions", std::move(list));
  if (rows.rows() > query.limit) {
    const Cursor next{rows.get_int(shown - 1, kCreatedMicros), std::string(rows.get(shown - 1, kId))};
    json::set(body.get(), "next_cursor", json::string(encode_cursor(next, signing_key(context.config()), scope)));
  } else {
    json::set(body.get(), "next_cursor", json::null());
  }
  return http::Response::json(200, json::dump(body.get()));
}

http::Response list_distribution_recipients(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::optional<std::string> id = distribution_id(request);
  if (!id) return not_found();
  const PageQuery query = parse_page_query(request.query, true);
  const long long tenant_id = auth.key->tenant_id;
  const std::string scope = recipients_scope(tenant_id, *id, query.statuses);
  // The cursor's place is the last recipient's id (recipients page in
  // planning order); its uuid half is the distribution's, already bound by
  // the scope.
  long long after_id = 0;
  if (query.cursor) {
    const std::optional<Cursor> after = decode_cursor(*query.cursor, signing_key(context.config()), scope);
    if (!after) {
      invalid_parameter("cursor", "cursor is not one this API gave out for this list: pass next_cursor unchanged, "
                                  "with the same status (limit may change), or leave cursor out to start over");
    }
    after_id = after->created_us;
  }
  pg::Connection& db = context.db();
  const std::string tenant = std::to_string(tenant_id);
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (find_distribution(db, tenant_id, *id).rows() == 0) return not_found();
  // A recipient's status is its message's once it has one.
  db.prepare("distribution_recipients_page",
             "SELECT r.id, r.phone, r.name, coalesce(m.status, r.status), r.message_id::text, m.message_sid, "
             "m.error_code, coalesce(m.error_message, r.error), coalesce(l.clicks, 0), r.replied_at IS NOT NULL, "
             "r.timezone FROM distribution_recipients r "
             "LEFT JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id "
             "LEFT JOIN distribution_links l ON l.tenant_id = r.tenant_id AND l.recipient_id = r.id "
             "WHERE r.tenant_id = $1 AND r.distribution_id = $2::uuid AND r.id > $3::bigint "
             "AND (cardinality($4::text[]) = 0 OR coalesce(m.status, r.status) = ANY($4::text[])) "
             "ORDER BY r.id LIMIT $5");
  const pg::Result rows = db.exec_prepared(
      "distribution_recipients_page",
      {tenant, *id, std::to_string(after_id), pg::array_literal(query.statuses), std::to_string(query.limit + 1)});
  tx.commit();
  const int shown = std::min(rows.rows(), query.limit);
  json::Value list = json::array();
  for (int i = 0; i < shown; ++i) {
    json::Value item = json::object();
    json_t* o = item.get();
    json::set(o, "phone", json::string(rows.get(i, 1)));
    json::set(o, "name", text_or_null(rows, i, 2));
    json::set(o, "status", json::string(rows.get(i, 3)));
    json::set(o, "message_id", text_or_null(rows, i, 4));
    json::set(o, "message_sid", text_or_null(rows, i, 5));
    std::optional<int> code;
    if (!rows.is_null(i, 6)) code = static_cast<int>(rows.get_int(i, 6));
    json::set(o, "error", error_object(code, rows.optional(i, 7)));
    json::set(o, "clicks", json::integer(rows.get_int(i, 8)));
    json::set(o, "replied", json::boolean(rows.get(i, 9) == "t"));
    json::set(o, "timezone", text_or_null(rows, i, 10));
    json::append(list.get(), std::move(item));
  }
  json::Value body = json::object();
  json::set(body.get(), "recipients", std::move(list));
  if (rows.rows() > query.limit) {
    const Cursor next{rows.get_int(shown - 1, 0), *id};
    json::set(body.get(), "next_cursor", json::string(encode_cursor(next, signing_key(context.config()), scope)));
  } else {
    json::set(body.get(), "next_cursor", json::null());
  }
  return http::Response::json(200, json::dump(body.get()));
}

}  // namespace wagate::api
