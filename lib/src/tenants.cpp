// tenants.cpp — tenants by AccountSid, their auth tokens sealed at rest, and a per-process cache.
#include "wagate/tenants.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/text.hpp"

namespace wagate::tenants {

std::string token_aad(std::string_view account_sid) {
  return "tenant:" + std::string(account_sid) + ":auth_token";
}

bool valid_account_sid(std::string_view text) {
  if (text.size() != 34 || !text.starts_with("AC")) return false;
  for (const char c : text.substr(2)) {
    if (!text::is_hex(c)) return false;
  }
  return true;
}

std::optional<SealedTenant> load_sealed(pg::Connection& db, std::string_view account_sid) {
  if (!valid_account_sid(account_sid)) return std::nullopt;
  const pg::Result rows = db.exec(
      "SELECT tenant_id, name, account_sid, encode(auth_token_enc, 'hex'), encode(auth_token_prev_enc, 'hex') "
      "FROM tenants WHERE account_sid = $1",
      {account_sid});
  if (rows.rows() == 0) return std::nullopt;
  SealedTenant sealed;
  sealed.id = rows.get_int(0, 0);
  sealed.name = rows.get(0, 1);
  sealed.account_sid = rows.get(0, 2);
  for (const int col : {3, 4}) {
    if (!rows.is_null(0, col)) sealed.sealed_hex.emplace_back(rows.get(0, col));
  }
  return sealed;
}

Tenant open_tenant(const SealedTenant& sealed, const Secret& master_key) {
  if (master_key.empty()) throw ConfigError("master_key_file is not set: tenant auth tokens cannot be opened");
  Tenant tenant;
  tenant.id = sealed.id;
  tenant.name = sealed.name;
  tenant.account_sid = sealed.account_sid;
  const std::string aad = token_aad(sealed.account_sid);
  for (const std::string& hex : sealed.sealed_hex) {
    const auto bytes = crypto::unhex(hex);
    const auto token = bytes ? crypto::open(master_key, *bytes, aad) : std::nullopt;
    if (!token) throw Error("tenant " + tenant.name + ": auth token does not open with the configured master key");
    tenant.auth_tokens.emplace_back(*token);
  }
  return tenant;
}

std::optional<Tenant> load_by_account_sid(pg::Connection& db, const Secret& master_key,
                                          std::string_view account_sid) {
  const auto sealed = load_sealed(db, account_sid);
  if (!sealed) return std::nullopt;
  Tenant tenant = open_tenant(*sealed, master_key);
  const pg::Result rows = db.exec(
      "SELECT default_country_code, coalesce(whatsapp_from, ''), coalesce(messaging_service_sid, '') "
      "FROM tenants WHERE tenant_id = $1",
      {std::to_string(tenant.id)});
  if (rows.rows() == 1) {
    tenant.default_country_code = rows.get(0, 0);
    tenant.whatsapp_from = rows.get(0, 1);
    tenant.messaging_service_sid = rows.get(0, 2);
  }
  return tenant;
}

std::optional<Tenant> load_by_id(pg::Connection& db, const Secret& master_key, long long tenant_id) {
  const pg::Result rows =
      db.exec("SELECT account_sid FROM tenants WHERE tenant_id = $1", {std::to_string(tenant_id)});
  if (rows.rows() == 0) return std::nullopt;
  return load_by_account_sid(db, master_key, rows.get(0, 0));
}

Cache::Cache(std::string snapshot_path, std::chrono::milliseconds ttl)
    : snapshot_path_(std::move(snapshot_path)), ttl_(ttl) {}

std::shared_ptr<const Tenant> Cache::find(const std::function<pg::Connection*()>& db,
                                          const Secret& master_key, std::string_view account_sid) {
  if (!valid_account_sid(account_sid)) return nullptr;  // junk never reaches the database
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<const Tenant> stale;
  bool have_stale = false;
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(account_sid);
    if (it != entries_.end()) {
      if (now - it->second.loaded < ttl_) return it->second.tenant;
      stale = it->second.tenant;
      have_stale = true;
    }
  }
  std::optional<SealedTenant> sealed;
  try {
    pg::Connection* conn = db ? db() : nullptr;
    if (conn == nullptr) throw DbError("postgres: no connection");
    sealed = load_sealed(*conn, account_sid);
  } catch (const DbError&) {
    std::shared_ptr<const Tenant> fallback = have_stale ? stale : from_snapshot(master_key, account_sid);
    if (!fallback) throw;
    // Kept for another ttl without asking again: during an outage every
    // lookup would otherwise spend a webhook's whole database budget on a
    // connection that cannot succeed.
    const std::lock_guard lock(mutex_);
    entries_[std::string(account_sid)] = Entry{fallback, now};
    return fallback;
  }
  std::shared_ptr<const Tenant> tenant;
  if (sealed) {
    tenant = std::make_shared<const Tenant>(open_tenant(*sealed, master_key));
    save_snapshot(sealed->account_sid, sealed->id, sealed->name, sealed->sealed_hex);
  }
  const std::lock_guard lock(mutex_);
  if (entries_.size() > 10000) entries_.clear();  // bounded: junk AccountSids cannot grow it without limit
  entries_[std::string(account_sid)] = Entry{tenant, now};
  return tenant;
}

void Cache::clear() {
  const std::lock_guard lock(mutex_);
  entries_.clear();
}

// Snapshot format: one line per tenant, "account_sid id name_hex token_hex [prev_hex]".
std::shared_ptr<const Tenant> Cache::from_snapshot(const Secret& master_key, std::string_view account_sid) {
  if (snapshot_path_.empty()) return nullptr;
  std::ifstream in(snapshot_path_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    SealedTenant sealed;
    std::string name_hex;
    std::string token;
    fields >> sealed.account_sid >> sealed.id >> name_hex;
    if (sealed.account_sid != account_sid) continue;
    sealed.name = crypto::unhex(name_hex).value_or("");
    while (fields >> token) sealed.sealed_hex.push_back(token);
    log::warning("tenant_from_snapshot").kv("tenant", sealed.name).kv("account_sid", sealed.account_sid);
    return std::make_shared<const Tenant>(open_tenant(sealed, master_key));
  }
  return nullptr;
}

void Cache::save_snapshot(std::string_view account_sid, long long id, std::string_view name,
                          const std::vector<std::string>& sealed_hex) {
  if (snapshot_path_.empty()) return;
  std::string line = std::string(account_sid) + " " + std::to_string(id) + " " + crypto::hex(name);
  for (const std::string& token : sealed_hex) line += " " + token;
  const std::lock_guard lock(mutex_);
  if (snapshot_lines_.empty()) {
    // First save in this process: start from what is on disk so tenants
    // other processes saved are kept.
    std::ifstream in(snapshot_path_);
    std::string existing;
    while (std::getline(in, existing)) {
      const auto space = existing.find(' ');
      if (space != std::string::npos) snapshot_lines_[existing.substr(0, space)] = existing;
    }
  }
  auto& slot = snapshot_lines_[std::string(account_sid)];
  if (slot == line) return;
  slot = line;
  const std::string tmp = snapshot_path_ + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [sid, text] : snapshot_lines_) out << text << '\n';
    if (!out) {
      log::warning("tenant_snapshot_failed").kv("path", snapshot_path_);
      return;
    }
  }
  chmod(tmp.c_str(), 0600);
  if (rename(tmp.c_str(), snapshot_path_.c_str()) != 0) {
    log::warning("tenant_snapshot_failed").kv("path", snapshot_path_);
    unlink(tmp.c_str());
  }
}

}  // namespace wagate::tenants
