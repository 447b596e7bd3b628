// signature_doctor.cpp — why an X-Twilio-Signature did not match: every URL and token tried, and the likely cause.
#include "wagate/signature_doctor.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "wagate/crypto.hpp"
#include "wagate/form.hpp"
#include "wagate/twilio_signature.hpp"

namespace wagate::signature_doctor {
namespace {

// Parameter values longer than this are cut in the report: a Body can be
// 1600 characters and says nothing about the signature.
constexpr size_t kMaxShownValue = 64;

// Ports a load balancer or port mapping commonly puts in front of nginx,
// besides the scheme's default. Guesses only: the report never claims Twilio
// used one unless it matches.
constexpr std::string_view kCommonPorts[] = {"8443", "8080"};

struct UrlParts {
  std::string scheme;    // as written
  std::string userinfo;  // "user:pass@" or empty
  std::string host;      // an IPv6 literal keeps its brackets
  std::optional<std::string> port;
  std::string rest;  // path, query and fragment

  [[nodiscard]] std::string origin() const {
    return scheme + "://" + host + (port ? ":" + *port : std::string());
  }
  [[nodiscard]] std::string join() const {
    return scheme + "://" + userinfo + host + (port ? ":" + *port : std::string()) + rest;
  }
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

std::string_view default_port(std::string_view scheme) {
  const std::string lowered = lower(scheme);
  return lowered == "https" ? "443" : lowered == "http" ? "80" : "";
}

// Splits the way twilio::url_variants does (port after the last '@', IPv6
// literals in brackets), so a guess differs from the given URL only where
// it means to.
std::optional<UrlParts> split_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return std::nullopt;
  UrlParts parts;
  parts.scheme = std::string(url.substr(0, scheme_end));
  const size_t authority_begin = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  parts.rest = std::string(url.substr(authority_end));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    parts.userinfo = std::string(authority.substr(0, at + 1));
    authority.remove_prefix(at + 1);
  }
  size_t colon = std::string_view::npos;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close != std::string_view::npos && close + 1 < authority.size() && authority[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
  }
  parts.host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) parts.port = std::string(authority.substr(colon + 1));
  if (parts.host.empty()) return std::nullopt;
  return parts;
}

// What handlers check when public_base_url is set: the base + the raw
// request URI nginx saw. A fragment never reaches nginx. When the base has a
// path prefix and the given URL starts with it, the given URL is taken to
// be the public one and the prefix is not counted twice.
std::string rebuild(std::string_view base, std::string_view given_url) {
  std::string request_uri(given_url);
  if (const std::optional<UrlParts> parts = split_url(given_url)) request_uri = parts->rest;
  request_uri = request_uri.substr(0, request_uri.find('#'));
  if (const std::optional<UrlParts> base_parts = split_url(base)) {
    std::string prefix = base_parts->rest;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty() && request_uri.starts_with(prefix) &&
        (request_uri.size() == prefix.size() || std::string_view("/?").find(request_uri[prefix.size()]) !=
                                                    std::string_view::npos)) {
      request_uri.erase(0, prefix.size());
    }
  }
  if (request_uri.empty()) request_uri = "/";
  return twilio::public_url(base, "", "", request_uri);
}

std::vector<std::pair<std::string, std::string>> signed_pairs(const form::Params& params) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(params.size());
  for (const form::Param& param : params.items()) pairs.emplace_back(param.name, param.value);
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

// Collects attempts, each (URL, body) once, in the order they are added:
// that order is the order of preference when naming a cause.
class Trials {
 public:
  Trials(const Request& request, std::vector<Attempt>& attempts) : request_(request), attempts_(attempts) {}

  void add(std::string url, Source source, bool checked_by_handlers, const form::Params& params) {
    const bool other_body = source == Source::BodyWithoutNewline;
    if (!seen_.emplace(url, other_body).second) return;
    Attempt attempt{std::move(url), source, checked_by_handlers, {}};
    for (const Token& token : request_.tokens) {
      attempt.matches.push_back(crypto::constant_time_equal(
          twilio::compute_signature(attempt.url, params, token.value.reveal()), request_.signature));
    }
    attempts_.push_back(std::move(attempt));
  }

