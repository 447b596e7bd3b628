// form_parse_fuzz.cpp — libFuzzer target: form parsing never crashes and build() is its inverse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_require.hpp"
#include "wagate/form.hpp"
#include "wagate/text.hpp"

using wagate::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The text checks run on the same untrusted bytes: they must not read past the end.
  (void)wagate::text::valid_utf8(input);
  (void)wagate::text::has_control_chars(input);

  const wagate::form::ParseResult parsed = wagate::form::parse(input, 64);
  if (!parsed.ok()) {
    require(parsed.params.size() <= 64);
    return 0;
  }
  require(parsed.params.size() <= 64);
  for (const wagate::form::Param& param : parsed.params.items()) require(!param.name.empty());

  // parse -> build -> parse gives the same parameters in the same order.
  const std::string rebuilt = wagate::form::build(parsed.params);
  const wagate::form::ParseResult again = wagate::form::parse(rebuilt, 64);
  require(again.ok());
  require(again.params.size() == parsed.params.size());
  for (size_t i = 0; i < parsed.params.size(); ++i) {
    require(again.params.items()[i].name == parsed.params.items()[i].name);
    require(again.params.items()[i].value == parsed.params.items()[i].value);
  }
  // build() output is canonical: building it again changes nothing.
  require(wagate::form::build(again.params) == rebuilt);
  // first() agrees with all().
  for (const wagate::form::Param& param : parsed.params.items()) {
    const auto values = parsed.params.all(param.name);
    require(!values.empty() && parsed.params.first(param.name) == values.front());
  }
  return 0;
}
