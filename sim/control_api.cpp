// control_api.cpp — the simulator's own endpoints under /sim/: inbound injection, what it recorded, reset.
#include "control_api.hpp"

#include <ctime>
#include <cstdio>
#include <utility>

#include "messages_api.hpp"
#include "scenarios.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/time.hpp"

namespace wagate::sim {
namespace {

// Name -> value, or -> [values] for a name that repeats (MediaUrl).
json::Value params_json(const form::Params& params) {
  json::Value out = json::object();
  for (const form::Param& param : params.items()) {
    json_t* existing = json_object_get(out.get(), param.name.c_str());
    if (existing == nullptr) {
      json::set(out.get(), param.name.c_str(), json::string(param.value));
    } else if (json_is_array(existing)) {
      json::append(existing, json::string(param.value));
    } else {
      json::Value values = json::array();
      json::append(values.get(), json::Value(json_incref(existing)));
      json::append(values.get(), json::string(param.value));
      json::set(out.get(), param.name.c_str(), std::move(values));
    }
  }
  return out;
}

json::Value delivery_json(const DeliveryRecord& record) {
  json::Value out = json::object();
  json::set(out.get(), "time", json::string(iso_time(record.time)));
  json::set(out.get(), "sid", json::string(record.sid));
  json::set(out.get(), "status", json::string(record.status));
  json::set(out.get(), "url", json::string(record.url));
  json::set(out.get(), "http_status", json::integer(record.http_status));
  json::set(out.get(), "attempt", json::integer(record.attempt));
  json::set(out.get(), "error", record.error.empty() ? json::null() : json::string(record.error));
  return out;
}

json::Value counts_json(const std::map<int, size_t>& counts) {
  json::Value out = json::object();
  for (const auto& [status, count] : counts) {
    json::set(out.get(), std::to_string(status).c_str(), json::integer(static_cast<long long>(count)));
  }
  return out;
}

http::Response json_answer(int status, const json::Value& body) {
  return http::Response::json(status, json::dump(body.get()));
}

http::Response bad_request(std::string_view message, std::string_view field = {}) {
  return http::Response::error(400, "invalid_request", message, field);
}

json::Value list_json(const char* name, json::Value items) {
  json::Value out = json::object();
  json::set(out.get(), "count", json::integer(static_cast<long long>(json_array_size(items.get()))));
  json::set(out.get(), name, std::move(items));
  return out;
}

// A JSON string member, "" when absent; false when present but not a string.
bool read_string(const json_t* object, const char* key, std::string* out) {
  const json_t* member = json_object_get(object, key);
  if (member == nullptr || json_is_null(member)) return true;
  if (!json_is_string(member)) return false;
  *out = std::string(json_string_value(member), json_string_length(member));
  return true;
}

}  // namespace

std::string iso_time(Clock::time_point time) {
  return time::format_iso8601(
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count(), 3);
}

std::variant<InboundRequest, http::Response> parse_inbound_request(std::string_view body, Accounts& accounts,
                                                                   const std::string& default_url) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok()) return bad_request("body is not JSON: " + parsed.error);
  const json_t* object = parsed.value.get();
  if (!json_is_object(object)) return bad_request("body must be a JSON object");

  InboundRequest request;
  InboundMessage& message = request.message;
  message.profile_name = "Sim User";
  for (const auto& [key, target] : {std::pair{"account_sid", &message.account_sid}, std::pair{"from", &message.from},
                                    std::pair{"to", &message.to}, std::pair{"body", &message.body},
                                    std::pair{"profile_name", &message.profile_name}, std::pair{"url", &request.url}}) {
    if (!read_string(object, key, target)) return bad_request(std::string(key) + " must be a string", key);
  }
  if (message.from.empty()) return bad_request("from is required (whatsapp:+E164)", "from");
  if (message.to.empty()) return bad_request("to is required (the gateway's WhatsApp number)", "to");
  if (message.account_sid.empty()) {
    const std::optional<std::string> sole = accounts.sole_account();
    if (!sole) return bad_request("account_sid is required when there is not exactly one account", "account_sid");
    message.account_sid = *sole;
  }
  if (!accounts.token(message.account_sid)) return bad_request("unknown account_sid", "account_sid");
  if (request.url.empty()) request.url = default_url;
  if (request.url.empty()) return bad_request("url is required: no --webhook-url was given", "url");
  if (!valid_callback_url(request.url)) return bad_request("url must be an absolute http(s) URL", "url");

  if (const json_t* extra = json_object_get(object, "params"); extra != nullptr && !json_is_null(extra)) {
    if (!json_is_object(extra)) return bad_request("params must be an object of strings", "params");
    const char* name = nullptr;
    json_t* value = nullptr;
    json_object_foreach(const_cast<json_t*>(extra), name, value) {
      if (json_is_string(value)) {
        message.extra.add(name, json_string_value(value));
      } else if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); ++i) {
          const json_t* item = json_array_get(value, i);
          if (!json_is_string(item)) return bad_request("params values must be strings", "params");
          message.extra.add(name, json_string_value(item));
        }
      } else {
        return bad_request("params values must be strings", "params");
      }
    }
  }
  return request;
}

ControlApi::ControlApi(Accounts& accounts, Ledger& ledger, Dispatcher& dispatcher, Options options)
    : accounts_(accounts), ledger_(ledger), dispatcher_(dispatcher), options_(std::move(options)) {}

