// twilio_signature.hpp — X-Twilio-Signature: computing, checking against the URL variants, rebuilding the public URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/form.hpp"

namespace wagate::twilio {

enum class SignatureCheck { Ok, Missing, Mismatch, BodyHashMismatch };

// "ok", "missing", "mismatch", "body_hash_mismatch" (for logs and metrics).
[[nodiscard]] std::string_view to_string(SignatureCheck check);

// Base64(HMAC-SHA1(auth_token, url + params)), where params are appended as
// name + value with no separators, names in byte order (CALLSID < CallSid <
// callSid) and, for a repeated name, its values de-duplicated and sorted.
[[nodiscard]] std::string compute_signature(std::string_view url, const form::Params& params,
                                            std::string_view auth_token);

// The URLs Twilio may have signed for a request to url: as received; with its
// port removed; with the scheme's default port (:443, :80) added when it had
// none. Each appears once. User info (user:pass@) is kept as given.
[[nodiscard]] std::vector<std::string> url_variants(std::string_view url);

struct SignedRequest {
  std::string_view url;                  // public URL Twilio requested: scheme://host[:port] + raw request URI
  const form::Params* params = nullptr;  // decoded POST params of a form body; nullptr or empty for JSON bodies
  std::string_view raw_body;             // checked against bodySHA256 when the URL's query carries it
  std::string_view signature;            // X-Twilio-Signature value; empty means the header was missing
};

// Compares (in constant time) against every URL variant. When the query has
// bodySHA256=<hex>, the signature covers the URL alone and the SHA-256 of
// raw_body must equal that hex, else BodyHashMismatch. An empty auth_token is
// the caller's to refuse (500: nothing to check against), not a Mismatch.
[[nodiscard]] SignatureCheck check_signature(const SignedRequest& request, std::string_view auth_token);

// The raw value of bodySHA256 in the URL's query string, if present: its
// presence says the body is JSON and the signature covers the URL alone.
// Hex needs no decoding, and the query is otherwise left exactly as Twilio
// sent it.
[[nodiscard]] std::optional<std::string_view> body_hash_param(std::string_view url);

// The URL Twilio used. With a configured base ("https://gw.example.com", maybe
// with a path prefix) that is base + request_uri, otherwise scheme://host +
// request_uri, host being the Host header as received (port included).
// request_uri is the raw request target, never re-encoded: the signature is
// over the exact bytes Twilio sent.
[[nodiscard]] std::string public_url(std::string_view configured_base, std::string_view scheme,
                                     std::string_view host, std::string_view request_uri);

}  // namespace wagate::twilio
