// link_token.cpp — the shape of a tracked link's token, checked before anything asks Postgres.
#include "link_token.hpp"

#include <algorithm>

namespace wagate::links {
namespace {

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

bool is_valid_token(std::string_view token) {
  return token.size() == kTokenLength && std::all_of(token.begin(), token.end(), is_base64url);
}

}  // namespace wagate::links