http::Response ControlApi::handle(const http::Request& request) {
  const std::string& path = request.path;
  const form::ParseResult query = form::parse(request.query);
  if (!query.ok()) return bad_request("invalid query: " + query.error);
  const std::string_view method = request.method;

  if (path == "/sim/messages" && method == "GET") {
    json::Value items = json::array();
    for (const CreateRecord& record : ledger_.creates(query.params.first("to").value_or(""))) {
      json::Value item = json::object();
      json::set(item.get(), "time", json::string(iso_time(record.time)));
      json::set(item.get(), "account_sid", json::string(record.account_sid));
      json::set(item.get(), "to", json::string(record.to));
      json::set(item.get(), "params", params_json(record.params));
      json::set(item.get(), "http_status", json::integer(record.http_status));
      json::set(item.get(), "error_code", record.error_code != 0 ? json::integer(record.error_code) : json::null());
      json::set(item.get(), "sid", record.sid.empty() ? json::null() : json::string(record.sid));
      json::append(items.get(), std::move(item));
    }
    return json_answer(200, list_json("messages", std::move(items)));
  }
  if (path == "/sim/callbacks" && method == "GET") {
    json::Value items = json::array();
    for (const DeliveryRecord& record : ledger_.callbacks(query.params.first("sid").value_or(""))) {
      json::append(items.get(), delivery_json(record));
    }
    return json_answer(200, list_json("callbacks", std::move(items)));
  }
  if (path == "/sim/inbound" && method == "GET") {
    json::Value items = json::array();
    for (const DeliveryRecord& record : ledger_.inbound()) json::append(items.get(), delivery_json(record));
    return json_answer(200, list_json("inbound", std::move(items)));
  }
  if (path == "/sim/inbound" && method == "POST") return inbound(request);
  if (path == "/sim/stats" && method == "GET") {
    const LedgerStats stats = ledger_.stats();
    json::Value body = json::object();
    json::set(body.get(), "creates", json::integer(static_cast<long long>(stats.creates)));
    json::set(body.get(), "creates_by_status", counts_json(stats.creates_by_status));
    json::set(body.get(), "messages", json::integer(static_cast<long long>(stats.messages)));
    json::set(body.get(), "callbacks_sent", json::integer(static_cast<long long>(stats.callbacks_sent)));
    json::set(body.get(), "callbacks_failed", json::integer(static_cast<long long>(stats.callbacks_failed)));
    json::set(body.get(), "callbacks_pending", json::integer(static_cast<long long>(dispatcher_.pending())));
    json::set(body.get(), "callbacks_by_http_status", counts_json(stats.callbacks_by_status));
    json::set(body.get(), "inbound_sent", json::integer(static_cast<long long>(stats.inbound_sent)));
    return json_answer(200, body);
  }
  if (path == "/sim/reset" && method == "POST") {
    dispatcher_.cancel_pending();
    ledger_.reset();
    log::info("sim_reset");
    json::Value body = json::object();
    json::set(body.get(), "reset", json::boolean(true));
    return json_answer(200, body);
  }
  if (path == "/sim/scenarios" && method == "GET") {
    json::Value items = json::array();
    for (const Scenario& scenario : scenarios()) {
      json::Value item = json::object();
      char example[24];
      std::snprintf(example, sizeof example, "whatsapp:+1202%s%02d", std::string(kScenarioMarker).c_str(),
                    scenario.number);
      json::set(item.get(), "name", json::string(scenario.name));
      json::set(item.get(), "number", json::integer(scenario.number));
      json::set(item.get(), "example_to", json::string(example));
      json::set(item.get(), "summary", json::string(scenario.summary));
      json::Value steps = json::array();
      for (const CallbackStep& step : scenario.steps) json::append(steps.get(), json::string(step.status));
      json::set(item.get(), "callbacks", std::move(steps));
      json::append(items.get(), std::move(item));
    }
    return json_answer(200, list_json("scenarios", std::move(items)));
  }
  const bool known = path == "/sim/messages" || path == "/sim/callbacks" || path == "/sim/inbound" ||
                     path == "/sim/stats" || path == "/sim/reset" || path == "/sim/scenarios";
  if (known) return http::Response::error(405, "method_not_allowed", "method not allowed on " + path);
  return http::Response::error(404, "not_found", "no such simulator endpoint: " + path);
}

http::Response ControlApi::inbound(const http::Request& request) {
  auto parsed = parse_inbound_request(request.body, accounts_, options_.webhook_url);
  if (auto* answer = std::get_if<http::Response>(&parsed)) return std::move(*answer);
  const InboundRequest& inbound = std::get<InboundRequest>(parsed);

  const std::string sid = new_message_sid();
  const form::Params params = inbound_params(inbound.message, sid);
  const std::optional<Secret> token = accounts_.token(inbound.message.account_sid);
  if (!token) return bad_request("unknown account_sid", "account_sid");
  const SignedPost post = sign_post(inbound.url, params, token->reveal(), sid);

  PostResult result = post_now(post, options_.post);
  int attempt = 1;
  if (result.connect_failure) {
    // Twilio's default policy: one more try when no connection could be made.
    ledger_.record_inbound(DeliveryRecord{Clock::now(), sid, "received", post.url, 0, result.error, attempt});
    attempt = 2;
    result = post_now(post, options_.post);
  }
  ledger_.record_inbound(
      DeliveryRecord{Clock::now(), sid, "received", post.url, result.http_status, result.error, attempt});
  log::info("inbound_posted").kv("sid", sid).kv("http_status", result.http_status).kv("attempt", attempt);

  json::Value body = json::object();
  json::set(body.get(), "message_sid", json::string(sid));
  json::set(body.get(), "status", json::integer(result.http_status));
  json::set(body.get(), "url", json::string(post.url));
  json::set(body.get(), "attempts", json::integer(attempt));
  json::set(body.get(), "error", result.error.empty() ? json::null() : json::string(result.error));
  // 502 when the gateway gave no HTTP answer at all: the injection did not happen.
  return json_answer(result.http_status == 0 ? 502 : 200, body);
}

}  // namespace wagate::sim