  // The URL and its port variants: the first is `source`, the others `variant_source`.
  void add_variants(const std::string& url, Source source, Source variant_source, bool checked_by_handlers,
                    const form::Params& params) {
    bool first = true;
    for (std::string& variant : twilio::url_variants(url)) {
      add(std::move(variant), first ? source : variant_source, checked_by_handlers, params);
      first = false;
    }
  }

 private:
  const Request& request_;
  std::vector<Attempt>& attempts_;
  std::set<std::pair<std::string, bool>> seen_;
};

void add_guesses(Trials& trials, const UrlParts& given, std::string_view public_base_url, const form::Params& params) {
  UrlParts swapped = given;
  const std::string scheme = lower(given.scheme);
  if (scheme == "https" || scheme == "http") {
    swapped.scheme = scheme == "https" ? "http" : "https";
    trials.add_variants(swapped.join(), Source::SchemeSwapped, Source::SchemeSwapped, false, params);
  }

  std::vector<std::string> ports;
  if (const std::string_view port = default_port(given.scheme); !port.empty()) ports.emplace_back(port);
  if (const std::optional<UrlParts> base = split_url(public_base_url); base && base->port) ports.push_back(*base->port);
  for (const std::string_view port : kCommonPorts) ports.emplace_back(port);
  for (const std::string& port : ports) {
    if (given.port == port) continue;
    UrlParts moved = given;
    moved.port = port;
    trials.add(moved.join(), Source::OtherPort, false, params);
  }

  UrlParts slashed = given;
  const size_t path_end = std::min(slashed.rest.find_first_of("?#"), slashed.rest.size());
  if (path_end > 1 && slashed.rest[path_end - 1] == '/') {
    slashed.rest.erase(path_end - 1, 1);
  } else {
    slashed.rest.insert(path_end, "/");
  }
  trials.add_variants(slashed.join(), Source::TrailingSlash, Source::TrailingSlash, false, params);
}

// The first attempt (in preference order) matching any token, restricted by `pick`.
template <typename Pick>
std::optional<std::pair<size_t, size_t>> first_match(const std::vector<Attempt>& attempts, Pick pick) {
  for (size_t a = 0; a < attempts.size(); ++a) {
    if (!pick(attempts[a])) continue;
    for (size_t t = 0; t < attempts[a].matches.size(); ++t) {
      if (attempts[a].matches[t]) return std::pair{a, t};
    }
  }
  return std::nullopt;
}

std::string suggested_base(std::string_view url) {
  const std::optional<UrlParts> parts = split_url(url);
  return parts ? parts->origin() : std::string(url);
}

