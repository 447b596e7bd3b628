// commands.hpp — the wagate-admin commands: one function per command, each in admin/<name>_command.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "wagate/config.hpp"

namespace wagate::admin {

// What the global flags say, shared by every command.
struct Globals {
  std::string config_path;  // --config, else $WAGATE_CONFIG, else config::kDefaultPath
  std::string sql_dir;      // --sql-dir, else the compiled-in WAGATE_SQL_DIR
};

// Exit status of a command line that could not be understood.
inline constexpr int kExitUsage = 2;

// The config a command runs with: the file at globals.config_path; when that
// is the default path and there is no file there, the built-in defaults with
// WAGATE_<KEY> environment overrides (so `WAGATE_PG_DSN=... wagate-admin
// migrate` works on a machine without a config file). Throws ConfigError.
[[nodiscard]] config::Config load_config(const Globals& globals);

// A command gets the arguments after its name and returns the exit status.
// It reports a usage error itself (message on stderr, kExitUsage); any other
// failure is a thrown wagate::Error, which main prints.
using Run = int (*)(const Globals& globals, std::span<const std::string> args);

struct Command {
  std::string_view name;
  std::string_view help;  // one line for the usage text
  Run run;
};

int migrate_command(const Globals& globals, std::span<const std::string> args);
int tenant_command(const Globals& globals, std::span<const std::string> args);
int key_command(const Globals& globals, std::span<const std::string> args);
int retry_command(const Globals& globals, std::span<const std::string> args);
int doctor_command(const Globals& globals, std::span<const std::string> args);

}  // namespace wagate::admin
