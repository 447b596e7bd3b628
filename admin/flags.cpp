// flags.cpp — the `--name value` flags and positional words of a wagate-admin subcommand.
#include "flags.hpp"

namespace wagate::admin {

std::optional<Flags> parse_flags(std::span<const std::string> args, std::string& problem) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with("--")) {
      if (i + 1 >= args.size()) {
        problem = args[i] + " needs a value";
        return std::nullopt;
      }
      flags.values[args[i].substr(2)] = args[i + 1];
      ++i;
    } else {
      flags.positional.push_back(args[i]);
    }
  }
  return flags;
}

std::string unknown_flag(const Flags& flags, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : flags.values) {
    bool ok = false;
    for (const std::string_view k : known) ok = ok || k == name;
    if (!ok) return "unknown flag --" + name;
  }
  return {};
}

}  // namespace wagate::admin