std::string explain(const Diagnosis& d) {
  const auto attempt_url = [&]() -> const std::string& { return d.attempts[*d.attempt].url; };
  const auto token_name = [&]() -> std::string { return d.token_names[*d.token]; };
  const std::string checked = d.rebuilt_url.empty() ? d.given_url : d.rebuilt_url;
  const std::string fix_base =
      "set public_base_url to '" + (d.attempt ? suggested_base(attempt_url()) : std::string()) + "'" +
      (d.public_base_url.empty() ? std::string(" (it is not set)") : " (it is '" + d.public_base_url + "')");
  // Without public_base_url the doctor cannot know the Host header nginx
  // saw, so a match proves only that the URL given was signed.
  const std::string_view unless_other_url =
      d.public_base_url.empty() ? " If wagate refused it anyway, it checked another URL (public_base_url is not set: "
                                  "run the doctor with the url= of wagate's webhook_rejected log line)."
                                : "";
  std::ostringstream out;
  switch (d.verdict) {
    case Verdict::Matches:
      out << "matches " << attempt_url() << " (" << to_string(d.attempts[*d.attempt].source)
          << ") with the current token: wagate accepts this request." << unless_other_url;
      break;
    case Verdict::MatchesPrevious:
      out << "matches " << attempt_url() << " (" << to_string(d.attempts[*d.attempt].source)
          << ") with the previous token only: wagate accepts it, but the rotation is not finished at Twilio's "
             "side. Twilio still signs with the old token: change the auth token in Twilio's console before "
             "'wagate-admin tenant drop-previous-token', or these requests will be refused."
          << unless_other_url;
      break;
    case Verdict::PublicBaseUrl:
      out << "the signature matches the URL given, " << attempt_url() << " (" << token_name()
          << " token), but wagate checks " << d.rebuilt_url << ", built from public_base_url: " << fix_base << ".";
      break;
    case Verdict::BodyHashMismatch:
      out << "the signature over " << attempt_url() << " matches (" << token_name()
          << " token), but the SHA-256 of the body is not the bodySHA256 in the URL: the body was changed on the "
             "way, or the body given is not byte for byte the one Twilio sent.";
      break;
    case Verdict::MalformedBody:
      out << "the body does not parse as a form body (" << d.body_error
          << "): wagate answers 400 malformed_body before it checks any signature. Give the raw POST body "
             "exactly as sent, or a URL with bodySHA256 for a JSON body.";
      break;
    case Verdict::Scheme:
      out << "no URL wagate checks matches, but " << attempt_url() << " does (" << token_name()
          << " token): Twilio signed " << split_url(attempt_url())->scheme << "://, wagate checks " << checked
          << ". Something in front of nginx changes the scheme (TLS ended or added at a load balancer): "
          << fix_base << ". wagate takes the scheme from nginx, it does not read X-Forwarded-Proto.";
      break;
    case Verdict::Port:
      out << "no URL wagate checks matches, but " << attempt_url() << " does (" << token_name()
          << " token): Twilio signed another port than the one in " << checked
          << ". A load balancer or port mapping changes the port (or drops it from the Host header): " << fix_base
          << ".";
      break;
    case Verdict::TrailingSlash:
      out << "no URL wagate checks matches, but " << attempt_url() << " does (" << token_name()
          << " token): the URLs differ by a '/' at the end of the path. Make the webhook URL in Twilio's console "
             "exactly the route, or stop the proxy from rewriting the path; if the URL given was typed by hand, "
             "copy it from Twilio's debugger instead.";
      break;
    case Verdict::BodyNewline:
      out << "the signature matches " << attempt_url() << " (" << token_name()
          << " token) once the line ending at the end of the body given is removed: Twilio did not send it. "
             "Give the body byte for byte (printf '%s', not echo; no newline added by an editor).";
      break;
    case Verdict::NoTokenMatches:
      out << "no token of this tenant (" << d.token_names.size()
          << (d.token_names.size() == 1 ? " token" : " tokens")
          << ") matches any URL tried. Either the request was signed with another account's auth token, or "
             "the token was changed in Twilio's console but not in wagate ('wagate-admin tenant set-token'). "
             "Also check that the URL given is exactly the one Twilio requested";
      if (d.public_base_url.empty()) {
        out << " (public_base_url is not set: wagate checks the scheme nginx saw and the Host header as "
               "received; the url= of wagate's webhook_rejected log line is what it checked, Twilio's debugger "
               "shows what Twilio requested)";
      }
      out << ", and that the body is byte for byte what Twilio posted.";
      break;
  }
  return out.str();
}

// One line per value, whatever it holds: control bytes are escaped and a
// long value is cut at a UTF-8 character boundary.
std::string shown_value(std::string_view value) {
  std::string_view shown = value;
  if (value.size() > kMaxShownValue) {
    size_t cut = kMaxShownValue;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0U) == 0x80U) --cut;
    shown = value.substr(0, cut);
  }
  std::string out;
  constexpr char kHex[] = "0123456789abcdef";
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      out += "\\x";
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    } else {
      out += c;
    }
  }
  if (shown.size() < value.size()) out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

}  // namespace

