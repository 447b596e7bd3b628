// config_keys.cpp — the table of every configuration key: type, default, bounds, reloadability, help.
//
// This table drives parsing, validation, dump() and the shipped example
// (etc/wagate.conf.example, kept in sync by a unit test). To add a key, add a
// row here and its paragraph to the example, in the same position.
#include <array>

#include "wagate/config.hpp"

namespace wagate::config {
namespace {

bool starts_with_http_scheme(std::string_view value) {
  return value.starts_with("http://") || value.starts_with("https://");
}

// Characters that never belong in a URL we hand to Twilio or libcurl as is.
bool has_blank_or_control(std::string_view value) {
  for (const char c : value) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string_view host_part(std::string_view url) {
  const size_t start = url.find("://") + 3;
  return url.substr(start, url.find_first_of("/?#", start) - start);
}

// Signatures are computed over the URL Twilio used, which is this base plus
// the request path: a trailing '/' would double the slash and every check
// would fail, so it is refused here rather than debugged later.
std::string_view check_public_base_url(std::string_view value) {
  constexpr std::string_view kExpected =
      "empty, or an http:// or https:// URL with a host, without a trailing '/', query or fragment";
  if (value.empty()) return {};
  if (!starts_with_http_scheme(value) || has_blank_or_control(value) || host_part(value).empty() ||
      value.ends_with('/') || value.find_first_of("?#") != std::string_view::npos) {
    return kExpected;
  }
  return {};
}

std::string_view check_http_url(std::string_view value) {
  if (!starts_with_http_scheme(value) || has_blank_or_control(value) || host_part(value).empty()) {
    return "an http:// or https:// URL with a host";
  }
  return {};
}

// Twilio refuses a StatusCallback whose host has an underscore; catching it
// here beats a rejected send for every message.
std::string_view check_status_callback_url(std::string_view value) {
  constexpr std::string_view kExpected = "empty, or an http:// or https:// URL with a host without '_'";
  if (value.empty()) return {};
  if (!check_http_url(value).empty() || host_part(value).find('_') != std::string_view::npos) return kExpected;
  return {};
}

constexpr auto kKeys = std::to_array<KeySpec>({
    {.name = "pg_dsn",
     .type = Type::String,
     .default_value = "host=/var/run/postgresql dbname=wagate",
     .reloadable = false,
     .secret = true,
     .help = "libpq connection string of the PostgreSQL database that holds every message, event and tenant."},
    {.name = "redis_url",
     .type = Type::String,
     .default_value = "redis://127.0.0.1:6379/0",
     .reloadable = false,
     .secret = true,
     .help = "Redis server that holds the send queue and short-lived caches."},
    {.name = "log_level",
     .type = Type::String,
     .default_value = "info",
     .reloadable = true,
     .secret = false,
     .help = "Least severe level that is logged: debug, info, warning or error.",
     .allowed = "debug|info|warning|error"},
    {.name = "max_body_bytes",
     .type = Type::Int,
     .default_value = "65536",
     .reloadable = true,
     .secret = false,
     .help = "Largest request body a handler accepts, in bytes (nginx caps it too).",
     .min = 1024,
     .max = 10485760},
    {.name = "max_upload_bytes",
     .type = Type::Int,
     .default_value = "67108864",
     .reloadable = true,
     .secret = false,
     .help = "Largest CSV upload of contacts, in bytes (nginx caps it too).",
     .min = 1024,
     .max = 1073741824},
    {.name = "public_base_url",
     .type = Type::String,
     .default_value = "",
     .reloadable = true,
     .secret = false,
     .help = "scheme://host[:port] Twilio uses to reach nginx, used to check webhook signatures; "
             "empty means rebuild it from the request.",
     .check = check_public_base_url},
    {.name = "master_key_file",
     .type = Type::SecretFile,
     .default_value = "",
     .reloadable = false,
     .secret = true,
     .help = "File holding the AES-256-GCM key that encrypts tenant credentials at rest: 64 hex chars."},
    {.name = "spool_dir",
     .type = Type::String,
     .default_value = "/var/lib/wagate/spool",
     .reloadable = false,
     .secret = false,
     .help = "Directory where webhooks are appended and fsynced while PostgreSQL is unreachable."},
    {.name = "metrics_dir",
     .type = Type::String,
     .default_value = "/run/wagate/metrics",
     .reloadable = false,
     .secret = false,
     .help = "Directory where every process writes its Prometheus metrics once a second, for wagate-api's "
             "GET /metrics to merge."},
    {.name = "request_threads",
     .type = Type::Int,
     .default_value = "16",
     .reloadable = false,
     .secret = false,
     .help = "Accepting threads per handler process, each with its own database and Redis connection.",
     .min = 1,
     .max = 256},
    {.name = "status_committers",
     .type = Type::Int,
     .default_value = "2",
     .reloadable = false,
     .secret = false,
     .help = "Threads per status handler process that commit callbacks in batches, each with its own "
             "database connection; two let one batch fill while the other commits.",
     .min = 1,
     .max = 16},
    {.name = "twilio_api_base",
     .type = Type::String,
     .default_value = "https://api.twilio.com",
     .reloadable = true,
     .secret = false,
     .help = "Base URL of Twilio's REST API; point it at the simulator for tests.",
     .check = check_http_url},
    {.name = "twilio_ca_file",
     .type = Type::String,
     .default_value = "",
     .reloadable = true,
     .secret = false,
     .help = "PEM file of the certificate authorities trusted for twilio_api_base; "
             "empty means the system's CA bundle."},
    {.name = "status_callback_url",
     .type = Type::String,
     .default_value = "",
     .reloadable = true,
     .secret = false,
     .help = "StatusCallback URL sent with every message so Twilio reports its delivery; "
             "empty means public_base_url plus the status route.",
     .check = check_status_callback_url},
    {.name = "health_timeout_ms",
     .type = Type::Int,
     .default_value = "1000",
     .reloadable = true,
     .secret = false,
     .help = "How long the health check and Redis calls wait for an answer, in milliseconds.",
     .min = 10,
     .max = 60000},
    {.name = "db_timeout_ms",
     .type = Type::Int,
     .default_value = "1000",
     .reloadable = false,
     .secret = false,
     .help = "How long a webhook waits for the database, in milliseconds, all its queries together; "
             "past it the webhook is spooled and answered.",
     .min = 50,
     .max = 10000},
    {.name = "api_statement_timeout_ms",
     .type = Type::Int,
     .default_value = "5000",
     .reloadable = false,
     .secret = false,
     .help = "How long one API query may run on the server, in milliseconds, before it is cancelled and "
             "the request answered 503 query_timeout.",
     .min = 100,
     .max = 600000},
    {.name = "opt_out_keywords",
     .type = Type::List,
     .default_value = "STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT",
     .reloadable = true,
     .secret = false,
     .help = "Comma-separated inbound message bodies that opt a phone out of further messages."},
    {.name = "opt_in_keywords",
     .type = Type::List,
     .default_value = "START,UNSTOP,SUBSCRIBE",
     .reloadable = true,
     .secret = false,
     .help = "Comma-separated inbound message bodies that opt a phone back in."},
    {.name = "reply_window_hours",
     .type = Type::Int,
     .default_value = "72",
     .reloadable = true,
     .secret = false,
     .help = "Hours after a distribution's message to a contact during which an inbound message from that "
             "contact marks the recipient replied.",
     .min = 1,
     .max = 720},
    {.name = "sender_mps",
     .type = Type::Int,
     .default_value = "80",
     .reloadable = true,
     .secret = false,
     .help = "Default messages per second the sender sends from one WhatsApp number.",
     .min = 1,
     .max = 1000},
    {.name = "feeder_interval_ms",
     .type = Type::Int,
     .default_value = "1000",
     .reloadable = true,
     .secret = false,
     .help = "How often the sender's feeder queues planned distribution recipients.",
     .min = 100,
     .max = 60000},
    {.name = "sender_max_in_flight",
     .type = Type::Int,
     .default_value = "64",
     .reloadable = true,
     .secret = false,
     .help = "Most Twilio requests one sender process has open at a time.",
     .min = 1,
     .max = 1024},
    {.name = "send_max_attempts",
     .type = Type::Int,
     .default_value = "5",
     .reloadable = true,
     .secret = false,
     .help = "Attempts at a send that fails retryably before the message is marked failed.",
     .min = 1,
     .max = 20},
    {.name = "send_timeout_ms",
     .type = Type::Int,
     .default_value = "10000",
     .reloadable = true,
     .secret = false,
     .help = "How long one request to Twilio may take, in milliseconds, before its outcome is unknown.",
     .min = 100,
     .max = 120000},
    {.name = "reconcile_window_minutes",
     .type = Type::Int,
     .default_value = "10",
     .reloadable = true,
     .secret = false,
     .help = "Minutes after an unknown send's request before reconciliation, finding no such message in "
             "Twilio's list, may send it again.",
     .min = 2,
     .max = 1440},
    {.name = "breaker_window",
     .type = Type::Int,
     .default_value = "50",
     .reloadable = true,
     .secret = false,
     .help = "Final outcomes of a running distribution's messages, the most recent, that its circuit breaker "
             "judges.",
     .min = 10,
     .max = 1000},
    {.name = "breaker_marketing_limit",
     .type = Type::Int,
     .default_value = "10",
     .reloadable = true,
     .secret = false,
     .help = "Messages among those outcomes failed with a marketing-limit code (63049, 131049) that pause "
             "the distribution.",
     .min = 1,
     .max = 1000},
    {.name = "breaker_min_outcomes",
     .type = Type::Int,
     .default_value = "20",
     .reloadable = true,
     .secret = false,
     .help = "Outcomes needed before the breaker judges a distribution by its share of failures.",
     .min = 1,
     .max = 1000},
    {.name = "breaker_failure_percent",
     .type = Type::Int,
     .default_value = "80",
     .reloadable = true,
     .secret = false,
     .help = "Share of those outcomes, in percent, failed with 63016 (outside the 24-hour window) or failed "
             "at all, that pauses the distribution.",
     .min = 1,
     .max = 100},
    {.name = "price_batch",
     .type = Type::Int,
     .default_value = "100",
     .reloadable = true,
     .secret = false,
     .help = "Final messages per tenant whose price one run of the price job asks Twilio for.",
     .min = 1,
     .max = 1000},
    {.name = "price_recheck_seconds",
     .type = Type::Int,
     .default_value = "60",
     .reloadable = true,
     .secret = false,
     .help = "Seconds before the price job asks Twilio again about a message it had not priced yet.",
     .min = 0,
     .max = 86400},
    {.name = "price_give_up_hours",
     .type = Type::Int,
     .default_value = "72",
     .reloadable = true,
     .secret = false,
     .help = "Hours after its final status that a message Twilio has still not priced is left without a price.",
     .min = 1,
     .max = 720},
    {.name = "retention_days",
     .type = Type::Int,
     .default_value = "90",
     .reloadable = true,
     .secret = false,
     .help = "Days messages and their status history are kept before maintenance drops them.",
     .min = 1,
     .max = 3650},
    {.name = "archive_dir",
     .type = Type::String,
     .default_value = "",
     .reloadable = true,
     .secret = false,
     .help = "Directory where retention writes each month of messages, with their status history, as JSON "
             "lines before dropping it; empty means no archive."},
    {.name = "idempotency_ttl_hours",
     .type = Type::Int,
     .default_value = "24",
     .reloadable = true,
     .secret = false,
     .help = "Hours an Idempotency-Key is remembered, so a retried send returns its first answer.",
     .min = 1,
     .max = 720},
    {.name = "api_key_cache_seconds",
     .type = Type::Int,
     .default_value = "5",
     .reloadable = true,
     .secret = false,
     .help = "Seconds an API handler process reuses a verified API key before reading it again; "
             "a revoked key stops working within this time.",
     .min = 0,
     .max = 300},
});

}  // namespace

std::span<const KeySpec> keys() { return kKeys; }

const KeySpec* find_key(std::string_view name) {
  for (const KeySpec& spec : kKeys) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace wagate::config
