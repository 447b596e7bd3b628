// distribution_breaker.cpp — the circuit breaker: a running distribution whose recent messages fail pauses itself.
#include "distribution_breaker.hpp"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "wagate/config.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"

namespace wagate::maint {
namespace {

bool is_marketing_limit(const MessageOutcome& outcome) {
  return outcome.failed && outcome.error_code &&
         std::ranges::find(kMarketingLimitCodes, *outcome.error_code) != std::end(kMarketingLimitCodes);
}

std::string reason(std::string_view what, long long count, long long of) {
  return "circuit_breaker: " + std::string(what) + " for " + std::to_string(count) + " of the last " +
         std::to_string(of) + " messages";
}

bool reaches_share(long long count, long long of, int percent) { return count * 100 >= of * percent; }

// When a message's outcome became known: the first failure or delivery
// callback, else its last status (an outcome the sender recorded itself).
constexpr const char* kOutcomeAt =
    "CASE WHEN m.status IN ('failed', 'undelivered') THEN coalesce(m.failed_at, m.last_status_at)"
    " ELSE coalesce(m.delivered_at, m.read_at, m.last_status_at) END";

// Every running distribution's most recent final outcomes, at most $1 each,
// in one statement: a recipient's message is found by its id (indexed in
// every partition), and only outcomes after breaker_since count.
const std::string kRecentOutcomes = std::string(
    "SELECT d.tenant_id, d.id::text, o.failed, o.error_code FROM distributions d "
    "CROSS JOIN LATERAL ("
    " SELECT m.status IN ('failed', 'undelivered') AS failed, m.error_code"
    " FROM distribution_recipients r"
    " JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id"
    " WHERE r.tenant_id = d.tenant_id AND r.distribution_id = d.id AND r.message_id IS NOT NULL"
    " AND m.status IN ('delivered', 'read', 'failed', 'undelivered')"
    " AND (d.breaker_since IS NULL OR ") + kOutcomeAt + " > d.breaker_since)"
    " ORDER BY " + kOutcomeAt + " DESC, m.id LIMIT $1) o "
    "WHERE d.status = 'running'";

// Conditional: a distribution resumed, paused or canceled by its client
// since the outcomes were read keeps what the client chose.
constexpr const char* kPause =
    "UPDATE distributions d SET status = 'paused', status_reason = k.reason "
    "FROM jsonb_to_recordset($1::jsonb) AS k(tenant_id bigint, id uuid, reason text) "
    "WHERE d.tenant_id = k.tenant_id AND d.id = k.id AND d.status = 'running' "
    "RETURNING d.tenant_id, d.id::text, d.status_reason";

using DistributionKey = std::pair<long long, std::string>;

}  // namespace

std::optional<std::string> breaker_verdict(std::span<const MessageOutcome> recent, const BreakerRule& rule) {
  const auto judged = recent.first(std::min(recent.size(), static_cast<std::size_t>(std::max(rule.window, 0))));
  const auto total = static_cast<long long>(judged.size());
  long long failed = 0;
  long long outside_window = 0;
  long long marketing = 0;
  bool codes_seen[std::size(kMarketingLimitCodes)] = {};
  for (const MessageOutcome& outcome : judged) {
    if (!outcome.failed) continue;
    ++failed;
    if (outcome.error_code == kOutsideWindowCode) ++outside_window;
    if (is_marketing_limit(outcome)) {
      ++marketing;
      const auto* code = std::ranges::find(kMarketingLimitCodes, *outcome.error_code);
      codes_seen[code - std::begin(kMarketingLimitCodes)] = true;
    }
  }
  if (marketing >= rule.marketing_limit) {
    std::string codes;
    for (std::size_t i = 0; i < std::size(kMarketingLimitCodes); ++i) {
      if (!codes_seen[i]) continue;
      if (!codes.empty()) codes += '/';
      codes += std::to_string(kMarketingLimitCodes[i]);
    }
    return reason(codes, marketing, total);
  }
  if (total == 0 || total < rule.min_outcomes) return std::nullopt;
  if (reaches_share(outside_window, total, rule.failure_percent)) {
    return reason(std::to_string(kOutsideWindowCode), outside_window, total);
  }
  if (reaches_share(failed, total, rule.failure_percent)) return reason("failures", failed, total);
  return std::nullopt;
}

BreakerRule breaker_rule(const config::Config& config) {
  return {.window = static_cast<int>(config.integer("breaker_window")),
          .marketing_limit = static_cast<int>(config.integer("breaker_marketing_limit")),
          .min_outcomes = static_cast<int>(config.integer("breaker_min_outcomes")),
          .failure_percent = static_cast<int>(config.integer("breaker_failure_percent"))};
}

BreakerStats distribution_breaker(pg::Connection& db, const config::Config& config) {
  const BreakerRule rule = breaker_rule(config);
  BreakerStats stats;
  stats.checked = db.exec("SELECT count(*) FROM distributions WHERE status = 'running'").get_int(0, 0);
  if (stats.checked == 0) return stats;

  const pg::Result rows = db.exec(kRecentOutcomes, {std::to_string(rule.window)});
  std::map<DistributionKey, std::vector<MessageOutcome>> recent;
  for (int row = 0; row < rows.rows(); ++row) {
    MessageOutcome outcome{.failed = rows.get(row, 2) == "t", .error_code = std::nullopt};
    if (!rows.is_null(row, 3)) outcome.error_code = static_cast<int>(rows.get_int(row, 3));
    recent[{rows.get_int(row, 0), std::string(rows.get(row, 1))}].push_back(outcome);
  }

  json::Value trips = json::array();
  for (const auto& [key, outcomes] : recent) {
    const auto why = breaker_verdict(outcomes, rule);
    if (!why) continue;
    json::Value trip = json::object();
    json::set(trip.get(), "tenant_id", json::integer(key.first));
    json::set(trip.get(), "id", json::string(key.second));
    json::set(trip.get(), "reason", json::string(*why));
    json::append(trips.get(), std::move(trip));
  }
  if (json_array_size(trips.get()) == 0) return stats;

  const std::string batch = json::dump(trips.get());
  const pg::Result paused = db.exec(kPause, {std::string_view(batch)});
  stats.paused = paused.rows();
  for (int row = 0; row < paused.rows(); ++row) {
    log::warning("distribution_paused")
        .kv("tenant", paused.get_int(row, 0))
        .kv("distribution", paused.get(row, 1))
        .kv("reason", paused.get(row, 2));
  }
  return stats;
}

}  // namespace wagate::maint
