// time_parse_fuzz.cpp — libFuzzer target: the ISO 8601 and RFC 2822 parsers never crash, and what they accept round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_require.hpp"
#include "wagate/time.hpp"

using wagate::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace wagate::time;
  // The years the parsers take; an offset can move an instant just outside
  // them, where the formatted UTC text is then refused.
  constexpr long long kYear10000 = 253402300800000000LL;
  const auto in_range = [](long long micros) { return micros >= 0 && micros < kYear10000; };
  if (const auto micros = parse_iso8601(input)) {
    require(*micros > -kDayMicros && *micros < kYear10000 + kDayMicros);
    if (in_range(*micros)) {
      require(parse_iso8601(format_iso8601(*micros)) == *micros);
      require(parse_iso8601(format_iso8601(*micros, 6)) == *micros);
    }
    const std::string literal = postgres_literal(*micros);
    require(literal.size() >= 29 && literal.ends_with("+00"));
  }
  if (const auto micros = parse_rfc2822(input)) {
    // Whole seconds; a leap second reads as the next second's start.
    require(*micros % kSecondMicros == 0);
    if (in_range(*micros)) require(parse_rfc2822(format_rfc2822(*micros)) == *micros);
  }
  return 0;
}
