// pg_array.cpp — Postgres arrays in text form: literals to pass as parameters, bigint[] results read back.
#include "wagate/pg_array.hpp"

#include <charconv>

#include "wagate/error.hpp"

namespace wagate::pg {

std::string array_literal(const std::set<long long>& values) {
  std::string out = "{";
  for (const long long value : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(value);
  }
  out += '}';
  return out;
}

std::string array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& value : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::vector<long long> parse_bigint_array(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    throw DbError("postgres: expected an array, got '" + std::string(text.substr(0, 32)) + "'");
  }
  std::vector<long long> values;
  const char* pos = text.data() + 1;
  const char* const end = text.data() + text.size() - 1;
  while (pos < end) {
    long long value = 0;
    const auto [next, error] = std::from_chars(pos, end, value);
    if (error != std::errc() || (next != end && *next != ',')) throw DbError("postgres: malformed bigint array");
    values.push_back(value);
    pos = next == end ? end : next + 1;
  }
  return values;
}

}  // namespace wagate::pg
