// flags.hpp — the `--name value` flags and positional words of a wagate-admin subcommand.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::admin {

struct Flags {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // name without "--" -> value
};

// nullopt (and problem set) when a flag has no value.
std::optional<Flags> parse_flags(std::span<const std::string> args, std::string& problem);

// "unknown flag --x" for the first flag not in `known`, else empty: a typo
// must not be silently ignored.
std::string unknown_flag(const Flags& flags, std::initializer_list<std::string_view> known);

}  // namespace wagate::admin