std::string_view to_string(Source source) {
  switch (source) {
    case Source::Given: return "as given";
    case Source::GivenPortVariant: return "as given, port removed or default port added";
    case Source::Rebuilt: return "public_base_url + request URI";
    case Source::RebuiltPortVariant: return "public_base_url + request URI, port removed or default port added";
    case Source::SchemeSwapped: return "scheme swapped";
    case Source::OtherPort: return "another port";
    case Source::TrailingSlash: return "trailing slash added or removed";
    case Source::BodyWithoutNewline: return "body without its final line ending";
  }
  return "unknown";
}

Diagnosis diagnose(const Request& request) {
  Diagnosis d;
  d.given_url = request.url;
  d.public_base_url = request.public_base_url;
  for (const Token& token : request.tokens) d.token_names.push_back(token.name);

  form::Params params;
  if (const std::optional<std::string_view> expected = twilio::body_hash_param(request.url)) {
    // JSON body: the signature covers the URL alone, the hash vouches for the body.
    const std::string actual = crypto::sha256(request.raw_body);
    const std::optional<std::string> expected_bytes = crypto::unhex(*expected);
    d.body_hash = BodyHash{std::string(*expected), crypto::hex(actual),
                           expected_bytes && crypto::constant_time_equal(*expected_bytes, actual)};
  } else {
    form::ParseResult parsed = form::parse(request.raw_body);
    if (parsed.ok()) {
      params = std::move(parsed.params);
    } else {
      d.body_error = parsed.error;
    }
  }
  d.params = signed_pairs(params);

  Trials trials(request, d.attempts);
  if (!request.public_base_url.empty()) {
    d.rebuilt_url = rebuild(request.public_base_url, request.url);
    trials.add_variants(d.rebuilt_url, Source::Rebuilt, Source::RebuiltPortVariant, true, params);
  }
  const bool given_checked = request.public_base_url.empty();
  trials.add_variants(request.url, Source::Given, Source::GivenPortVariant, given_checked, params);
  if (const std::optional<UrlParts> given = split_url(request.url)) {
    add_guesses(trials, *given, request.public_base_url, params);
  }
  if (!d.body_hash && d.body_error.empty() && request.raw_body.ends_with('\n')) {
    std::string_view trimmed = request.raw_body;
    trimmed.remove_suffix(trimmed.ends_with("\r\n") ? 2 : 1);
    const form::ParseResult reparsed = form::parse(trimmed);
    if (reparsed.ok()) {
      const std::string checked_url = d.rebuilt_url.empty() ? request.url : d.rebuilt_url;
      trials.add_variants(checked_url, Source::BodyWithoutNewline, Source::BodyWithoutNewline, false,
                          reparsed.params);
    }
  }

  // Whether handlers accept it is what twilio::check_signature says over the
  // URL they check, not what the attempts suggest.
  const std::string checked_url = d.rebuilt_url.empty() ? request.url : d.rebuilt_url;
  const twilio::SignedRequest signed_request{checked_url, &params, request.raw_body, request.signature};
  std::optional<size_t> accepted_token;
  bool body_hash_mismatch = false;
  for (size_t t = 0; t < request.tokens.size() && !accepted_token; ++t) {
    const twilio::SignatureCheck check = twilio::check_signature(signed_request, request.tokens[t].value.reveal());
    if (check == twilio::SignatureCheck::Ok) accepted_token = t;
    body_hash_mismatch = body_hash_mismatch || check == twilio::SignatureCheck::BodyHashMismatch;
  }

  const auto checked = [](const Attempt& a) { return a.checked_by_handlers; };
  const auto set = [&](Verdict verdict, std::optional<std::pair<size_t, size_t>> match) {
    d.verdict = verdict;
    if (match) {
      d.attempt = match->first;
      d.token = match->second;
    }
  };
  if (!d.body_error.empty()) {
    set(Verdict::MalformedBody, std::nullopt);
  } else if (accepted_token) {
    const auto match = first_match(d.attempts, [&](const Attempt& a) {
      return a.checked_by_handlers && a.matches[*accepted_token];
    });
    set(*accepted_token == 0 ? Verdict::Matches : Verdict::MatchesPrevious,
        match ? std::optional(std::pair{match->first, *accepted_token}) : std::nullopt);
  } else if (body_hash_mismatch) {
    set(Verdict::BodyHashMismatch, first_match(d.attempts, checked));
  } else if (const auto given = first_match(d.attempts, [](const Attempt& a) {
               return !a.checked_by_handlers && (a.source == Source::Given || a.source == Source::GivenPortVariant);
             })) {
    set(Verdict::PublicBaseUrl, given);
  } else if (const auto guess = first_match(d.attempts, [](const Attempt& a) { return !a.checked_by_handlers; })) {
    switch (d.attempts[guess->first].source) {
      case Source::SchemeSwapped: set(Verdict::Scheme, guess); break;
      case Source::OtherPort: set(Verdict::Port, guess); break;
      case Source::TrailingSlash: set(Verdict::TrailingSlash, guess); break;
      default: set(Verdict::BodyNewline, guess); break;
    }
  } else {
    set(Verdict::NoTokenMatches, std::nullopt);
  }
  // A match that check_signature and the attempts disagree on would be a bug
  // here, not in the request: say nothing rather than name a wrong URL.
  if (d.accepted() && !d.attempt) d.token = std::nullopt;
  d.explanation = d.accepted() && !d.attempt ? "wagate accepts this request." : explain(d);
  return d;
}

