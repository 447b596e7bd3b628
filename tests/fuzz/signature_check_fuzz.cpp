// signature_check_fuzz.cpp — libFuzzer target: signature checking never crashes on any URL, body, header or token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_require.hpp"
#include "wagate/crypto.hpp"
#include "wagate/form.hpp"
#include "wagate/twilio_signature.hpp"

namespace {

using wagate::fuzz::require;

// Input layout: url \n body \n signature \n token; missing parts are empty.
std::vector<std::string_view> split_parts(std::string_view input) {
  std::vector<std::string_view> parts;
  while (parts.size() < 3) {
    const size_t newline = input.find('\n');
    if (newline == std::string_view::npos) break;
    parts.push_back(input.substr(0, newline));
    input.remove_prefix(newline + 1);
  }
  parts.push_back(input);
  parts.resize(4);
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using wagate::twilio::SignatureCheck;
  const std::vector<std::string_view> parts =
      split_parts(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string_view url = parts[0];
  const std::string_view body = parts[1];
  const std::string_view signature = parts[2];
  const std::string_view token = parts[3];

  const std::vector<std::string> variants = wagate::twilio::url_variants(url);
  require(!variants.empty() && variants.front() == url);
  require(variants.size() <= 2);

  const wagate::form::ParseResult parsed = wagate::form::parse(body);
  const wagate::form::Params* params = parsed.ok() ? &parsed.params : nullptr;
  const wagate::twilio::SignedRequest request{.url = url, .params = params, .raw_body = body, .signature = signature};
  const SignatureCheck result = wagate::twilio::check_signature(request, token);
  require(!wagate::twilio::to_string(result).empty());
  require((result == SignatureCheck::Missing) == signature.empty());

  // What we sign ourselves for any variant must verify, unless the URL asks for
  // a body hash that this body does not have.
  for (const std::string& variant : variants) {
    const wagate::form::Params no_params;
    const std::string own = wagate::twilio::compute_signature(variant, params ? *params : no_params, token);
    const wagate::twilio::SignedRequest signed_request{
        .url = url, .params = params, .raw_body = body, .signature = own};
    const SignatureCheck own_result = wagate::twilio::check_signature(signed_request, token);
    require(own_result != SignatureCheck::Missing);
    if (url.find("bodySHA256=") == std::string_view::npos) require(own_result == SignatureCheck::Ok);
  }

  // The request URI is appended as given, never re-encoded.
  const std::string from_host = wagate::twilio::public_url("", "https", signature, body);
  require(from_host == "https://" + std::string(signature) + std::string(body));
  if (!url.empty()) {
    const std::string from_base = wagate::twilio::public_url(url, "http", signature, body);
    require(from_base.ends_with(body));
    require(from_base.size() + 1 >= url.size() + body.size() && from_base.size() <= url.size() + body.size());
  }
  return 0;
}
