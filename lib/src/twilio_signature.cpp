// twilio_signature.cpp — X-Twilio-Signature: computing, checking against the URL variants, rebuilding the public URL.
#include "wagate/twilio_signature.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "wagate/crypto.hpp"

namespace wagate::twilio {
namespace {

constexpr std::string_view kBodyHashParam = "bodySHA256";
const form::Params kNoParams;

bool matches_any_variant(std::string_view url, const form::Params& params, std::string_view signature,
                         std::string_view auth_token) {
  bool matched = false;
  for (const std::string& variant : url_variants(url)) {
    // No early exit: which variant matched is not secret, but there is no
    // reason to make the time depend on it either.
    matched = crypto::constant_time_equal(compute_signature(variant, params, auth_token), signature) || matched;
  }
  return matched;
}

}  // namespace

std::optional<std::string_view> body_hash_param(std::string_view url) {
  const size_t question = url.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = url.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view segment = query.substr(0, amp);
    const size_t equals = segment.find('=');
    if (equals != std::string_view::npos && segment.substr(0, equals) == kBodyHashParam) {
      return segment.substr(equals + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}


std::string_view to_string(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::Ok: return "ok";
    case SignatureCheck::Missing: return "missing";
    case SignatureCheck::Mismatch: return "mismatch";
    case SignatureCheck::BodyHashMismatch: return "body_hash_mismatch";
  }
  return "unknown";
}

std::string compute_signature(std::string_view url, const form::Params& params, std::string_view auth_token) {
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  pairs.reserve(params.size());
  for (const form::Param& param : params.items()) pairs.emplace_back(param.name, param.value);
  // std::string_view compares as unsigned bytes, which is the order Twilio uses.
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());

  std::string message(url);
  for (const auto& [name, value] : pairs) {
    message += name;
    message += value;
  }
  return crypto::base64(crypto::hmac_sha1(auth_token, message));
}

std::vector<std::string> url_variants(std::string_view url) {
  std::vector<std::string> variants{std::string(url)};
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return variants;
  const size_t authority_begin = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  const std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  // User info may itself contain ':' (user:pass@), so the port is looked for
  // after the last '@' only.
  const size_t at = authority.rfind('@');
  const size_t host_begin = at == std::string_view::npos ? 0 : at + 1;
  const std::string_view host_port = authority.substr(host_begin);
  size_t colon = std::string_view::npos;
  if (!host_port.empty() && host_port.front() == '[') {  // IPv6 literal: [::1]:8443
    const size_t close = host_port.find(']');
    if (close != std::string_view::npos && close + 1 < host_port.size() && host_port[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = host_port.find(':');
  }

  std::string other;
  if (colon != std::string_view::npos) {
    const size_t port_begin = authority_begin + host_begin + colon;
    other = std::string(url.substr(0, port_begin)) + std::string(url.substr(authority_end));
  } else {
    std::string scheme(url.substr(0, scheme_end));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    const std::string_view port = scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
    if (!port.empty()) {
      other = std::string(url.substr(0, authority_end)) + std::string(port) + std::string(url.substr(authority_end));
    }
  }
  if (!other.empty() && other != url) variants.push_back(std::move(other));
  return variants;
}

SignatureCheck check_signature(const SignedRequest& request, std::string_view auth_token) {
  if (request.signature.empty()) return SignatureCheck::Missing;

  if (const std::optional<std::string_view> body_hash = body_hash_param(request.url)) {
    // JSON body: Twilio signs the URL alone and vouches for the body through
    // the hash in it, so the hash is only meaningful once the URL is authentic.
    if (!matches_any_variant(request.url, kNoParams, request.signature, auth_token)) {
      return SignatureCheck::Mismatch;
    }
    const std::optional<std::string> expected = crypto::unhex(*body_hash);
    if (!expected || !crypto::constant_time_equal(*expected, crypto::sha256(request.raw_body))) {
      return SignatureCheck::BodyHashMismatch;
    }
    return SignatureCheck::Ok;
  }

  const form::Params& params = request.params != nullptr ? *request.params : kNoParams;
  return matches_any_variant(request.url, params, request.signature, auth_token) ? SignatureCheck::Ok
                                                                                 : SignatureCheck::Mismatch;
}

std::string public_url(std::string_view configured_base, std::string_view scheme, std::string_view host,
                       std::string_view request_uri) {
  if (!configured_base.empty()) {
    // "https://gw.example.com/" + "/api/..." must not become "//api/...": a
    // doubled slash is a different URL as far as the signature is concerned.
    if (configured_base.back() == '/' && !request_uri.empty() && request_uri.front() == '/') {
      configured_base.remove_suffix(1);
    }
    std::string url(configured_base);
    url += request_uri;
    return url;
  }
  std::string url(scheme);
  url += "://";
  url += host;
  url += request_uri;
  return url;
}

}  // namespace wagate::twilio
