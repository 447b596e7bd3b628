// tenant_command.cpp — wagate-admin tenant add|list|set-token|drop-previous-token.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "commands.hpp"
#include "flags.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/pg.hpp"
#include "wagate/tenants.hpp"

namespace wagate::admin {
namespace {

constexpr const char* kUsage =
    "usage: wagate-admin tenant add --name NAME --account-sid AC... --auth-token-file FILE\n"
    "                              [--whatsapp-from whatsapp:+E164] [--messaging-service-sid MG...]\n"
    "                              [--country-code DIGITS]\n"
    "       wagate-admin tenant list\n"
    "       wagate-admin tenant set-token NAME --auth-token-file FILE   (the old token stays valid as the previous one)\n"
    "       wagate-admin tenant drop-previous-token NAME\n"
    "FILE '-' reads the token from standard input; tokens are never taken on the command line.\n";

int usage(const std::string& problem) {
  std::cerr << "wagate-admin tenant: " << problem << '\n' << kUsage;
  return kExitUsage;
}

Secret read_token(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path);
    if (!in) throw ConfigError("cannot read auth token file " + path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.empty()) throw ConfigError("auth token file " + path + " is empty");
  if (text.find_first_of(" \t\n") != std::string::npos) throw ConfigError("auth token must be one word");
  return Secret(std::move(text));
}

Secret master_key_of(const config::Config& config) {
  const Secret& file = config.secret("master_key_file");
  if (file.empty()) throw ConfigError("master_key_file is not set: tenant tokens are stored encrypted with it");
  return crypto::master_key_from(file.reveal());
}

std::string sealed_hex(const Secret& master, std::string_view account_sid, const Secret& token) {
  return crypto::hex(crypto::seal(master, token.reveal(), tenants::token_aad(account_sid)));
}

int add(const config::Config& config, const Flags& flags) {
  if (const std::string problem = unknown_flag(
          flags, {"name", "account-sid", "auth-token-file", "whatsapp-from", "messaging-service-sid", "country-code"});
      !problem.empty()) {
    return usage(problem);
  }
  for (const char* required : {"name", "account-sid", "auth-token-file"}) {
    if (!flags.values.contains(required)) return usage(std::string("add needs --") + required);
  }
  const std::string& name = flags.values.at("name");
  const std::string& account_sid = flags.values.at("account-sid");
  if (name.empty() || name.size() > 64) return usage("--name must be 1 to 64 characters");
  if (!tenants::valid_account_sid(account_sid)) return usage("--account-sid must be AC followed by 32 hex digits");
  const auto flag = [&](const char* key) -> pg::Param {
    const auto it = flags.values.find(key);
    return it == flags.values.end() ? std::nullopt : pg::Param(it->second);
  };
  const Secret master = master_key_of(config);
  const Secret token = read_token(flags.values.at("auth-token-file"));
  const std::string sealed = sealed_hex(master, account_sid, token);
  pg::Connection db(config.str("pg_dsn"));
  try {
    const pg::Result row = db.exec(
        "INSERT INTO tenants (name, account_sid, auth_token_enc, whatsapp_from, messaging_service_sid, "
        "default_country_code) VALUES ($1, $2, decode($3, 'hex'), $4, $5, coalesce($6, '1')) RETURNING tenant_id",
        {name, account_sid, sealed, flag("whatsapp-from"), flag("messaging-service-sid"), flag("country-code")});
    std::cout << "tenant " << name << " added (id " << row.get(0, 0) << ")\n";
  } catch (const pg::QueryError& e) {
    if (e.sqlstate() == "23505") throw Error("a tenant with that name or AccountSid exists already");
    if (e.sqlstate() == "23514") throw Error("a value was refused by the schema: " + std::string(e.what()));
    throw;
  }
  return 0;
}

int list(const config::Config& config) {
  pg::Connection db(config.str("pg_dsn"));
  const pg::Result rows = db.exec(
      "SELECT tenant_id, name, account_sid, auth_token_prev_enc IS NOT NULL, coalesce(whatsapp_from, '-'), "
      "coalesce(messaging_service_sid, '-'), default_country_code FROM tenants ORDER BY tenant_id");
  std::cout << "id\tname\taccount_sid\ttokens\twhatsapp_from\tmessaging_service\tcountry_code\n";
  for (int i = 0; i < rows.rows(); ++i) {
    std::cout << rows.get(i, 0) << '\t' << rows.get(i, 1) << '\t' << rows.get(i, 2) << '\t'
              << (rows.get(i, 3) == "t" ? "current+previous" : "current") << '\t' << rows.get(i, 4) << '\t'
              << rows.get(i, 5) << '\t' << rows.get(i, 6) << '\n';
  }
  return 0;
}

int set_token(const config::Config& config, const Flags& flags) {
  if (const std::string problem = unknown_flag(flags, {"auth-token-file"}); !problem.empty()) return usage(problem);
  if (flags.positional.size() != 1) return usage("set-token needs the tenant's name");
  if (!flags.values.contains("auth-token-file")) return usage("set-token needs --auth-token-file");
  const std::string& name = flags.positional[0];
  const Secret master = master_key_of(config);
  const Secret token = read_token(flags.values.at("auth-token-file"));
  pg::Connection db(config.str("pg_dsn"));
  pg::Transaction tx(db);
  const pg::Result row = db.exec("SELECT account_sid, auth_token_prev_enc IS NOT NULL FROM tenants WHERE name = $1 "
                                 "FOR UPDATE", {name});
  if (row.rows() == 0) throw Error("no tenant named " + name);
  const std::string sealed = sealed_hex(master, row.get(0, 0), token);
  // The current token becomes the previous one: requests Twilio signed with
  // it keep validating until the operator drops it.
  db.exec("UPDATE tenants SET auth_token_prev_enc = auth_token_enc, auth_token_enc = decode($2, 'hex'), "
          "updated_at = now() WHERE name = $1",
          {name, sealed});
  tx.commit();
  if (row.get(0, 1) == "t") std::cout << "note: the token that was previous until now is no longer accepted\n";
  std::cout << "tenant " << name << ": new auth token set; the old one stays valid until "
            << "'wagate-admin tenant drop-previous-token " << name << "'\n";
  return 0;
}

int drop_previous(const config::Config& config, const Flags& flags) {
  if (flags.positional.size() != 1) return usage("drop-previous-token needs the tenant's name");
  const std::string& name = flags.positional[0];
  pg::Connection db(config.str("pg_dsn"));
  const pg::Result result = db.exec(
      "UPDATE tenants SET auth_token_prev_enc = NULL, updated_at = now() WHERE name = $1", {name});
  if (result.affected() == 0) throw Error("no tenant named " + name);
  std::cout << "tenant " << name << ": previous auth token dropped\n";
  return 0;
}

}  // namespace

int tenant_command(const Globals& globals, std::span<const std::string> args) {
  if (args.empty()) return usage("missing subcommand");
  std::string problem;
  const auto flags = parse_flags(args.subspan(1), problem);
  if (!flags) return usage(problem);
  const std::string& sub = args[0];
  if (sub == "add") return add(load_config(globals), *flags);
  if (sub == "list") return list(load_config(globals));
  if (sub == "set-token") return set_token(load_config(globals), *flags);
  if (sub == "drop-previous-token") return drop_previous(load_config(globals), *flags);
  return usage("unknown subcommand '" + sub + "'");
}

}  // namespace wagate::admin
