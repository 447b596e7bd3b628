// twilio_signature_test.cpp — X-Twilio-Signature against the official vectors, URL variants, body hashes, public URLs.
#include "wagate/twilio_signature.hpp"

#include <gtest/gtest.h>
#include <jansson.h>

#include <string>
#include <vector>

#include "wagate/crypto.hpp"
#include "wagate/json.hpp"

namespace wagate::twilio {
namespace {

constexpr char kVectorsPath[] = WAGATE_TEST_DATA_DIR "/twilio/signature-vectors.json";
constexpr size_t kOfficialVectors = 29;

std::string string_member(const json_t* object, const char* key) {
  const json_t* member = json_object_get(object, key);
  return json_is_string(member) ? std::string(json_string_value(member), json_string_length(member)) : std::string();
}

// Every vector must give Ok exactly when it is marked valid: these are what
// Twilio's own validators accept and refuse.
TEST(Signature, OfficialVectors) {
  json_error_t error;
  const json::Value vectors(json_load_file(kVectorsPath, 0, &error));
  ASSERT_NE(vectors, nullptr) << kVectorsPath << ": " << error.text;
  ASSERT_TRUE(json_is_array(vectors.get()));
  ASSERT_GE(json_array_size(vectors.get()), kOfficialVectors) << "signature vectors are missing from " << kVectorsPath;

  size_t checked = 0;
  for (size_t i = 0; i < json_array_size(vectors.get()); ++i) {
    const json_t* vector = json_array_get(vectors.get(), i);
    const std::string name = string_member(vector, "name");
    const json_t* valid = json_object_get(vector, "valid");
    const json_t* param_object = json_object_get(vector, "params");
    ASSERT_TRUE(json_is_boolean(valid)) << name;
    ASSERT_TRUE(json_is_object(param_object)) << name;

    form::Params params;
    const char* key = nullptr;
    const json_t* value = nullptr;
    json_object_foreach(const_cast<json_t*>(param_object), key, value) {
      if (json_is_array(value)) {
        for (size_t k = 0; k < json_array_size(value); ++k) {
          const json_t* item = json_array_get(value, k);
          ASSERT_TRUE(json_is_string(item)) << name;
          params.add(key, std::string(json_string_value(item), json_string_length(item)));
        }
      } else {
        ASSERT_TRUE(json_is_string(value)) << name;
        params.add(key, std::string(json_string_value(value), json_string_length(value)));
      }
    }

    const std::string url = string_member(vector, "url");
    const std::string body = string_member(vector, "body");
    const bool json_body = json_object_get(vector, "body") != nullptr;
    const std::string signature = string_member(vector, "signature");
    ASSERT_FALSE(url.empty()) << name;
    ASSERT_FALSE(signature.empty()) << name;
    const SignedRequest request{.url = url,
                                .params = json_body ? nullptr : &params,
                                .raw_body = json_body ? std::string_view(body) : std::string_view(),
                                .signature = signature};
    const SignatureCheck result = check_signature(request, string_member(vector, "auth_token"));
    if (json_is_true(valid)) {
      EXPECT_EQ(result, SignatureCheck::Ok) << name << ": " << to_string(result);
    } else {
      EXPECT_NE(result, SignatureCheck::Ok) << name;
    }
    ++checked;
  }
  EXPECT_GE(checked, kOfficialVectors);
}

form::Params call_params() {
  form::Params params;
  params.add("CallSid", "CA1234567890ABCDE");
  params.add("Caller", "+14158675309");
  params.add("Digits", "1234");
  params.add("From", "+14158675309");
  params.add("To", "+18005551212");
  return params;
}

constexpr std::string_view kUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";
constexpr std::string_view kToken = "12345";

TEST(Signature, ComputesTheDocumentedExample) {
  EXPECT_EQ(compute_signature(kUrl, call_params(), kToken), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST(Signature, SortsNamesByByteOrder) {
  form::Params params;
  params.add("callSid", "lowercase");
  params.add("\xc3\xa9t\xc3\xa9", "non-ascii");  // bytes >= 0x80 sort after every ASCII name
  params.add("CallSid", "uppercase");
  params.add("CALLSID", "allcaps");
  const std::string message =
      std::string(kUrl) + "CALLSIDallcapsCallSiduppercasecallSidlowercase\xc3\xa9t\xc3\xa9non-ascii";
  EXPECT_EQ(compute_signature(kUrl, params, kToken), crypto::base64(crypto::hmac_sha1(kToken, message)));
}

TEST(Signature, RepeatedNamesAreDeduplicatedAndSorted) {
  form::Params params;
  params.add("MediaUrl", "b");
  params.add("Body", "x");
  params.add("MediaUrl", "a");
  params.add("MediaUrl", "b");
  params.add("MediaUrl", "");
  const std::string message = std::string(kUrl) + "BodyxMediaUrlMediaUrlaMediaUrlb";
  EXPECT_EQ(compute_signature(kUrl, params, kToken), crypto::base64(crypto::hmac_sha1(kToken, message)));
}

TEST(Signature, MissingHeader) {
  const form::Params params = call_params();
  EXPECT_EQ(check_signature({.url = kUrl, .params = &params, .raw_body = "", .signature = ""}, kToken),
            SignatureCheck::Missing);
}

TEST(Signature, MismatchOnAnyChange) {
  const form::Params params = call_params();
  const std::string good = compute_signature(kUrl, params, kToken);
  EXPECT_EQ(check_signature({.url = kUrl, .params = &params, .raw_body = "", .signature = good}, kToken),
            SignatureCheck::Ok);
  form::Params altered = call_params();
  altered.add("Extra", "1");
  EXPECT_EQ(check_signature({.url = kUrl, .params = &altered, .raw_body = "", .signature = good}, kToken),
            SignatureCheck::Mismatch);
  EXPECT_EQ(check_signature({.url = kUrl, .params = &params, .raw_body = "", .signature = good}, "54321"),
            SignatureCheck::Mismatch);
  EXPECT_EQ(check_signature({.url = "https://mycompany.com/myapp.php?foo=1&bar=3",
                             .params = &params, .raw_body = "", .signature = good},
                            kToken),
            SignatureCheck::Mismatch);
  // Signatures are exact base64 strings: no whitespace or case folding.
  EXPECT_EQ(check_signature({.url = kUrl, .params = &params, .raw_body = "", .signature = good + " "}, kToken),
            SignatureCheck::Mismatch);
  EXPECT_EQ(check_signature({.url = kUrl, .params = &params, .raw_body = "", .signature = "x"}, kToken),
            SignatureCheck::Mismatch);
}

TEST(Signature, NullParamsMeansNoParams) {
  const form::Params none;
  const std::string signature = compute_signature(kUrl, none, kToken);
  EXPECT_EQ(check_signature({.url = kUrl, .params = nullptr, .raw_body = "", .signature = signature}, kToken),
            SignatureCheck::Ok);
}

constexpr std::string_view kJsonBody = R"({"property": "value", "boolean": true})";
constexpr std::string_view kJsonUrl =
    "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

TEST(Signature, JsonBodyHash) {
  const std::string signature = "y77kIzt2vzLz71DgmJGsen2scGs=";
  EXPECT_EQ(check_signature({.url = kJsonUrl, .params = nullptr, .raw_body = kJsonBody, .signature = signature}, kToken),
            SignatureCheck::Ok);
  // The URL is authentic but the body is not the one Twilio hashed.
  const std::string tampered = R"({"property": "value", "boolean": false})";
  EXPECT_EQ(check_signature({.url = kJsonUrl, .params = nullptr, .raw_body = tampered, .signature = signature}, kToken),
            SignatureCheck::BodyHashMismatch);
  EXPECT_EQ(check_signature({.url = kJsonUrl, .params = nullptr, .raw_body = "", .signature = signature}, kToken),
            SignatureCheck::BodyHashMismatch);
  // A wrong signature is a mismatch whatever the body.
  EXPECT_EQ(check_signature({.url = kJsonUrl, .params = nullptr, .raw_body = kJsonBody,
                             .signature = "a9nBmqA0ju/hNViExpshrM61xv4="},
                            kToken),
            SignatureCheck::Mismatch);
}

TEST(Signature, JsonBodyHashCoversUrlOnly) {
  // Parameters passed alongside a bodySHA256 URL are not part of what Twilio signed.
  const form::Params params = call_params();
  EXPECT_EQ(check_signature({.url = kJsonUrl, .params = &params, .raw_body = kJsonBody,
                             .signature = "y77kIzt2vzLz71DgmJGsen2scGs="},
                            kToken),
            SignatureCheck::Ok);
}

TEST(Signature, MalformedBodyHashIsAMismatchOfTheBody) {
  const std::string url = "https://gw.example.com/api/v1/whatsapp/status?bodySHA256=zz";
  const std::string signature = compute_signature(url, form::Params{}, kToken);
  EXPECT_EQ(check_signature({.url = url, .params = nullptr, .raw_body = "{}", .signature = signature}, kToken),
            SignatureCheck::BodyHashMismatch);
}

TEST(Signature, BodyHashOfAnotherParameterNameIsIgnored) {
  // "xbodySHA256" is not "bodySHA256": the request is a plain form request.
  const std::string url = "https://gw.example.com/s?xbodySHA256=00";
  const form::Params params = call_params();
  const std::string signature = compute_signature(url, params, kToken);
  EXPECT_EQ(check_signature({.url = url, .params = &params, .raw_body = "ignored", .signature = signature}, kToken),
            SignatureCheck::Ok);
}

TEST(Signature, UrlVariantsWithoutPort) {
  EXPECT_EQ(url_variants("https://mycompany.com/myapp.php?a=1:2"),
            (std::vector<std::string>{"https://mycompany.com/myapp.php?a=1:2",
                                      "https://mycompany.com:443/myapp.php?a=1:2"}));
  EXPECT_EQ(url_variants("http://mycompany.com"),
            (std::vector<std::string>{"http://mycompany.com", "http://mycompany.com:80"}));
  EXPECT_EQ(url_variants("HTTPS://mycompany.com?x"),
            (std::vector<std::string>{"HTTPS://mycompany.com?x", "HTTPS://mycompany.com:443?x"}));
}

TEST(Signature, UrlVariantsWithPort) {
  EXPECT_EQ(url_variants("https://mycompany.com:1234/myapp.php"),
            (std::vector<std::string>{"https://mycompany.com:1234/myapp.php", "https://mycompany.com/myapp.php"}));
  EXPECT_EQ(url_variants("https://mycompany.com:443//myapp.php"),
            (std::vector<std::string>{"https://mycompany.com:443//myapp.php", "https://mycompany.com//myapp.php"}));
  EXPECT_EQ(url_variants("https://[2001:db8::1]:8443/s"),
            (std::vector<std::string>{"https://[2001:db8::1]:8443/s", "https://[2001:db8::1]/s"}));
  EXPECT_EQ(url_variants("https://[2001:db8::1]/s"),
            (std::vector<std::string>{"https://[2001:db8::1]/s", "https://[2001:db8::1]:443/s"}));
}

TEST(Signature, UrlVariantsKeepCredentials) {
  EXPECT_EQ(url_variants("https://user:pass@mycompany.com/p"),
            (std::vector<std::string>{"https://user:pass@mycompany.com/p", "https://user:pass@mycompany.com:443/p"}));
  EXPECT_EQ(url_variants("https://user:pass@mycompany.com:8443/p"),
            (std::vector<std::string>{"https://user:pass@mycompany.com:8443/p", "https://user:pass@mycompany.com/p"}));
}

TEST(Signature, UrlVariantsOfOddInput) {
  EXPECT_EQ(url_variants("/relative/path"), (std::vector<std::string>{"/relative/path"}));
  EXPECT_EQ(url_variants("ftp://host/x"), (std::vector<std::string>{"ftp://host/x"}));
  EXPECT_EQ(url_variants(""), (std::vector<std::string>{""}));
}

TEST(Signature, AcceptsEachPortSpelling) {
  const form::Params params = call_params();
  const std::string with_port = compute_signature("https://gw.example.com:443/s", params, kToken);
  const std::string without_port = compute_signature("https://gw.example.com/s", params, kToken);
  const std::string odd_port = compute_signature("https://gw.example.com:8443/s", params, kToken);
  auto check = [&](std::string_view url, std::string_view signature) {
    return check_signature({.url = url, .params = &params, .raw_body = "", .signature = signature}, kToken);
  };
  EXPECT_EQ(check("https://gw.example.com/s", with_port), SignatureCheck::Ok);
  EXPECT_EQ(check("https://gw.example.com/s", without_port), SignatureCheck::Ok);
  EXPECT_EQ(check("https://gw.example.com:443/s", without_port), SignatureCheck::Ok);
  EXPECT_EQ(check("https://gw.example.com:8443/s", odd_port), SignatureCheck::Ok);
  EXPECT_EQ(check("https://gw.example.com:8443/s", without_port), SignatureCheck::Ok);
  // A port is only ever removed or defaulted, never swapped for another one.
  EXPECT_EQ(check("https://gw.example.com/s", odd_port), SignatureCheck::Mismatch);
  EXPECT_EQ(check("https://gw.example.com:8443/s", with_port), SignatureCheck::Mismatch);
}

TEST(Signature, ToString) {
  EXPECT_EQ(to_string(SignatureCheck::Ok), "ok");
  EXPECT_EQ(to_string(SignatureCheck::Missing), "missing");
  EXPECT_EQ(to_string(SignatureCheck::Mismatch), "mismatch");
  EXPECT_EQ(to_string(SignatureCheck::BodyHashMismatch), "body_hash_mismatch");
}

TEST(Signature, PublicUrlFromHostHeader) {
  EXPECT_EQ(public_url("", "https", "gw.example.com", "/api/v1/whatsapp/status?a=%20b"),
            "https://gw.example.com/api/v1/whatsapp/status?a=%20b");
  EXPECT_EQ(public_url("", "https", "gw.example.com:8443", "//x"), "https://gw.example.com:8443//x");
}

TEST(Signature, PublicUrlFromConfiguredBase) {
  EXPECT_EQ(public_url("https://gw.example.com", "http", "127.0.0.1:8080", "/api/v1/whatsapp/status"),
            "https://gw.example.com/api/v1/whatsapp/status");
  EXPECT_EQ(public_url("https://gw.example.com/", "http", "backend", "/api/v1/whatsapp/status"),
            "https://gw.example.com/api/v1/whatsapp/status");
  EXPECT_EQ(public_url("https://example.com/wagate", "http", "backend", "/api/v1/whatsapp/webhook?x=%2B"),
            "https://example.com/wagate/api/v1/whatsapp/webhook?x=%2B");
}

}  // namespace
}  // namespace wagate::twilio
