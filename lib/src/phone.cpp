// phone.cpp — phone numbers as people type them, normalised to E.164 ("+14155550123").
#include "wagate/phone.hpp"

#include <cctype>

#include "wagate/text.hpp"

namespace wagate::phone {
namespace {

constexpr std::string_view kWhatsAppPrefix = "whatsapp:";

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_separator(char c) { return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Normalized rejected(Problem problem, std::string reason) {
  Normalized result;
  result.problem = problem;
  result.reason = std::move(reason);
  return result;
}

// A character in the message only when it is printable ASCII: anything else
// would garble the JSON error or the log line.
std::string describe(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  return "a character that is not a digit";
}

}  // namespace

Normalized normalize(std::string_view input, std::string_view default_country_code) {
  std::string_view text = trim(input);
  if (text.size() >= kWhatsAppPrefix.size() && text::iequals(text.substr(0, kWhatsAppPrefix.size()), kWhatsAppPrefix)) text = trim(text.substr(kWhatsAppPrefix.size()));
  if (text.empty()) return rejected(Problem::Empty, "is empty");

  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (text::is_digit(c)) {
      digits.push_back(c);
    } else if (c == '+') {
      // Only as the very first character: "+1 555" yes, "1+555" or "++1" no.
      if (i != 0) return rejected(Problem::MisplacedPlus, "has a '+' that is not its first character");
      plus = true;
    } else if (is_ascii_letter(c)) {
      return rejected(Problem::Letters, "contains letters; only digits, blanks, '-', '.', '(', ')' and a leading '+' "
                                        "are allowed");
    } else if (!is_separator(c)) {
      return rejected(Problem::InvalidCharacter, "contains " + describe(c) +
                                                     "; only digits, blanks, '-', '.', '(', ')' and a leading '+' "
                                                     "are allowed");
    }
  }
  if (digits.empty()) return rejected(Problem::Empty, "has no digits");

  std::string number;
  if (plus) {
    number = digits;
  } else if (digits.starts_with("00")) {
    number = digits.substr(2);
  } else {
    // The tenant's setting, tolerated with a '+' in front; anything but one
    // to three digits is treated as no setting at all.
    std::string_view country = default_country_code;
    if (country.starts_with('+')) country.remove_prefix(1);
    bool usable = !country.empty() && country.size() <= 3 && country.front() != '0';
    for (const char c : country) usable = usable && text::is_digit(c);
    if (!usable) {
      return rejected(Problem::NoCountryCode,
                      "has no country code and the tenant has no default one; use the +<country code> form");
    }
    const std::string_view national = digits.front() == '0' ? std::string_view(digits).substr(1) : digits;
    number = std::string(country) + std::string(national);
  }

  if (number.empty()) return rejected(Problem::Empty, "has no digits after the international prefix");
  if (number.front() == '0') return rejected(Problem::BadCountryCode, "has a country code starting with 0");
  if (number.size() < kMinDigits) {
    return rejected(Problem::TooShort, "is too short: " + std::to_string(number.size()) +
                                           " digits, a number has at least " + std::to_string(kMinDigits) +
                                           " with its country code");
  }
  if (number.size() > kMaxDigits) {
    return rejected(Problem::TooLong, "is too long: " + std::to_string(number.size()) +
                                          " digits, E.164 allows at most " + std::to_string(kMaxDigits) +
                                          " with the country code");
  }
  Normalized result;
  result.e164 = "+" + number;
  return result;
}

bool is_e164(std::string_view text) {
  if (text.size() < kMinDigits + 1 || text.size() > kMaxDigits + 1 || text.front() != '+' || text[1] == '0') {
    return false;
  }
  for (const char c : text.substr(1)) {
    if (!text::is_digit(c)) return false;
  }
  return true;
}

}  // namespace wagate::phone
