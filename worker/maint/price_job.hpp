// price_job.hpp — the price job: Twilio's price of each final outbound message, fetched once Twilio has it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wagate/twilio_client.hpp"

namespace wagate::pg {
class Connection;
}
namespace wagate::config {
class Config;
}

namespace wagate::maint {

// What one run did, for its log line and for tests.
struct PriceStats {
  long long checked = 0;       // messages fetched from Twilio
  long long priced = 0;        // price stored
  long long pending = 0;       // Twilio has no price yet, or could not be asked: asked again later
  long long gave_up = 0;       // final longer than price_give_up_hours without a price
  long long rate_limited = 0;  // tenants whose batch stopped at a 429 from Twilio
};

// ---- the decisions, without Postgres or the network ----

struct Price {
  std::string amount;  // as Twilio writes it, e.g. "-0.00500" (negative: a charge)
  std::string unit;    // "USD"
  friend bool operator==(const Price&, const Price&) = default;
};

// A price Postgres can store as numeric: an optional sign, digits, at most
// one '.', at least one digit, at most 32 characters; and an ISO 4217 unit
// (three letters, upper-cased). nullopt for anything else, an empty price
// (Twilio's null) included.
[[nodiscard]] std::optional<Price> parse_price(std::string_view amount, std::string_view unit);

struct PricePolicy {
  double recheck_seconds = 60;  // price_recheck_seconds
  double give_up_seconds = 72 * 3600.0;  // price_give_up_hours
};

// A final message without a price, as the job finds it.
struct UnpricedMessage {
  double final_age_seconds = 0;                   // since its last status
  std::optional<double> checked_age_seconds;      // since the job last asked Twilio; nullopt: never asked
};

enum class PriceDue {
  Ask,     // fetch it from Twilio now
  Wait,    // asked too recently: Twilio had no price then
  GiveUp,  // final for longer than give_up_seconds: left without a price
};
[[nodiscard]] PriceDue price_due(const UnpricedMessage& message, const PricePolicy& policy);

enum class PriceStep {
  Store,        // Twilio priced it: store `price`
  AskLater,     // no price yet, or no usable answer: price_checked_at, asked again later
  RateLimited,  // 429: asked again later, and nothing more of this tenant this run
  Gone,         // 404: Twilio has no such message (deleted): nothing to wait for
};

struct PriceRead {
  PriceStep step = PriceStep::AskLater;
  Price price;          // Store
  std::string problem;  // AskLater / Gone / RateLimited: why, for the log line; empty for a plain null price
};

// What Twilio's answer to GET Messages/{sid}.json means for the price.
[[nodiscard]] PriceRead read_price(const twilio::Response& response);

// One run: per tenant, up to price_batch final messages without a price
// that are due, fetched for at most 10 s (the rest waits for the next run). Throws DbError when Postgres fails under it; a tenant or a
// fetch that fails is logged and retried next run.
PriceStats price(pg::Connection& db, const config::Config& config);

}  // namespace wagate::maint
