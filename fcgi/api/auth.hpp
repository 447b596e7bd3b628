// auth.hpp — the Bearer API key check in front of every API route but health.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "wagate/api_keys.hpp"
#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// Either the key the request was made with (its tenant is the only one the
// request may touch) or the answer that refuses it.
struct Authentication {
  std::shared_ptr<const api_keys::Key> key;
  http::Response refusal;
  [[nodiscard]] bool ok() const { return key != nullptr; }
};

// Checks `Authorization: Bearer <key>` and that the key holds `needed`.
// Missing, malformed, unknown, wrong or revoked: 401 `unauthorized` with
// `WWW-Authenticate: Bearer`; valid without the scope: 403 `forbidden`.
// Verified keys are cached per process for config api_key_cache_seconds, so
// a revocation takes effect within that time. Throws DbError when a key has
// to be loaded and the database is unreachable.
Authentication authenticate(const http::Request& request, Context& context, api_keys::Scope needed);

// The token of an `Authorization: Bearer <token>` value: the scheme in any
// case, one or more spaces, a token68 (RFC 7235), the same grammar nginx
// keys the per-key rate limit on; nullopt when the value is of another form.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Forgets every cached key (tests).
void clear_key_cache();

}  // namespace wagate::api
