// send_request_fuzz.cpp — libFuzzer target: the send API's placeholder renderer (against the reference) and request parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_require.hpp"
#include "api/send.hpp"
#include "placeholder_reference.hpp"
#include "wagate/error.hpp"

namespace {

using wagate::fuzz::require;

// Input: one byte for the limit, then the text, then (after a NUL) the value
// of the variables: small limits reach the cut-off, values with braces check
// that nothing is expanded twice.
void check_renderer(std::string_view input) {
  if (input.empty()) return;
  const size_t max_chars = static_cast<unsigned char>(input[0]);
  input.remove_prefix(1);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const std::string value(nul == std::string_view::npos ? std::string_view("{{a}}") : input.substr(nul + 1));
  const wagate::api::Variables variables = {{"a", value}, {"b.c", "B"}, {"x-1", ""}, {"long", std::string(300, 'L')}};

  const wagate::api::Substitution got = wagate::api::substitute_variables(text, variables, max_chars);
  const wagate::api::Substitution want = wagate::test::reference_substitution(text, variables);
  require(wagate::api::character_count(got.text) <= max_chars);
  require(got.text.size() <= 4 * max_chars);
  require(!(got.too_long && !got.missing.empty()));
  if (!got.missing.empty()) {
    require(got.missing == want.missing);
  } else if (!got.too_long) {
    require(want.missing.empty());
    require(got.text == want.text);
  } else if (want.missing.empty()) {
    // Stopped at the limit (characters, or 4 bytes a character for text that
    // is not UTF-8): what was built is the start of the full text.
    require(wagate::api::character_count(want.text) > max_chars || want.text.size() > 4 * max_chars);
    require(want.text.starts_with(got.text));
  }
}

void check_parser(std::string_view input) {
  try {
    const wagate::api::SendRequest request = wagate::api::parse_send_request(input);
    if (request.body) {
      require(!request.body->empty());
      require(wagate::api::character_count(*request.body) <= wagate::api::kMaxBodyChars);
    }
  } catch (const wagate::ApiError& e) {
    require(e.status() == 400);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_renderer(input);
  check_parser(input);
  return 0;
}
