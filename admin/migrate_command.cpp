// migrate_command.cpp — `wagate-admin migrate [--status]`: apply pending migrations, or list them.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "wagate/migrate.hpp"
#include "wagate/pg.hpp"

namespace wagate::admin {

int migrate_command(const Globals& globals, std::span<const std::string> args) {
  bool status_only = false;
  for (const std::string& arg : args) {
    if (arg == "--status") {
      status_only = true;
    } else {
      std::cerr << "wagate-admin: migrate: unknown argument '" << arg << "'\nusage: wagate-admin migrate [--status]\n";
      return kExitUsage;
    }
  }
  const config::Config config = load_config(globals);
  pg::Connection conn(config.str("pg_dsn"));

  if (status_only) {
    for (const migrate::Status& entry : migrate::status(conn, globals.sql_dir)) {
      std::cout << std::setw(3) << std::setfill('0') << entry.version << std::setfill(' ') << "  " << std::left
                << std::setw(36) << entry.file << std::right << "  " << migrate::state_name(entry.state);
      if (!entry.applied_at.empty()) std::cout << "  " << entry.applied_at;
      if (entry.state == migrate::State::Changed) std::cout << "  (file differs from what was applied)";
      if (entry.state == migrate::State::Missing) std::cout << "  (no such file in " << globals.sql_dir << ")";
      std::cout << '\n';
    }
    return 0;
  }

  const auto applied = migrate::apply(conn, globals.sql_dir, [](const migrate::Migration& migration) {
    std::cout << "applied " << migration.file << std::endl;  // flushed: progress through a long migration
  });
  if (applied.empty()) std::cout << "nothing to apply\n";
  return 0;
}

}  // namespace wagate::admin
