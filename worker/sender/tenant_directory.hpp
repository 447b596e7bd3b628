// tenant_directory.hpp — the sender's view of tenants by id: credentials, sender, rate limit, cached briefly.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "wagate/secret.hpp"
#include "wagate/tenants.hpp"

namespace wagate::pg {
class Connection;
}

namespace wagate::sender {

struct TenantInfo {
  tenants::Tenant tenant;
  std::optional<int> rate_limit_mps;  // nullopt: the configured sender_mps
};

// One query per tenant per TTL: a token rotation or a new rate limit is
// seen within it, and a burst of messages costs no extra queries.
class TenantDirectory {
 public:
  explicit TenantDirectory(std::chrono::seconds ttl = std::chrono::seconds(30)) : ttl_(ttl) {}

  // nullptr for an unknown tenant. Throws DbError, or Error when the
  // tenant's token does not open with the master key.
  std::shared_ptr<const TenantInfo> find(pg::Connection& db, const Secret& master_key, long long tenant_id);

 private:
  struct Entry {
    std::shared_ptr<const TenantInfo> info;
    std::chrono::steady_clock::time_point loaded;
  };
  std::chrono::seconds ttl_;
  std::map<long long, Entry> entries_;
};

}  // namespace wagate::sender
