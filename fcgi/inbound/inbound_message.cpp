// inbound_message.cpp — POST /api/v1/whatsapp/webhook: messages users send to a tenant's number.
#include "inbound_message.hpp"

#include <cctype>
#include <chrono>
#include <string>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"
#include "wagate/store.hpp"
#include "wagate/webhook.hpp"
#include "wagate/time.hpp"

namespace wagate::inbound {
namespace {

constexpr int kMaxMedia = 10;

std::string upper_trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.remove_suffix(1);
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void set_if_present(json_t* obj, const char* key, const form::Params& params, const char* name) {
  if (const auto value = params.first(name); value && !value->empty()) json::set(obj, key, json::string(*value));
}

}  // namespace

std::string contact_action(std::string_view body, const std::vector<std::string>& opt_out_keywords,
                           const std::vector<std::string>& opt_in_keywords) {
  const std::string word = upper_trimmed(body);
  if (word.empty()) return {};
  for (const auto& keyword : opt_out_keywords) {
    if (upper_trimmed(keyword) == word) return "opt_out";
  }
  for (const auto& keyword : opt_in_keywords) {
    if (upper_trimmed(keyword) == word) return "opt_in";
  }
  return {};
}

std::string inbound_record(long long tenant_id, const form::Params& params, std::string_view action,
                           std::string_view received_at, int reply_window_hours) {
  json::Value record = json::object();
  json::set(record.get(), "kind", json::string("inbound"));
  json::set(record.get(), "tenant_id", json::integer(tenant_id));
  json::set(record.get(), "sid", json::string(params.first("MessageSid").value_or("")));
  json::set(record.get(), "from", json::string(params.first("From").value_or("")));
  json::set(record.get(), "to", json::string(params.first("To").value_or("")));
  json::set(record.get(), "body", json::string(params.first("Body").value_or("")));
  set_if_present(record.get(), "profile_name", params, "ProfileName");
  set_if_present(record.get(), "wa_id", params, "WaId");

  json::Value media = json::array();
  int count = 0;
  if (const auto num = params.first("NumMedia")) count = std::atoi(std::string(*num).c_str());
  for (int i = 0; i < count && i < kMaxMedia; ++i) {
    const auto url = params.first("MediaUrl" + std::to_string(i));
    if (!url) continue;
    json::Value item = json::object();
    json::set(item.get(), "url", json::string(*url));
    json::set(item.get(), "content_type",
              json::string(params.first("MediaContentType" + std::to_string(i)).value_or("")));
    json::append(media.get(), std::move(item));
  }
  json::set(record.get(), "media", std::move(media));

  json::Value details = json::object();
  set_if_present(details.get(), "message_type", params, "MessageType");
  set_if_present(details.get(), "button_text", params, "ButtonText");
  set_if_present(details.get(), "button_payload", params, "ButtonPayload");
  set_if_present(details.get(), "latitude", params, "Latitude");
  set_if_present(details.get(), "longitude", params, "Longitude");
  set_if_present(details.get(), "address", params, "Address");
  set_if_present(details.get(), "label", params, "Label");
  set_if_present(details.get(), "replied_to_sid", params, "OriginalRepliedMessageSid");
  set_if_present(details.get(), "replied_to_sender", params, "OriginalRepliedMessageSender");
  set_if_present(details.get(), "forwarded", params, "Forwarded");
  set_if_present(details.get(), "frequently_forwarded", params, "FrequentlyForwarded");
  json::Value referral = json::object();
  for (const auto& param : params.items()) {
    if (param.name.starts_with("Referral") && !param.value.empty()) {
      json::set(referral.get(), param.name.c_str(), json::string(param.value));
    }
  }
  if (json_object_size(referral.get()) > 0) json::set(details.get(), "referral", std::move(referral));
  json::set(record.get(), "details", std::move(details));

  // Every parameter as sent; a repeated name keeps all its values.
  json::Value all = json::object();
  for (const auto& param : params.items()) {
    json_t* existing = json_object_get(all.get(), param.name.c_str());
    if (existing == nullptr) {
      json::set(all.get(), param.name.c_str(), json::string(param.value));
    } else if (json_is_array(existing)) {
      json::append(existing, json::string(param.value));
    } else {
      json::Value values = json::array();
      json_array_append(values.get(), existing);
      json::append(values.get(), json::string(param.value));
      json::set(all.get(), param.name.c_str(), std::move(values));
    }
  }
  json::set(record.get(), "params", std::move(all));
  json::set(record.get(), "contact_action", json::string(action));
  json::set(record.get(), "received_at", json::string(received_at));
  json::set(record.get(), "reply_window_hours", json::integer(reply_window_hours));
  return json::dump(record.get());
}

http::Response inbound_message(http::Request& request, Context& context, Services& services) {
  // The tenant lookup and the store share one budget: past it the message
  // is spooled, so Twilio is answered in time even when Postgres does not answer.
  const DbBudget budget(context, std::chrono::milliseconds(context.config().integer("db_timeout_ms")));
  const webhook::Verified verified = webhook::verify(request, context, services.tenants);
  const std::string sid = webhook::required_param(verified.params, "MessageSid");
  if (sid.size() != 34) throw ApiError(400, "invalid_parameter", "MessageSid must be 34 characters", "MessageSid");
  const std::string from = webhook::required_param(verified.params, "From");
  webhook::required_param(verified.params, "To");
  if (const auto body = verified.params.first("Body"); body && body->size() > 4096) {
    throw ApiError(400, "invalid_parameter", "Body is longer than 4096 characters", "Body");
  }

  const auto& config = context.config();
  const std::string action = contact_action(verified.params.first("Body").value_or(""),
                                            config.list("opt_out_keywords"), config.list("opt_in_keywords"));
  const std::string record =
      inbound_record(verified.tenant->id, verified.params, action, time::format_iso8601(time::now_micros(), 6),
                     static_cast<int>(config.integer("reply_window_hours")));

  const char* outcome = "stored";
  try {
    const store::Outcome stored = store::store_inbound(context.db(), record);
    if (stored == store::Outcome::Refused) {
      throw ApiError(400, "unstorable_message", "the database refused a value of this message; it was not stored");
    }
    if (stored == store::Outcome::Duplicate) outcome = "duplicate";
  } catch (const DbError& e) {
    context.drop_db();
    log::warning("inbound_commit_failed").kv("req_id", request.request_id).kv("sid", sid).kv("error", e.what());
    try {
      services.spool.append(record);
      metrics::count_spool_append("inbound", 1);
      outcome = "spooled";
    } catch (const SpoolError& spool_error) {
      log::error("spool_append_failed").kv("req_id", request.request_id).kv("sid", sid)
          .kv("error", spool_error.what());
      throw ApiError(503, "storage_unavailable", "neither the database nor the spool could store the message");
    }
  }
  log::info("inbound_message").kv("req_id", request.request_id).kv("tenant", verified.tenant->name)
      .kv("sid", sid).kv("outcome", outcome).kv("contact_action", action);
  return http::Response::twiml();
}

}  // namespace wagate::inbound
