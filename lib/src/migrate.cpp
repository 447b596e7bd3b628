// migrate.cpp — numbered SQL migrations: listing with checksums, status, applying under an advisory lock.
#include "wagate/migrate.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "wagate/crypto.hpp"

namespace wagate::migrate {
namespace {

// Key of the transaction-level advisory lock every migrate run takes: "wagmig"
// in ASCII, fixed so that runs from any host and binary version meet on it.
constexpr std::string_view kLockSql = "SELECT pg_advisory_xact_lock(131260230756711)";

constexpr std::string_view kCreateTableSql =
    "CREATE TABLE schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

constexpr int kMaxVersion = 999'999;

// NNN_name.sql -> version and name; nullopt when the name has another shape.
std::optional<std::pair<int, std::string>> parse_file_name(std::string_view file) {
  if (!file.ends_with(".sql")) return std::nullopt;
  const std::string_view stem = file.substr(0, file.size() - 4);
  const size_t underscore = stem.find('_');
  if (underscore == 0 || underscore == std::string_view::npos || underscore + 1 == stem.size()) return std::nullopt;
  const std::string_view digits = stem.substr(0, underscore);
  const std::string_view name = stem.substr(underscore + 1);
  int version = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (error != std::errc() || end != digits.data() + digits.size() || version <= 0 || version > kMaxVersion) {
    return std::nullopt;
  }
  const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!plain) return std::nullopt;
  return std::make_pair(version, std::string(name));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MigrationError(path + ": cannot open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw MigrationError(path + ": cannot read");
  return std::move(bytes).str();
}

// The server reports where a statement failed as a 1-based character offset
// into the whole script; an operator wants the line of the file.
int line_of(std::string_view text, int position) {
  int line = 1;
  int chars = 0;
  for (const char c : text) {
    // UTF-8 continuation bytes do not start a character.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
    if (chars >= position) break;
    if (c == '\n') ++line;
  }
  return line;
}

struct Recorded {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

bool table_exists(pg::Connection& conn) {
  return !conn.exec("SELECT to_regclass('schema_migrations')").is_null(0, 0);
}

std::map<int, Recorded> read_recorded(pg::Connection& conn) {
  std::map<int, Recorded> recorded;
  if (!table_exists(conn)) return recorded;
  const pg::Result rows = conn.exec(
      "SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM schema_migrations ORDER BY version");
  for (int row = 0; row < rows.rows(); ++row) {
    recorded.emplace(static_cast<int>(rows.get_int(row, 0)),
                     Recorded{std::string(rows.get(row, 1)), std::string(rows.get(row, 2)),
                              std::string(rows.get(row, 3))});
  }
  return recorded;
}

[[noreturn]] void throw_changed(const Migration& migration, std::string_view recorded_checksum) {
  throw MigrationError(migration.path + " has changed since it was applied (recorded sha256 " +
                       std::string(recorded_checksum.substr(0, 12)) + "..., file " +
                       migration.checksum.substr(0, 12) +
                       "...): nothing was applied; restore the file and put the change in a new migration");
}

}  // namespace

std::vector<Migration> list(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::directory_iterator entries(dir, error);
  if (error) throw MigrationError("migrations directory " + dir + ": " + error.message());
  std::vector<Migration> migrations;
  for (const fs::directory_entry& entry : entries) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with('.') || !file.ends_with(".sql")) continue;  // editor droppings, READMEs
    const auto parsed = parse_file_name(file);
    if (!parsed) {
      throw MigrationError(entry.path().string() + ": a migration must be named NNN_name.sql (NNN from 1 to " +
                           std::to_string(kMaxVersion) + ", name of letters, digits, '_' and '-')");
    }
    Migration migration;
    migration.version = parsed->first;
    migration.name = parsed->second;
    migration.file = file;
    migration.path = (fs::path(dir) / file).string();
    migration.sql = read_file(migration.path);
    migration.checksum = crypto::hex(crypto::sha256(migration.sql));
    migrations.push_back(std::move(migration));
  }
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version == migrations[i - 1].version) {
      throw MigrationError(migrations[i - 1].path + " and " + migrations[i].path + " have the same version " +
                           std::to_string(migrations[i].version));
    }
  }
  return migrations;
}

std::string_view state_name(State state) {
  switch (state) {
    case State::Applied: return "applied";
    case State::Pending: return "pending";
    case State::Changed: return "changed";
    case State::Missing: return "missing";
  }
  return "?";
}

std::vector<Status> status(pg::Connection& conn, const std::string& dir) {
  const std::vector<Migration> migrations = list(dir);
  std::map<int, Recorded> recorded = read_recorded(conn);
  std::vector<Status> out;
  for (const Migration& migration : migrations) {
    Status entry{migration.version, migration.file, State::Pending, {}};
    if (const auto found = recorded.find(migration.version); found != recorded.end()) {
      entry.state = found->second.checksum == migration.checksum ? State::Applied : State::Changed;
      entry.applied_at = found->second.applied_at;
      recorded.erase(found);
    }
    out.push_back(std::move(entry));
  }
  for (auto& [version, row] : recorded) out.push_back(Status{version, row.name, State::Missing, row.applied_at});
  std::sort(out.begin(), out.end(), [](const Status& a, const Status& b) { return a.version < b.version; });
  return out;
}

std::vector<Migration> apply(pg::Connection& conn, const std::string& dir,
                             const std::function<void(const Migration&)>& on_applied) {
  const std::vector<Migration> migrations = list(dir);

  // First, under the lock: the bookkeeping table, and the check that no
  // applied file was edited, so that a refusal leaves everything as it was.
  {
    pg::Transaction transaction(conn);
    conn.exec(kLockSql);
    if (!table_exists(conn)) conn.exec(kCreateTableSql);
    const std::map<int, Recorded> recorded = read_recorded(conn);
    for (const Migration& migration : migrations) {
      const auto found = recorded.find(migration.version);
      if (found != recorded.end() && found->second.checksum != migration.checksum) {
        throw_changed(migration, found->second.checksum);
      }
    }
    transaction.commit();
  }

  std::vector<Migration> applied;
  for (const Migration& migration : migrations) {
    pg::Transaction transaction(conn);
    conn.exec(kLockSql);
    // Checked again under this transaction's lock: a concurrent run may have
    // applied it since.
    const pg::Result row =
        conn.exec("SELECT checksum FROM schema_migrations WHERE version = $1", {std::to_string(migration.version)});
    if (row.rows() == 1) {
      if (row.get(0, 0) != migration.checksum) throw_changed(migration, row.get(0, 0));
      continue;
    }
    try {
      conn.exec_script(migration.sql);
    } catch (const pg::QueryError& e) {
      const std::string where =
          e.position() > 0 ? migration.path + ":" + std::to_string(line_of(migration.sql, e.position())) : migration.path;
      throw MigrationError(where + ": " + e.what() + " (nothing of " + migration.file + " was applied)");
    }
    conn.exec("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
              {std::to_string(migration.version), migration.name, migration.checksum});
    transaction.commit();
    applied.push_back(migration);
    if (on_applied) on_applied(migration);
  }
  return applied;
}

}  // namespace wagate::migrate
