// tenants.hpp — tenants by AccountSid, their auth tokens sealed at rest, and a per-process cache.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/secret.hpp"

namespace wagate::pg {
class Connection;
}

namespace wagate::tenants {

struct Tenant {
  long long id = 0;
  std::string name;
  std::string account_sid;
  // Current token first, then the previous one while a rotation is under way.
  std::vector<Secret> auth_tokens;
  std::string default_country_code;
  std::string whatsapp_from;
  std::string messaging_service_sid;
};

// Associated data for a sealed auth token: a ciphertext copied into another
// tenant's row does not open.
std::string token_aad(std::string_view account_sid);

// True when the text is a Twilio AccountSid (AC + 32 hex digits).
bool valid_account_sid(std::string_view text);

// Loads a tenant and opens its tokens with the master key. nullopt for an
// unknown AccountSid. Throws DbError, or Error when a token does not open
// (the master key is not the one the tokens were sealed with).
std::optional<Tenant> load_by_account_sid(pg::Connection& db, const Secret& master_key,
                                          std::string_view account_sid);

// The same by tenant_id (the sender and maintenance jobs know messages by
// tenant). nullopt for an unknown id; throws like load_by_account_sid.
std::optional<Tenant> load_by_id(pg::Connection& db, const Secret& master_key, long long tenant_id);

// Process-wide cache in front of load_by_account_sid: a webhook flood costs
// no query per request, and a token rotation is seen within `ttl`. Unknown
// AccountSids are cached too, so junk cannot hammer the database.
//
// While Postgres is unreachable a webhook must still be validated before it
// is spooled, so a stale entry is used rather than failing, and a process
// that starts during an outage reads the snapshot file: the tenants' sealed
// tokens exactly as the database holds them, written whenever they change.
class Cache {
 public:
  explicit Cache(std::string snapshot_path = {}, std::chrono::milliseconds ttl = std::chrono::seconds(5));
  // db is asked for a connection only on a cache miss; it may return null or
  // throw DbError when Postgres is unreachable.
  std::shared_ptr<const Tenant> find(const std::function<pg::Connection*()>& db, const Secret& master_key,
                                     std::string_view account_sid);
  void clear();

 private:
  struct Entry {
    std::shared_ptr<const Tenant> tenant;  // null: unknown AccountSid
    std::chrono::steady_clock::time_point loaded;
  };
  std::shared_ptr<const Tenant> from_snapshot(const Secret& master_key, std::string_view account_sid);
  void save_snapshot(std::string_view account_sid, long long id, std::string_view name,
                     const std::vector<std::string>& sealed_hex);

  std::string snapshot_path_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string, std::less<>> snapshot_lines_;  // account_sid -> line as saved
};

// The sealed tokens of a tenant (hex), current first: what the snapshot keeps.
struct SealedTenant {
  long long id = 0;
  std::string name;
  std::string account_sid;
  std::vector<std::string> sealed_hex;
};
std::optional<SealedTenant> load_sealed(pg::Connection& db, std::string_view account_sid);
Tenant open_tenant(const SealedTenant& sealed, const Secret& master_key);

}  // namespace wagate::tenants
