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
  for (const auto& param : parsed.params.items()) {
    if (!text::valid_utf8(param.name) || !text::valid_utf8(param.value)) {
      reject(request, 400, "invalid_utf8", "parameter '" + (text::valid_utf8(param.name) ? param.name : "?") +
                                               "' is not valid UTF-8", url);
    }
  }
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
  return {tenant, std::move(parsed.params), url};
}

}  // namespace wagate::webhook
