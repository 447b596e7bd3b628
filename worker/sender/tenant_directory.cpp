// tenant_directory.cpp — the sender's view of tenants by id: credentials, sender, rate limit, cached briefly.
#include "tenant_directory.hpp"

#include <string>

#include "wagate/pg.hpp"

namespace wagate::sender {

std::shared_ptr<const TenantInfo> TenantDirectory::find(pg::Connection& db, const Secret& master_key,
                                                        long long tenant_id) {
  const auto now = std::chrono::steady_clock::now();
  const auto it = entries_.find(tenant_id);
  if (it != entries_.end() && now - it->second.loaded < ttl_) return it->second.info;
  std::shared_ptr<const TenantInfo> info;
  if (auto tenant = tenants::load_by_id(db, master_key, tenant_id)) {
    auto loaded = std::make_shared<TenantInfo>();
    loaded->tenant = std::move(*tenant);
    const pg::Result rows =
        db.exec("SELECT rate_limit_mps FROM tenants WHERE tenant_id = $1", {std::to_string(tenant_id)});
    if (rows.rows() == 1 && !rows.is_null(0, 0)) loaded->rate_limit_mps = static_cast<int>(rows.get_int(0, 0));
    info = std::move(loaded);
  }
  entries_[tenant_id] = Entry{info, now};
  return info;
}

}  // namespace wagate::sender
