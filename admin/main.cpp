// main.cpp — wagate-admin: global flags, the command table, and the one place errors are reported.
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "wagate/config.hpp"
#include "wagate/error.hpp"
#include "wagate/process.hpp"

namespace wagate::admin {
namespace {

int help_command(const Globals& globals, std::span<const std::string> args);

// Adding a command: write admin/<name>_command.cpp, declare it in
// commands.hpp, add one line here.
constexpr Command kCommands[] = {
    {"migrate", "apply pending SQL migrations in order; --status lists applied and pending ones", migrate_command},
    {"tenant", "add, list, set-token (rotation: the old token stays valid), drop-previous-token", tenant_command},
    {"key", "API keys: create (prints the key once), list, revoke", key_command},
    {"retry", "send failed outbound messages again (retryable error codes only); --dry-run lists them", retry_command},
    {"doctor", "explain why a webhook's signature does not match: URLs, parameters, which token", doctor_command},
    {"help", "show this text", help_command},
};

void print_usage(std::ostream& out, const Globals& globals) {
  out << "usage: wagate-admin [--config PATH] [--sql-dir DIR] COMMAND [ARGS...]\n\ncommands:\n";
  for (const Command& command : kCommands) {
    out << "  " << command.name << std::string(command.name.size() < 10 ? 10 - command.name.size() : 1, ' ')
        << command.help << '\n';
  }
  out << "\nglobal flags:\n"
      << "  --config PATH   config file (default: $WAGATE_CONFIG, else " << config::kDefaultPath
      << ";\n                  without that file: built-in defaults and WAGATE_<KEY> variables)\n"
      << "  --sql-dir DIR   migrations directory (default: " << globals.sql_dir << ")\n";
}

int help_command(const Globals& globals, std::span<const std::string> /*args*/) {
  print_usage(std::cout, globals);
  return 0;
}

}  // namespace

config::Config load_config(const Globals& globals) {
  if (globals.config_path == config::kDefaultPath && !std::filesystem::exists(globals.config_path)) {
    return config::Config::defaults(config::process_environment());
  }
  return config::Config::load(globals.config_path);
}

}  // namespace wagate::admin

int main(int argc, char** argv) {
  using namespace wagate::admin;
  // It decrypts tenant credentials with the master key, like the daemons.
  wagate::process::protect_memory();
  try {
    Globals globals{wagate::config::path_from(argc, argv), WAGATE_SQL_DIR};
    // Global flags may stand anywhere, as path_from finds --config anywhere;
    // the first other word is the command, the rest are its arguments.
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg(argv[i]);
      if (arg == "--config") {
        ++i;  // path_from has taken (or refused) the value
      } else if (arg.starts_with("--config=")) {
        continue;
      } else if (arg == "--sql-dir") {
        if (i + 1 >= argc) throw wagate::ConfigError("--sql-dir needs a directory");
        globals.sql_dir = argv[++i];
      } else if (arg.starts_with("--sql-dir=")) {
        globals.sql_dir = std::string(arg.substr(10));
      } else {
        words.emplace_back(arg);
      }
    }
    if (words.empty() || words.front() == "-h" || words.front() == "--help") words.assign({"help"});
    for (const Command& command : kCommands) {
      if (words.front() == command.name) {
        return command.run(globals, std::span<const std::string>(words).subspan(1));
      }
    }
    std::cerr << "wagate-admin: unknown command '" << words.front() << "'\n";
    print_usage(std::cerr, globals);
    return kExitUsage;
  } catch (const wagate::Error& e) {
    std::cerr << "wagate-admin: " << e.what() << '\n';
    return 1;
  }
}
