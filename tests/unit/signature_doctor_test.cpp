// signature_doctor_test.cpp — the doctor's verdicts: which URL and token matched, or what a proxy or rotation broke.
#include "wagate/signature_doctor.hpp"

#include <gtest/gtest.h>
#include <jansson.h>

#include <string>
#include <vector>

#include "wagate/crypto.hpp"
#include "wagate/form.hpp"
#include "wagate/json.hpp"
#include "wagate/twilio_signature.hpp"

namespace wagate::signature_doctor {
namespace {

constexpr char kVectorsPath[] = WAGATE_TEST_DATA_DIR "/twilio/signature-vectors.json";
constexpr std::string_view kStatusUrl = "https://gw.example.com/api/v1/whatsapp/status";
constexpr std::string_view kCurrent = "current-token-0123456789abcdef";
constexpr std::string_view kPrevious = "previous-token-0123456789abcdef";

form::Params status_params() {
  form::Params params;
  params.add("AccountSid", "AC0123456789abcdef0123456789abcdef");
  params.add("MessageSid", "SM0123456789abcdef0123456789abcdef");
  params.add("MessageStatus", "delivered");
  params.add("From", "whatsapp:+14155238886");
  params.add("To", "whatsapp:+15005550006");
  return params;
}

std::vector<Token> both_tokens() {
  return {{"current", Secret(std::string(kCurrent))}, {"previous", Secret(std::string(kPrevious))}};
}

// A request as Twilio would send it: the body of status_params(), signed
// over signed_url with token, arriving at (or seen by wagate as) url.
Request twilio_request(std::string_view url, std::string_view signed_url, std::string_view token,
                       std::string_view public_base_url = {}) {
  const form::Params params = status_params();
  return {.url = std::string(url),
          .raw_body = form::build(params),
          .signature = twilio::compute_signature(signed_url, params, token),
          .tokens = both_tokens(),
          .public_base_url = std::string(public_base_url)};
}

std::string matched_url(const Diagnosis& d) { return d.attempt ? d.attempts[*d.attempt].url : std::string(); }

// Whatever the verdict, the report must be safe to paste into a ticket.
void expect_no_secrets(const Request& request, const Diagnosis& d) {
  const std::string text = report(d);
  for (const Token& token : request.tokens) EXPECT_EQ(text.find(token.value.reveal()), std::string::npos);
  EXPECT_EQ(text.find(request.signature), std::string::npos);
}

TEST(SignatureDoctor, MatchesWithCurrentToken) {
  const Request request = twilio_request(kStatusUrl, kStatusUrl, kCurrent);
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::Matches);
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(matched_url(d), kStatusUrl);
  EXPECT_EQ(d.attempts[*d.attempt].source, Source::Given);
  EXPECT_EQ(d.token, 0U);
  EXPECT_NE(d.explanation.find("current token"), std::string::npos) << d.explanation;
  const std::string text = report(d);
  EXPECT_NE(text.find("[current: MATCH, previous: no] " + std::string(kStatusUrl)), std::string::npos) << text;
  EXPECT_NE(text.find("MessageStatus = delivered"), std::string::npos) << text;
  expect_no_secrets(request, d);
}

TEST(SignatureDoctor, MatchesOnlyWithPreviousTokenSaysRotationIsUnfinished) {
  const Request request = twilio_request(kStatusUrl, kStatusUrl, kPrevious);
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::MatchesPrevious);
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.token, 1U);
  EXPECT_NE(d.explanation.find("previous token"), std::string::npos) << d.explanation;
  EXPECT_NE(d.explanation.find("rotation is not finished at Twilio's side"), std::string::npos) << d.explanation;
  expect_no_secrets(request, d);
}

TEST(SignatureDoctor, MatchesOnlyOnThePortVariantHandlersAccept) {
  // Twilio signed without the port; wagate saw :443 in the Host header.
  const Request request = twilio_request("https://gw.example.com:443/api/v1/whatsapp/status", kStatusUrl, kCurrent);
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::Matches);
  EXPECT_EQ(matched_url(d), kStatusUrl);
  EXPECT_EQ(d.attempts[*d.attempt].source, Source::GivenPortVariant);
  EXPECT_TRUE(d.attempts[*d.attempt].checked_by_handlers);
  EXPECT_FALSE(d.attempts.front().matches[0]) << "the URL as given must not match";
}

