// key_command.cpp — wagate-admin key create|list|revoke: the API keys applications authenticate with.
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "commands.hpp"
#include "flags.hpp"
#include "wagate/api_keys.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/pg.hpp"

namespace wagate::admin {
namespace {

constexpr const char* kUsage =
    "usage: wagate-admin key create --tenant NAME [--scopes send,read] [--label TEXT]\n"
    "       wagate-admin key list [--tenant NAME]\n"
    "       wagate-admin key revoke KEY_ID\n"
    "create prints the key on standard output, once: it is stored only as a hash.\n"
    "Scopes: send, read, admin (reserved); the default is send,read.\n";

constexpr std::string_view kDefaultScopes = "send,read";
constexpr size_t kMaxLabelLength = 200;

int usage(const std::string& problem) {
  std::cerr << "wagate-admin key: " << problem << '\n' << kUsage;
  return kExitUsage;
}

// text[] literal of scope names: they are fixed lower-case words, so no
// quoting is needed.
std::string scopes_array(api_keys::ScopeSet scopes) { return "{" + api_keys::scope_list_text(scopes) + "}"; }

int create(const config::Config& config, const Flags& flags) {
  if (const std::string problem = unknown_flag(flags, {"tenant", "scopes", "label"}); !problem.empty()) {
    return usage(problem);
  }
  if (!flags.positional.empty()) return usage("create takes no positional arguments");
  if (!flags.values.contains("tenant")) return usage("create needs --tenant NAME");
  const auto scopes_flag = flags.values.find("scopes");
  const api_keys::ScopeList scopes =
      api_keys::parse_scope_list(scopes_flag == flags.values.end() ? kDefaultScopes : scopes_flag->second);
  if (!scopes.error.empty()) return usage("--scopes: " + scopes.error);
  const auto label = flags.values.find("label");
  if (label != flags.values.end() && label->second.size() > kMaxLabelLength) {
    return usage("--label is longer than " + std::to_string(kMaxLabelLength) + " characters");
  }
  const std::string& tenant = flags.values.at("tenant");

  pg::Connection db(config.str("pg_dsn"));
  const pg::Result found = db.exec("SELECT tenant_id FROM tenants WHERE name = $1", {tenant});
  if (found.rows() == 0) throw Error("no tenant named " + tenant);
  const api_keys::NewKey key = api_keys::generate();
  const std::string scope_text = scopes_array(scopes.scopes);
  const std::string hash_hex = crypto::hex(key.hash);
  const pg::Param label_param = label == flags.values.end() ? pg::Param() : pg::Param(label->second);
  db.exec("INSERT INTO api_keys (key_id, tenant_id, key_hash, scopes, label) "
          "VALUES ($1, $2, decode($3, 'hex'), $4::text[], $5)",
          {key.key_id, found.get(0, 0), hash_hex, scope_text, label_param});
  // Only the key on standard output, so that KEY=$(wagate-admin key create ...) works.
  std::cerr << "key " << key.key_id << " created for tenant " << tenant << " with scopes "
            << api_keys::scope_list_text(scopes.scopes)
            << "; it is shown only now and cannot be recovered, store it safely\n";
  std::cout << key.key << '\n';
  return 0;
}

int list(const config::Config& config, const Flags& flags) {
  if (const std::string problem = unknown_flag(flags, {"tenant"}); !problem.empty()) return usage(problem);
  if (!flags.positional.empty()) return usage("list takes no positional arguments");
  const auto tenant = flags.values.find("tenant");
  const pg::Param tenant_param = tenant == flags.values.end() ? pg::Param() : pg::Param(tenant->second);
  pg::Connection db(config.str("pg_dsn"));
  if (tenant != flags.values.end() &&
      db.exec("SELECT 1 FROM tenants WHERE name = $1", {tenant_param}).rows() == 0) {
    throw Error("no tenant named " + tenant->second);
  }
  const pg::Result rows = db.exec(
      "SELECT k.key_id, t.name, array_to_string(k.scopes, ','), coalesce(k.label, '-'), "
      "to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "coalesce(to_char(k.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), "
      "coalesce(to_char(k.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-') "
      "FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id "
      "WHERE $1::text IS NULL OR t.name = $1 ORDER BY t.name, k.created_at, k.key_id",
      {tenant_param});
  std::cout << "key_id\ttenant\tscopes\tlabel\tcreated\tlast_used\trevoked\n";
  for (int i = 0; i < rows.rows(); ++i) {
    for (int c = 0; c < rows.columns(); ++c) std::cout << (c == 0 ? "" : "\t") << rows.get(i, c);
    std::cout << '\n';
  }
  return 0;
}

int revoke(const config::Config& config, const Flags& flags) {
  if (const std::string problem = unknown_flag(flags, {}); !problem.empty()) return usage(problem);
  if (flags.positional.size() != 1) return usage("revoke needs one KEY_ID");
  std::string key_id = flags.positional[0];
  // A whole key pasted by mistake still names its key_id; it is never echoed.
  if (const auto id = api_keys::key_id_of(key_id)) key_id = std::string(*id);
  if (!api_keys::valid_key_id(key_id)) return usage("KEY_ID is the 12 characters after 'wg_' (see 'key list')");
  pg::Connection db(config.str("pg_dsn"));
  const pg::Result updated =
      db.exec("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", {key_id});
  if (updated.affected() == 0) {
    if (db.exec("SELECT 1 FROM api_keys WHERE key_id = $1", {key_id}).rows() == 0) {
      throw Error("no API key " + key_id);
    }
    std::cout << "key " << key_id << " was already revoked\n";
    return 0;
  }
  std::cout << "key " << key_id << " revoked; API processes stop accepting it within api_key_cache_seconds ("
            << config.integer("api_key_cache_seconds") << " s)\n";
  return 0;
}

}  // namespace

int key_command(const Globals& globals, std::span<const std::string> args) {
  if (args.empty()) return usage("missing subcommand");
  std::string problem;
  const auto flags = parse_flags(args.subspan(1), problem);
  if (!flags) return usage(problem);
  const std::string& sub = args[0];
  if (sub == "create") return create(load_config(globals), *flags);
  if (sub == "list") return list(load_config(globals), *flags);
  if (sub == "revoke") return revoke(load_config(globals), *flags);
  return usage("unknown subcommand '" + sub + "'");
}

}  // namespace wagate::admin
