// text.hpp — small text checks shared by the parsers (UTF-8 validity, control characters).
#pragma once

#include <string_view>

namespace wagate::text {

// Strict UTF-8: rejects overlong forms, UTF-16 surrogates (U+D800..U+DFFF),
// code points above U+10FFFF, stray continuation bytes and truncated sequences.
[[nodiscard]] bool valid_utf8(std::string_view s);

// True when s holds a C0 control character other than tab, newline and
// carriage return, or DEL (0x7F).
[[nodiscard]] bool has_control_chars(std::string_view s);

}  // namespace wagate::text