TEST(SignatureDoctor, SchemeSwapNamesTheSchemeAndIsNeverAccepted) {
  // TLS ends at a load balancer that talks to nginx in plain HTTP and
  // Twilio's URL is http://: wagate rebuilt https:// (or the reverse).
  const std::string http_url = "http://gw.example.com/api/v1/whatsapp/status";
  const Request request = twilio_request(kStatusUrl, http_url, kCurrent);
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::Scheme);
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(matched_url(d), http_url);
  EXPECT_FALSE(d.attempts[*d.attempt].checked_by_handlers);
  EXPECT_NE(d.explanation.find("scheme"), std::string::npos) << d.explanation;
  EXPECT_NE(d.explanation.find("public_base_url to 'http://gw.example.com'"), std::string::npos) << d.explanation;

  // The guess is a diagnosis only: the real check still refuses.
  const form::Params params = status_params();
  for (const Token& token : request.tokens) {
    EXPECT_EQ(twilio::check_signature({request.url, &params, request.raw_body, request.signature},
                                      token.value.reveal()),
              twilio::SignatureCheck::Mismatch);
  }
}

TEST(SignatureDoctor, AnotherPortIsNamed) {
  // A port mapping 443 -> 8443: wagate sees :8443, Twilio signed :443.
  const Diagnosis mapped = diagnose(twilio_request("https://gw.example.com:8443/api/v1/whatsapp/status",
                                                   "https://gw.example.com:443/api/v1/whatsapp/status", kCurrent));
  EXPECT_EQ(mapped.verdict, Verdict::Port);
  EXPECT_FALSE(mapped.accepted());
  EXPECT_EQ(matched_url(mapped), "https://gw.example.com:443/api/v1/whatsapp/status");
  EXPECT_NE(mapped.explanation.find("port"), std::string::npos) << mapped.explanation;

  // A load balancer on :8443 that drops the port from the Host header.
  const Diagnosis dropped =
      diagnose(twilio_request(kStatusUrl, "https://gw.example.com:8443/api/v1/whatsapp/status", kCurrent));
  EXPECT_EQ(dropped.verdict, Verdict::Port);
  EXPECT_EQ(matched_url(dropped), "https://gw.example.com:8443/api/v1/whatsapp/status");
  EXPECT_NE(dropped.explanation.find("public_base_url to 'https://gw.example.com:8443'"), std::string::npos)
      << dropped.explanation;
}

TEST(SignatureDoctor, WrongTokenEntirely) {
  const Request request = twilio_request(kStatusUrl, kStatusUrl, "some-other-accounts-token");
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::NoTokenMatches);
  EXPECT_FALSE(d.accepted());
  EXPECT_FALSE(d.attempt.has_value());
  for (const Attempt& attempt : d.attempts) {
    for (const bool match : attempt.matches) EXPECT_FALSE(match) << attempt.url;
  }
  EXPECT_NE(d.explanation.find("another account's auth token"), std::string::npos) << d.explanation;
  EXPECT_NE(d.explanation.find("set-token"), std::string::npos) << d.explanation;
  expect_no_secrets(request, d);
}

TEST(SignatureDoctor, BodyHashMismatch) {
  const std::string sent_body = R"({"MessageSid":"SM0123","MessageStatus":"delivered"})";
  const std::string url = std::string(kStatusUrl) + "?bodySHA256=" + crypto::hex(crypto::sha256(sent_body));
  Request request{.url = url,
                  .raw_body = sent_body,
                  .signature = twilio::compute_signature(url, {}, kCurrent),
                  .tokens = both_tokens(),
                  .public_base_url = {}};
  const Diagnosis intact = diagnose(request);
  EXPECT_EQ(intact.verdict, Verdict::Matches);
  ASSERT_TRUE(intact.body_hash.has_value());
  EXPECT_TRUE(intact.body_hash->matches);

  request.raw_body = R"({"MessageSid":"SM0123","MessageStatus":"read"})";
  const Diagnosis altered = diagnose(request);
  EXPECT_EQ(altered.verdict, Verdict::BodyHashMismatch);
  EXPECT_FALSE(altered.accepted());
  ASSERT_TRUE(altered.body_hash.has_value());
  EXPECT_FALSE(altered.body_hash->matches);
  EXPECT_EQ(altered.body_hash->actual, crypto::hex(crypto::sha256(request.raw_body)));
  EXPECT_NE(report(altered).find("(DOES NOT MATCH)"), std::string::npos);
}

