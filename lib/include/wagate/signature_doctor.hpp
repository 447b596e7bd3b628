// signature_doctor.hpp — why an X-Twilio-Signature did not match: every URL and token tried, and the likely cause.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagate/secret.hpp"

namespace wagate::signature_doctor {

struct Token {
  std::string name;  // "current", "previous": all a report ever says about a token
  Secret value;
};

struct Request {
  std::string url;              // the public URL Twilio requested, as the operator saw it
  std::string raw_body;         // the POST body byte for byte: a form body, or JSON when url carries bodySHA256
  std::string signature;        // the X-Twilio-Signature Twilio sent
  std::vector<Token> tokens;    // the tenant's, current first
  std::string public_base_url;  // as configured; empty when handlers use nginx's scheme and the Host header
};

// Where a URL that was tried comes from. Only the URLs handlers check
// (Attempt::checked_by_handlers) can make a request acceptable; the others
// are guesses at what a proxy changed and exist only to name the cause.
enum class Source {
  Given,               // the URL as given
  GivenPortVariant,    // the given URL with its port removed or the default port added (url_variants)
  Rebuilt,             // public_base_url + the given URL's request URI: what handlers check when it is set
  RebuiltPortVariant,  // the same with its port removed or the default port added
  SchemeSwapped,       // http <-> https, with and without ports
  OtherPort,           // the scheme's default port or a commonly mapped one instead of the given port
  TrailingSlash,       // the path with a trailing '/' added or removed
  BodyWithoutNewline,  // a URL handlers check, over the body without the line ending it was given with
};

// "as given", "port removed or default port added", "scheme swapped", ...
[[nodiscard]] std::string_view to_string(Source source);

struct Attempt {
  std::string url;
  Source source = Source::Given;
  bool checked_by_handlers = false;
  std::vector<bool> matches;  // one per Request::tokens, in that order
};

enum class Verdict {
  Matches,           // handlers accept it with the current token
  MatchesPrevious,   // handlers accept it with the previous token only: Twilio still signs with the old one
  PublicBaseUrl,     // the given URL matches, but handlers check the one public_base_url makes
  BodyHashMismatch,  // the URL matches, the body is not the one bodySHA256 was computed over
  MalformedBody,     // handlers answer 400 malformed_body before any signature is checked
  Scheme,            // would match with http and https swapped
  Port,              // would match with another port
  TrailingSlash,     // would match with a '/' more or less at the end of the path
  BodyNewline,       // would match without the line ending at the end of the body given
  NoTokenMatches,    // nothing tried matches: another account's token, or a token wagate does not have
};

struct BodyHash {
  std::string expected;  // the bodySHA256 in the URL's query, as sent
  std::string actual;    // lowercase hex SHA-256 of the body given
  bool matches = false;
};

struct Diagnosis {
  std::vector<std::string> token_names;                     // Request::tokens' names, in order
  std::vector<std::pair<std::string, std::string>> params;  // signed parameters: sorted, de-duplicated, decoded
  std::string body_error;                                   // why the form body does not parse; empty when it does
  std::optional<BodyHash> body_hash;                        // set when the URL carries bodySHA256
  std::string given_url;
  std::string public_base_url;
  std::string rebuilt_url;  // what handlers check when public_base_url is set; empty when it is not
  std::vector<Attempt> attempts;
  Verdict verdict = Verdict::NoTokenMatches;
  std::optional<size_t> attempt;  // the attempt the verdict is about
  std::optional<size_t> token;    // and the token it matched with
  std::string explanation;        // one paragraph: what matched or what is likely wrong, and what to do

  // True when handlers would accept the request: the exit status is 0.
  [[nodiscard]] bool accepted() const { return verdict == Verdict::Matches || verdict == Verdict::MatchesPrevious; }
};

// Tries the signature against every URL handlers check and against the
// diagnostic guesses, with every token. What is accepted agrees with
// twilio::check_signature by construction: it decides accepted().
[[nodiscard]] Diagnosis diagnose(const Request& request);

// The plain-text report: URLs, parameters (long values cut short, control
// characters escaped), each URL with each token by name, the body hash and
// the verdict. Never a token, nor a signature.
[[nodiscard]] std::string report(const Diagnosis& diagnosis);

}  // namespace wagate::signature_doctor
