// text.hpp — small text helpers shared by the parsers: UTF-8, control characters, hex, percent-escapes, UUIDs, case.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wagate::text {

// Strict UTF-8: rejects overlong forms, UTF-16 surrogates (U+D800..U+DFFF),
// code points above U+10FFFF, stray continuation bytes and truncated sequences.
[[nodiscard]] bool valid_utf8(std::string_view s);

// True when s holds a C0 control character other than tab, newline and
// carriage return, or DEL (0x7F).
[[nodiscard]] bool has_control_chars(std::string_view s);

[[nodiscard]] constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
// The value of a hex digit (either case), -1 for any other character.
[[nodiscard]] constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
[[nodiscard]] constexpr bool is_hex(char c) { return hex_value(c) >= 0; }

// What '+' means in percent-encoded text: itself in URIs and their userinfo,
// a space in application/x-www-form-urlencoded data (query strings, forms).
enum class Plus { Literal, Space };

// Decodes text[begin, end) into out (cleared first). Returns the offset in
// text of the first malformed escape ('%' not followed by two hex digits),
// nullopt when all of it decoded.
std::optional<size_t> percent_decode_into(std::string_view text, size_t begin, size_t end, Plus plus,
                                          std::string& out);
// The decoded text, nullopt when any escape is malformed.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, Plus plus = Plus::Literal);

// A UUID in its canonical text form: 8-4-4-4-12 hex digits, either case.
[[nodiscard]] bool is_uuid(std::string_view text);
// Its 16 bytes; nullopt when text is not a UUID.
[[nodiscard]] std::optional<std::string> uuid_bytes(std::string_view text);
// 16 bytes as lower-case canonical text (other sizes give "").
[[nodiscard]] std::string uuid_text(std::string_view bytes);

// ASCII lower case; other bytes (UTF-8 included) unchanged.
[[nodiscard]] constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
[[nodiscard]] std::string lower(std::string_view text);
// ASCII case-insensitive equality.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

}  // namespace wagate::text