std::string report(const Diagnosis& d) {
  std::ostringstream out;
  out << "URL given:      " << d.given_url << '\n';
  if (!d.rebuilt_url.empty()) {
    out << "wagate checks:  " << d.rebuilt_url << "  (public_base_url = " << d.public_base_url << ")\n";
    if (d.rebuilt_url != d.given_url) {
      out << "                (differs from the URL given: the signature must be over the URL wagate checks)\n";
    }
  } else {
    out << "wagate checks:  the URL given, if it is the one in wagate's log line (public_base_url is not set:\n"
        << "                handlers use the scheme nginx saw and the Host header as received)\n";
  }

  if (d.body_hash) {
    out << "body:           JSON (bodySHA256 in the URL), signature over the URL alone\n"
        << "  bodySHA256 in the URL:      " << d.body_hash->expected << '\n'
        << "  SHA-256 of the body given:  " << d.body_hash->actual << "  "
        << (d.body_hash->matches ? "(matches)" : "(DOES NOT MATCH)") << '\n';
  } else if (!d.body_error.empty()) {
    out << "body:           does not parse as a form body: " << d.body_error << '\n';
  } else {
    out << "body:           form, " << d.params.size() << " signed parameters in the order signed:\n";
    for (const auto& [name, value] : d.params) out << "  " << shown_value(name) << " = " << shown_value(value) << '\n';
  }

  out << "\nURLs tried with each token:\n";
  bool guesses_started = false;
  for (size_t a = 0; a < d.attempts.size(); ++a) {
    const Attempt& attempt = d.attempts[a];
    if (a == 0) out << "  checked by wagate:\n";
    if (!attempt.checked_by_handlers && !guesses_started) {
      out << "  diagnostics only (wagate never accepts these):\n";
      guesses_started = true;
    }
    out << "    [";
    for (size_t t = 0; t < attempt.matches.size(); ++t) {
      out << (t > 0 ? ", " : "") << d.token_names[t] << ": " << (attempt.matches[t] ? "MATCH" : "no");
    }
    out << "] " << attempt.url << "  (" << to_string(attempt.source) << ")\n";
  }
  out << "\nverdict: " << d.explanation << '\n';
  return out.str();
}

}  // namespace wagate::signature_doctor
