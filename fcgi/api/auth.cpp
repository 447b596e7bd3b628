// auth.cpp — the Bearer API key check in front of every API route but health.
#include "auth.hpp"

#include <chrono>
#include <string>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"

namespace wagate::api {
namespace {

api_keys::Cache& key_cache() {
  static api_keys::Cache cache;
  return cache;
}

http::Response unauthorized(std::string_view message) {
  http::Response response = http::Response::error(401, "unauthorized", message);
  // RFC 6750: a 401 names the scheme the client should use.
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"wagate\"");
  return response;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// token68 (RFC 7235 §2.1): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_token68_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

}  // namespace

// The grammar is exactly the one nginx's per-key rate limit extracts the
// credential with (nginx/snippets/limits.conf): a value this accepts as K is
// counted in K's bucket there, whatever its spelling. credentials =
// auth-scheme 1*SP token68, the scheme in any case; the optional whitespace
// around a field value is not part of it.
std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  while (!authorization.empty() && is_blank(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && is_blank(authorization.back())) authorization.remove_suffix(1);
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  size_t end = 0;
  while (end < token.size() && is_token68_char(token[end])) ++end;
  if (end == 0) return std::nullopt;
  while (end < token.size() && token[end] == '=') ++end;
  if (end != token.size()) return std::nullopt;
  return token;
}

Authentication authenticate(const http::Request& request, Context& context, api_keys::Scope needed) {
  Authentication result;
  const auto header = request.header("authorization");
  if (!header) {
    result.refusal = unauthorized("missing API key: send 'Authorization: Bearer <key>'");
    return result;
  }
  const auto token = bearer_token(*header);
  if (!token) {
    result.refusal = unauthorized("malformed Authorization header: expected 'Bearer <key>'");
    return result;
  }
  const auto ttl = std::chrono::seconds(context.config().integer("api_key_cache_seconds"));
  bool fresh_load = false;
  const api_keys::Verification verification = key_cache().verify(
      *token, [&](std::string_view key_id) { return api_keys::load(context.db(), key_id); }, ttl, &fresh_load);
  if (verification.verdict != api_keys::Verdict::Ok) {
    // The key_id is the public half: logging it tells the operator which key
    // is failing without revealing anything that opens a door.
    const auto key_id = api_keys::key_id_of(*token);
    log::info("auth_refused")
        .kv("req_id", request.request_id)
        .kv("key_id", key_id ? *key_id : std::string_view("-"))
        .kv("reason", api_keys::verdict_name(verification.verdict));
    result.refusal = unauthorized(verification.verdict == api_keys::Verdict::Revoked
                                      ? "the API key has been revoked"
                                      : "invalid API key");
    return result;
  }
  if (fresh_load) {
    try {
      api_keys::touch(context.db(), verification.key->key_id);
    } catch (const DbError& e) {
      // Bookkeeping only: the key is valid, the request goes on.
      log::warning("api_key_touch_failed").kv("key_id", verification.key->key_id).kv("error", e.what());
    }
  }
  if (!api_keys::has(verification.key->scopes, needed)) {
    const std::string scope(api_keys::scope_name(needed));
    result.refusal = http::Response::error(403, "forbidden", "this API key lacks the '" + scope + "' scope");
    return result;
  }
  result.key = verification.key;
  return result;
}

void clear_key_cache() { key_cache().clear(); }

}  // namespace wagate::api
