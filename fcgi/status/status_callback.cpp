// status_callback.cpp — POST /api/v1/whatsapp/status: Twilio's delivery-status callbacks.
#include "status_callback.hpp"

#include <cctype>
#include <chrono>
#include <string>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/webhook.hpp"
#include "wagate/time.hpp"

namespace wagate::status {
namespace {

// SM/MM plus 32 hex digits today; accept any 34 alphanumerics so that a new
// prefix from Twilio is stored rather than refused.
bool valid_message_sid(std::string_view sid) {
  if (sid.size() != 34) return false;
  for (const char c : sid) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

// Known and future statuses alike are lower-case words; anything else is not
// a status.
bool valid_status(std::string_view status) {
  if (status.empty() || status.size() > 32) return false;
  for (const char c : status) {
    if (!(std::islower(static_cast<unsigned char>(c)) != 0 || c == '_')) return false;
  }
  return true;
}

std::optional<std::string> error_code(const form::Params& params) {
  const auto code = params.first("ErrorCode");
  if (!code || code->empty()) return std::nullopt;
  if (code->size() > 9) throw ApiError(400, "invalid_parameter", "ErrorCode must be a number", "ErrorCode");
  for (const char c : *code) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      throw ApiError(400, "invalid_parameter", "ErrorCode must be a number", "ErrorCode");
    }
  }
  return std::string(*code);
}

}  // namespace

http::Response status_callback(http::Request& request, Context& context, Services& services) {
  // The tenant lookup and the commit share one budget, so Twilio is answered in time either way.
  const DbBudget budget(context, std::chrono::milliseconds(context.config().integer("db_timeout_ms")));
  const webhook::Verified verified = webhook::verify(request, context, services.tenants);
  const std::string sid = webhook::required_param(verified.params, "MessageSid");
  if (!valid_message_sid(sid)) {
    throw ApiError(400, "invalid_parameter", "MessageSid must be 34 letters and digits", "MessageSid");
  }
  const std::string status = webhook::required_param(verified.params, "MessageStatus");
  if (!valid_status(status)) {
    throw ApiError(400, "invalid_parameter", "MessageStatus must be a lower-case status word", "MessageStatus");
  }
  const auto code = error_code(verified.params);
  std::string message(verified.params.first("ErrorMessage").value_or(""));
  if (message.size() > 1024) message.resize(1024);  // a description, not a payload

  json::Value record = json::object();
  json::set(record.get(), "kind", json::string("status"));
  json::set(record.get(), "tenant_id", json::integer(verified.tenant->id));
  json::set(record.get(), "sid", json::string(sid));
  json::set(record.get(), "status", json::string(status));
  json::set(record.get(), "error_code", json::string(code.value_or("")));
  json::set(record.get(), "error_message", json::string(message));
  json::set(record.get(), "received_at", json::string(time::format_iso8601(time::now_micros(), 6)));

  const store::Outcome outcome = services.writer.store(json::dump(record.get()), budget.deadline());
  if (outcome == store::Outcome::Lost) {
    throw ApiError(503, "storage_unavailable", "neither the database nor the spool could store the callback");
  }
  if (outcome == store::Outcome::Refused) {
    // Logged with its MessageSid and SQLSTATE by the writer; a 4xx tells
    // Twilio (and whoever reads its debugger) that this one was not stored.
    throw ApiError(400, "unstorable_callback", "the database refused a value of this callback; it was not stored");
  }
  log::debug("status_callback").kv("req_id", request.request_id).kv("tenant", verified.tenant->name)
      .kv("sid", sid).kv("status", status)
      .kv("outcome", outcome == store::Outcome::Duplicate ? "duplicate"
                     : outcome == store::Outcome::Spooled ? "spooled" : "stored");
  return http::Response::twiml();
}

}  // namespace wagate::status