TEST(SignatureDoctor, GivenUrlMatchesButPublicBaseUrlRebuildsAnother) {
  const std::string twilio_url = "https://hooks.example.com/api/v1/whatsapp/status?x=1";
  const Request request = twilio_request(twilio_url, twilio_url, kCurrent, "https://gw.example.com");
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.rebuilt_url, "https://gw.example.com/api/v1/whatsapp/status?x=1");
  EXPECT_EQ(d.verdict, Verdict::PublicBaseUrl);
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(d.explanation.find("public_base_url to 'https://hooks.example.com'"), std::string::npos)
      << d.explanation;
  const std::string text = report(d);
  EXPECT_NE(text.find(twilio_url), std::string::npos);
  EXPECT_NE(text.find(d.rebuilt_url), std::string::npos);

  // With the base Twilio uses, the URL it rebuilds is the one signed.
  const Diagnosis fixed = diagnose(twilio_request(twilio_url, twilio_url, kCurrent, "https://hooks.example.com"));
  EXPECT_EQ(fixed.verdict, Verdict::Matches);
  EXPECT_EQ(fixed.attempts[*fixed.attempt].source, Source::Rebuilt);
}

TEST(SignatureDoctor, TrailingSlash) {
  const Diagnosis d = diagnose(twilio_request(kStatusUrl, std::string(kStatusUrl) + "/", kCurrent));
  EXPECT_EQ(d.verdict, Verdict::TrailingSlash);
  EXPECT_FALSE(d.accepted());
}

TEST(SignatureDoctor, NewlineAtTheEndOfTheBodyGivenIsPointedOut) {
  Request request = twilio_request(kStatusUrl, kStatusUrl, kCurrent);
  request.raw_body += "\n";  // the file an editor saved
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::BodyNewline);
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(report(d).find("+15005550006\\n"), std::string::npos) << "the newline is shown escaped";
}

TEST(SignatureDoctor, MalformedBodyIsNotASignatureProblem) {
  Request request = twilio_request(kStatusUrl, kStatusUrl, kCurrent);
  request.raw_body = "AccountSid=AC%zz";
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::MalformedBody);
  EXPECT_FALSE(d.accepted());
  EXPECT_NE(d.explanation.find("malformed_body"), std::string::npos);
}

TEST(SignatureDoctor, LongValuesAreCutAndControlBytesEscaped) {
  form::Params params = status_params();
  params.add("Body", std::string(500, 'x') + "\x01");
  const Request request{.url = std::string(kStatusUrl),
                        .raw_body = form::build(params),
                        .signature = twilio::compute_signature(kStatusUrl, params, kCurrent),
                        .tokens = both_tokens(),
                        .public_base_url = {}};
  const Diagnosis d = diagnose(request);
  EXPECT_EQ(d.verdict, Verdict::Matches);
  const std::string text = report(d);
  EXPECT_NE(text.find("Body = " + std::string(64, 'x') + "... (501 bytes)"), std::string::npos) << text;
  EXPECT_EQ(text.find(std::string(65, 'x')), std::string::npos);
}

// The doctor accepts exactly what the handlers' check accepts, over every
// official vector.
TEST(SignatureDoctor, AgreesWithTheOfficialVectors) {
  json_error_t error;
  const json::Value vectors(json_load_file(kVectorsPath, 0, &error));
  ASSERT_NE(vectors, nullptr) << kVectorsPath << ": " << error.text;
  ASSERT_TRUE(json_is_array(vectors.get()));
  for (size_t i = 0; i < json_array_size(vectors.get()); ++i) {
    const json_t* vector = json_array_get(vectors.get(), i);
    const char* name = json_string_value(json_object_get(vector, "name"));
    form::Params params;
    const char* key = nullptr;
    json_t* value = nullptr;
    json_object_foreach(json_object_get(vector, "params"), key, value) {
      if (json_is_array(value)) {
        for (size_t k = 0; k < json_array_size(value); ++k) params.add(key, json_string_value(json_array_get(value, k)));
      } else {
        params.add(key, json_string_value(value));
      }
    }
    const json_t* body = json_object_get(vector, "body");
    const Request request{
        .url = json_string_value(json_object_get(vector, "url")),
        .raw_body = body != nullptr ? std::string(json_string_value(body)) : form::build(params),
        .signature = json_string_value(json_object_get(vector, "signature")),
        .tokens = {{"current", Secret(json_string_value(json_object_get(vector, "auth_token")))}},
        .public_base_url = {}};
    EXPECT_EQ(diagnose(request).accepted(), json_is_true(json_object_get(vector, "valid"))) << name;
  }
}

}  // namespace
}  // namespace wagate::signature_doctor
