// webhook.cpp — what every Twilio webhook goes through first: media type, body, tenant, signature.
#include "wagate/webhook.hpp"

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"
#include "wagate/twilio_signature.hpp"
#include "wagate/text.hpp"

namespace wagate::webhook {
namespace {

[[noreturn]] void reject(const http::Request& request, int status, const char* code, const std::string& message,
                         const std::string& url, std::string_view account_sid = {}) {
  log::warning("webhook_rejected").kv("req_id", request.request_id).kv("path", request.path)
      .kv("reason", code).kv("account_sid", account_sid).kv("url", url).kv("status", status);
  metrics::count_signature_failure(code);
  throw ApiError(status, code, message);
}

[[noreturn]] void reject_parameter(const http::Request& request, const char* code, const std::string& message,
                                   const std::string& field, const std::string& url, std::string_view account_sid) {
  log::warning("webhook_rejected").kv("req_id", request.request_id).kv("path", request.path)
      .kv("reason", code).kv("param", field).kv("account_sid", account_sid).kv("url", url).kv("status", 400);
  metrics::count_signature_failure(code);
  throw ApiError(400, code, message, field);
}

// A parameter name for a message and the error's field: NUL spelled \u0000.
std::string printable_name(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == '\0') {
      out += "\\u0000";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string public_url(const http::Request& request, const config::Config& config) {
  return twilio::public_url(config.str("public_base_url"), request.scheme, request.host, request.request_uri);
}

Secret master_key(const config::Config& config) {
  const Secret& file = config.secret("master_key_file");
  if (file.empty()) return {};
  return crypto::master_key_from(file.reveal());
}

std::string required_param(const form::Params& params, const char* name) {
  const auto value = params.first(name);
  if (!value || value->empty()) {
    throw ApiError(400, "missing_parameter", std::string(name) + " is required", name);
  }
  return std::string(*value);
}

Verified verify(const http::Request& request, Context& context, tenants::Cache& tenants) {
  const std::string url = public_url(request, context.config());
  if (request.media_type() != "application/x-www-form-urlencoded") {
    reject(request, 415, "unsupported_media_type",
           "expected Content-Type application/x-www-form-urlencoded, got '" + request.media_type() + "'", url);
  }
  form::ParseResult parsed = form::parse(request.body);
  if (!parsed.ok()) reject(request, 400, "malformed_body", "malformed form body: " + parsed.error, url);
  const auto account_sid = parsed.params.first("AccountSid");
  if (!account_sid || account_sid->empty()) {
    reject(request, 400, "missing_parameter", "AccountSid is required", url);
  }
  const auto signature = request.header("x-twilio-signature");
  if (!signature || signature->empty()) {
    reject(request, 400, "missing_signature", "X-Twilio-Signature header is required", url, *account_sid);
  }

  // Postgres is asked only on a cache miss; when it is down the cache (or its
  // snapshot) can still validate, and the caller spools what it cannot store.
  const auto tenant = tenants.find([&] { return &context.db(); }, master_key(context.config()), *account_sid);
  if (!tenant) reject(request, 403, "unknown_account", "AccountSid is not a tenant of this gateway", url, *account_sid);

  twilio::SignedRequest signed_request{url, &parsed.params, request.body, *signature};
  twilio::SignatureCheck result = twilio::SignatureCheck::Mismatch;
  for (const Secret& token : tenant->auth_tokens) {
    result = twilio::check_signature(signed_request, token.reveal());
    if (result == twilio::SignatureCheck::Ok) break;
  }
  if (result != twilio::SignatureCheck::Ok) {
    reject(request, 403, "invalid_signature",
           std::string("X-Twilio-Signature does not match (") + std::string(twilio::to_string(result)) + ")", url,
           *account_sid);
  }
  // Postgres stores neither a NUL byte (text and jsonb refuse it) nor bytes
  // that are not UTF-8, so such a webhook could never be stored: refused here,
  // before anything is stored or acknowledged, for every parameter of every
  // webhook. After the signature on purpose: whoever cannot sign gets 403
  // whatever the body holds and learns nothing about what we accept, and
  // Twilio (who can) is told exactly which parameter was wrong.
  for (const auto& param : parsed.params.items()) {
    const bool name_ok = text::valid_utf8(param.name);
    const std::string shown = !name_ok ? "?" : printable_name(param.name);
    if (!name_ok || !text::valid_utf8(param.value)) {
      reject_parameter(request, "invalid_utf8", "parameter '" + shown + "' is not valid UTF-8", shown, url,
                       *account_sid);
    }
    if (param.name.find('\0') != std::string::npos || param.value.find('\0') != std::string::npos) {
      reject_parameter(request, "nul_byte", "parameter '" + shown + "' contains a NUL byte (%00)", shown, url,
                       *account_sid);
    }
  }
  return {tenant, std::move(parsed.params), url};
}

}  // namespace wagate::webhook
