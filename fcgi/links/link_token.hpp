// link_token.hpp — the shape of a tracked link's token, checked before anything asks Postgres.
#pragma once

#include <cstddef>
#include <string_view>

namespace wagate::links {

// 16 random bytes in base64url without padding.
inline constexpr std::size_t kTokenLength = 22;

// True for exactly kTokenLength characters of the base64url alphabet
// (A-Z a-z 0-9 - _). Anything else cannot be a token that was issued, so it
// is answered 404 without a query: junk and scans never reach the database.
// The last character is not checked for canonical padding bits: a generator
// that draws 22 random base64url characters (132 bits) is as good.
[[nodiscard]] bool is_valid_token(std::string_view token);

}  // namespace wagate::links
