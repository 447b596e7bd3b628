// pg_array.hpp — Postgres arrays in text form: literals to pass as parameters, bigint[] results read back.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::pg {

// "{1,2,3}": a bigint[] (or int[]) parameter.
[[nodiscard]] std::string array_literal(const std::set<long long>& values);
// {"a","b"}: every element double-quoted, '"' and '\' escaped, so any text
// (times, names) reads back as itself.
[[nodiscard]] std::string array_literal(const std::vector<std::string>& values);

// A bigint[] result cell ("{1,2,3}", "{}"); throws DbError when the text is
// not one (NULL elements included: the callers' arrays have none).
[[nodiscard]] std::vector<long long> parse_bigint_array(std::string_view text);

}  // namespace wagate::pg
