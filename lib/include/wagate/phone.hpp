// phone.hpp — phone numbers as people type them, normalised to E.164 ("+14155550123").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wagate::phone {

// E.164 allows at most 15 digits; fewer than 8 (country code included) is
// not a mobile number anywhere WhatsApp runs.
inline constexpr size_t kMinDigits = 8;
inline constexpr size_t kMaxDigits = 15;

enum class Problem {
  Empty,             // nothing but blanks, separators or a bare "whatsapp:"
  Letters,           // "555-CALL-NOW", an extension "x12"
  InvalidCharacter,  // anything else that is not a digit or an accepted separator
  MisplacedPlus,     // '+' anywhere but first, or twice
  NoCountryCode,     // a national number and the tenant has no default country code
  BadCountryCode,    // a country code cannot start with 0 ("+0...", "000...")
  TooShort,          // fewer than kMinDigits digits in the end
  TooLong,           // more than kMaxDigits digits in the end
};

// Either the number in E.164 or why it is not one, in words for the caller
// ("is too short: 6 digits, a number has at least 8 with its country code").
struct Normalized {
  std::optional<std::string> e164;
  Problem problem = Problem::Empty;
  std::string reason;
  [[nodiscard]] bool ok() const { return e164.has_value(); }
};

// Accepts blanks, '-', '.', '(' and ')' anywhere, a leading '+', the "00"
// international prefix and a "whatsapp:" prefix (any case). A number without
// '+' or "00" is national: one leading trunk '0' is dropped and
// default_country_code (digits, no '+') put in front. Pure: no I/O.
//
// The trunk rule is right for most countries; where the leading 0 is part of
// the number (Italy's landlines) callers must send the international form.
[[nodiscard]] Normalized normalize(std::string_view input, std::string_view default_country_code);

// True for "+" followed by kMinDigits..kMaxDigits digits, the first not 0.
[[nodiscard]] bool is_e164(std::string_view text);

}  // namespace wagate::phone
