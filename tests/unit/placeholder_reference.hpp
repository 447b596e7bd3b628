// placeholder_reference.hpp — the send API's first, unbounded placeholder renderer, kept as the oracle the bounded one must agree with.
#pragma once

#include <string>
#include <string_view>

#include "api/send.hpp"

namespace wagate::test {

// What substitute_variables rendered before it was bounded and made one
// pass: simple enough to trust, too slow and unbounded to serve. Tests and
// the fuzz target compare the real renderer with it.
inline api::Substitution reference_substitution(std::string_view text, const api::Variables& variables) {
  const auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  };
  api::Substitution result;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view inside = text.substr(open + 2, close - open - 2);
    while (!inside.empty() && inside.front() == ' ') inside.remove_prefix(1);
    while (!inside.empty() && inside.back() == ' ') inside.remove_suffix(1);
    bool placeholder = !inside.empty();
    for (const char c : inside) placeholder = placeholder && is_name_char(c);
    if (!placeholder) {
      result.text.append(text.substr(pos, open + 1 - pos));
      pos = open + 1;
      continue;
    }
    const auto it = variables.find(inside);
    if (it == variables.end()) {
      result.missing = std::string(inside);
      return result;
    }
    result.text.append(text.substr(pos, open - pos));
    result.text.append(it->second);
    pos = close + 2;
  }
  result.text.append(text.substr(pos));
  return result;
}

}  // namespace wagate::test
