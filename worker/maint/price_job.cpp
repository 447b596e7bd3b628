// price_job.cpp — the price job: Twilio's price of each final outbound message, fetched once Twilio has it.
//
// Twilio prices a message some time after its final status (its answer
// says "price": null until then), so a message is asked about again every
// price_recheck_seconds until it has a price, and left without one after
// price_give_up_hours. Each tenant gets at most price_batch fetches a run,
// with its own credentials, and none more after a 429: one tenant's backlog
// neither exceeds Twilio's limits nor delays the other tenants.
#include "price_job.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>

#include "wagate/config.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/tenants.hpp"

namespace wagate::maint {
namespace {

constexpr size_t kMaxAmountLength = 32;
// The jobs share one thread: a run stops fetching after this long, so a
// slow Twilio cannot hold back the rollup and the breaker (every 5 s) for
// long; what is left is asked for next run.
constexpr std::chrono::seconds kRunBudget{10};

// Final outbound messages not done yet, the least recently asked first, at
// most $2 per tenant; $1 is the recheck interval (the same rule as
// price_due, so the per-tenant limit counts only messages due).
constexpr std::string_view kUnpriced =
    "SELECT tenant_id, created_at, id, message_sid, final_age, checked_age FROM ("
    "  SELECT tenant_id, created_at, id, message_sid, "
    "    extract(epoch from now() - coalesce(last_status_at, created_at))::float8 AS final_age, "
    "    extract(epoch from now() - price_checked_at)::float8 AS checked_age, "
    "    row_number() OVER (PARTITION BY tenant_id ORDER BY price_checked_at NULLS FIRST, created_at) AS n "
    "  FROM messages WHERE priced_at IS NULL AND direction = 'outbound' AND message_sid IS NOT NULL "
    "    AND status IN ('delivered', 'read', 'undelivered', 'failed') "
    "    AND (price_checked_at IS NULL OR price_checked_at <= now() - make_interval(secs => $1::float8))"
    ") due WHERE n <= $2 ORDER BY tenant_id, n";

constexpr std::string_view kStore =
    "UPDATE messages SET price = $4::numeric, price_unit = $5, priced_at = now(), price_checked_at = now() "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND priced_at IS NULL";

constexpr std::string_view kAskLater =
    "UPDATE messages SET price_checked_at = now() "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND priced_at IS NULL";

// priced_at without a price: done, unpriced.
constexpr std::string_view kGiveUp =
    "UPDATE messages SET priced_at = now(), price_checked_at = coalesce(price_checked_at, now()) "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND priced_at IS NULL";

double to_double(std::string_view text) {
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::optional<Price> parse_price(std::string_view amount, std::string_view unit) {
  if (amount.empty() || amount.size() > kMaxAmountLength) return std::nullopt;
  std::string_view digits = amount;
  if (digits.front() == '-' || digits.front() == '+') digits.remove_prefix(1);
  int seen_digits = 0;
  int dots = 0;
  for (const char c : digits) {
    if (c >= '0' && c <= '9') {
      ++seen_digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (seen_digits == 0 || dots > 1) return std::nullopt;
  if (unit.size() != 3) return std::nullopt;
  std::string upper;
  for (const char c : unit) {
    if (std::isalpha(static_cast<unsigned char>(c)) == 0) return std::nullopt;
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return Price{std::string(amount), std::move(upper)};
}

PriceDue price_due(const UnpricedMessage& message, const PricePolicy& policy) {
  if (message.final_age_seconds > policy.give_up_seconds) return PriceDue::GiveUp;
  if (message.checked_age_seconds && *message.checked_age_seconds < policy.recheck_seconds) return PriceDue::Wait;
  return PriceDue::Ask;
}

PriceRead read_price(const twilio::Response& response) {
  PriceRead read;
  if (response.failure != twilio::Failure::None) {
    read.problem = "transport: " + response.error;
    return read;
  }
  if (response.http_status == 429) {
    read.step = PriceStep::RateLimited;
    read.problem = "HTTP 429";
    return read;
  }
  if (response.http_status == 404) {
    read.step = PriceStep::Gone;
    read.problem = "HTTP 404: Twilio has no such message";
    return read;
  }
  if (response.http_status != 200) {
    read.problem = "HTTP " + std::to_string(response.http_status);
    return read;
  }
  const auto message = twilio::parse_message(response.body);
  if (!message) {
    read.problem = "the answer is not a message";
    return read;
  }
  // Null: not priced yet, the usual answer for a while after the final status.
  if (message->price.empty()) return read;
  auto price = parse_price(message->price, message->price_unit);
  if (!price) {
    read.problem = "unreadable price '" + message->price.substr(0, kMaxAmountLength) + "' " +
                   message->price_unit.substr(0, 8);
    return read;
  }
  read.step = PriceStep::Store;
  read.price = std::move(*price);
  return read;
}

PriceStats price(pg::Connection& db, const config::Config& config) {
  PriceStats stats;
  PricePolicy policy;
  policy.recheck_seconds = static_cast<double>(config.integer("price_recheck_seconds"));
  policy.give_up_seconds = static_cast<double>(config.integer("price_give_up_hours")) * 3600.0;
  const pg::Result due = db.exec(kUnpriced, {std::to_string(config.integer("price_recheck_seconds")),
                                             std::to_string(config.integer("price_batch"))});
  if (due.rows() == 0) return stats;

  const Secret& master_file = config.secret("master_key_file");
  if (master_file.empty()) throw ConfigError("master_key_file is not set: tenant credentials cannot be opened");
  const Secret master_key = crypto::master_key_from(master_file.reveal());
  twilio::TransportOptions options;
  options.timeout = std::chrono::milliseconds(config.integer("send_timeout_ms"));
  options.connect_timeout = std::min(options.timeout, std::chrono::milliseconds(5000));
  options.ca_file = config.str("twilio_ca_file");
  const std::string& api_base = config.str("twilio_api_base");

  std::map<long long, std::shared_ptr<const tenants::Tenant>> tenant_cache;
  long long stopped_tenant = -1;  // rate limited: the rest of its batch waits for the next run
  const auto deadline = std::chrono::steady_clock::now() + kRunBudget;
  for (int r = 0; r < due.rows(); ++r) {
    const long long tenant_id = due.get_int(r, 0);
    const std::vector<std::string> key = {std::to_string(tenant_id), std::string(due.get(r, 1)),
                                          std::string(due.get(r, 2))};
    const std::string sid(due.get(r, 3));
    UnpricedMessage message;
    message.final_age_seconds = to_double(due.get(r, 4));
    if (!due.is_null(r, 5)) message.checked_age_seconds = to_double(due.get(r, 5));
    const auto ask_later = [&] {
      ++stats.pending;
      db.exec(kAskLater, {key[0], key[1], key[2]});
    };

    switch (price_due(message, policy)) {
      case PriceDue::Wait:
        continue;
      case PriceDue::GiveUp:
        db.exec(kGiveUp, {key[0], key[1], key[2]});
        ++stats.gave_up;
        log::warning("price_gave_up").kv("tenant", tenant_id).kv("message_id", key[2]).kv("sid", sid);
        continue;
      case PriceDue::Ask:
        break;
    }
    if (tenant_id == stopped_tenant) continue;
    if (std::chrono::steady_clock::now() >= deadline) break;

    auto cached = tenant_cache.find(tenant_id);
    if (cached == tenant_cache.end()) {
      std::shared_ptr<const tenants::Tenant> tenant;
      try {
        if (auto loaded = tenants::load_by_id(db, master_key, tenant_id)) {
          tenant = std::make_shared<const tenants::Tenant>(std::move(*loaded));
        }
      } catch (const DbError&) {
        throw;
      } catch (const Error& e) {
        log::error("price_tenant_unusable").kv("tenant", tenant_id).kv("error", e.what());
      }
      cached = tenant_cache.emplace(tenant_id, tenant).first;
    }
    const auto& tenant = cached->second;
    if (!tenant || tenant->auth_tokens.empty()) {
      ask_later();
      continue;
    }
    ++stats.checked;
    const twilio::Credentials credentials{tenant->account_sid, tenant->auth_tokens.front()};
    const PriceRead read = read_price(twilio::perform(twilio::fetch_message(api_base, credentials, sid), options));
    switch (read.step) {
      case PriceStep::Store:
        db.exec(kStore, {key[0], key[1], key[2], read.price.amount, read.price.unit});
        ++stats.priced;
        log::debug("price_stored").kv("tenant", tenant_id).kv("sid", sid).kv("price", read.price.amount)
            .kv("unit", read.price.unit);
        break;
      case PriceStep::AskLater:
        if (!read.problem.empty()) {
          log::warning("price_fetch_failed").kv("tenant", tenant_id).kv("sid", sid).kv("error", read.problem);
        }
        ask_later();
        break;
      case PriceStep::RateLimited:
        ask_later();
        ++stats.rate_limited;
        stopped_tenant = tenant_id;
        log::warning("price_rate_limited").kv("tenant", tenant_id).kv("sid", sid);
        break;
      case PriceStep::Gone:
        db.exec(kGiveUp, {key[0], key[1], key[2]});
        ++stats.gave_up;
        log::warning("price_gave_up").kv("tenant", tenant_id).kv("sid", sid).kv("error", read.problem);
        break;
    }
  }
  return stats;
}

}  // namespace wagate::maint
