// migrate.hpp — numbered SQL migrations: listing with checksums, status, applying under an advisory lock.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/pg.hpp"

namespace wagate::migrate {

// A migrations directory that cannot be used, a changed applied file, or a
// migration the server rejected (named by file and line).
class MigrationError : public Error {
 public:
  using Error::Error;
};

// One file NNN_name.sql. A migration runs inside a transaction, so it must
// not contain BEGIN/COMMIT or statements that refuse to run in one (CREATE
// INDEX CONCURRENTLY, VACUUM).
struct Migration {
  int version = 0;
  std::string name;      // "initial" for 001_initial.sql
  std::string file;      // "001_initial.sql"
  std::string path;      // the directory joined with file, for messages
  std::string sql;       // the file's bytes
  std::string checksum;  // SHA-256 of the file's bytes, lowercase hex
};

// The NNN_name.sql files of dir in numeric version order (so 10_x runs after
// 9_y). Other files are ignored, except that a *.sql file not named
// NNN_name.sql, or two files with one version, throw MigrationError: such a
// file would otherwise silently never run.
[[nodiscard]] std::vector<Migration> list(const std::string& dir);

enum class State {
  Applied,  // recorded, and the file is unchanged
  Pending,  // file present, not recorded
  Changed,  // recorded, but the file's checksum differs from the recorded one
  Missing,  // recorded, but no file has that version (a newer schema than these files)
};

struct Status {
  int version = 0;
  std::string file;        // the file name, or the recorded name when the file is missing
  State state = State::Pending;
  std::string applied_at;  // UTC, "YYYY-MM-DDTHH:MM:SSZ"; empty when pending
};

[[nodiscard]] std::string_view state_name(State state);

// Every version known from the files or schema_migrations, in order. Reads
// only: works on a database that was never migrated.
[[nodiscard]] std::vector<Status> status(pg::Connection& conn, const std::string& dir);

// Applies the pending migrations in order, each in its own transaction
// together with its schema_migrations row (created on first use), under a
// transaction-level advisory lock so that concurrent runs serialise and each
// migration is applied once. Before applying anything, refuses with a
// MigrationError naming the file if an applied file has changed since. Calls
// on_applied after each commit; returns the migrations this run applied.
std::vector<Migration> apply(pg::Connection& conn, const std::string& dir,
                             const std::function<void(const Migration&)>& on_applied = {});

}  // namespace wagate::migrate
