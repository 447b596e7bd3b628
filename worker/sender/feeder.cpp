// feeder.cpp — moves planned distribution recipients into the send queue: paced, inside send windows, exactly once.
#include "feeder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/send_queue.hpp"
#include "wagate/twilio_client.hpp"

namespace wagate::sender {
namespace {

// A recipient's error when the feeder skips it (no quote: spliced into the
// statement). The first word is the code a client matches on, as /send's.
constexpr std::string_view kSkipOptedOut =
    "recipient_opted_out: the contact opted out (STOP) after the distribution was planned";
constexpr std::string_view kSkipOutsideWindow =
    "outside_session_window: no message from the contact in the last 24 hours, so WhatsApp allows only an "
    "approved template (content_sid), not a free-form body";

// Most distributions one pass looks at; the rest wait for the next pass
// (round robin moves the start, so none waits for ever).
constexpr int kMaxDistributionsPerPass = 1000;

// Calling code -> the zone where most of its people live. A window is a
// courtesy, not a law: for a country with several zones, the edge zones are
// off by an hour or three (documented in docs/distributions.md).
const std::vector<std::pair<std::string_view, std::string_view>> kCallingCodeZones = {
    {"1", "America/New_York"},        {"7", "Europe/Moscow"},          {"20", "Africa/Cairo"},
    {"27", "Africa/Johannesburg"},    {"30", "Europe/Athens"},         {"31", "Europe/Amsterdam"},
    {"32", "Europe/Brussels"},        {"33", "Europe/Paris"},          {"34", "Europe/Madrid"},
    {"36", "Europe/Budapest"},        {"39", "Europe/Rome"},           {"40", "Europe/Bucharest"},
    {"41", "Europe/Zurich"},          {"43", "Europe/Vienna"},         {"44", "Europe/London"},
    {"45", "Europe/Copenhagen"},      {"46", "Europe/Stockholm"},      {"47", "Europe/Oslo"},
    {"48", "Europe/Warsaw"},          {"49", "Europe/Berlin"},         {"51", "America/Lima"},
    {"52", "America/Mexico_City"},    {"53", "America/Havana"},        {"54", "America/Argentina/Buenos_Aires"},
    {"55", "America/Sao_Paulo"},      {"56", "America/Santiago"},      {"57", "America/Bogota"},
    {"58", "America/Caracas"},        {"60", "Asia/Kuala_Lumpur"},     {"61", "Australia/Sydney"},
    {"62", "Asia/Jakarta"},           {"63", "Asia/Manila"},           {"64", "Pacific/Auckland"},
    {"65", "Asia/Singapore"},         {"66", "Asia/Bangkok"},          {"81", "Asia/Tokyo"},
    {"82", "Asia/Seoul"},             {"84", "Asia/Ho_Chi_Minh"},      {"86", "Asia/Shanghai"},
    {"90", "Europe/Istanbul"},        {"91", "Asia/Kolkata"},          {"92", "Asia/Karachi"},
    {"94", "Asia/Colombo"},           {"98", "Asia/Tehran"},           {"212", "Africa/Casablanca"},
    {"213", "Africa/Algiers"},        {"216", "Africa/Tunis"},         {"234", "Africa/Lagos"},
    {"233", "Africa/Accra"},          {"244", "Africa/Luanda"},        {"254", "Africa/Nairobi"},
    {"255", "Africa/Dar_es_Salaam"},  {"256", "Africa/Kampala"},       {"258", "Africa/Maputo"},
    {"351", "Europe/Lisbon"},         {"352", "Europe/Luxembourg"},    {"353", "Europe/Dublin"},
    {"358", "Europe/Helsinki"},       {"380", "Europe/Kyiv"},          {"420", "Europe/Prague"},
    {"502", "America/Guatemala"},     {"503", "America/El_Salvador"},  {"506", "America/Costa_Rica"},
    {"507", "America/Panama"},        {"591", "America/La_Paz"},       {"593", "America/Guayaquil"},
    {"595", "America/Asuncion"},      {"598", "America/Montevideo"},   {"880", "Asia/Dhaka"},
    {"966", "Asia/Riyadh"},           {"971", "Asia/Dubai"},           {"972", "Asia/Jerusalem"},
};

// The distribution, locked for this pass: SKIP LOCKED, so two senders never
// feed the same one at once (the other just moves on), and a pause or cancel
// waits at most for this short transaction. Its rate is the lower of its own
// and its sender number's limit (the tenant's, else sender_mps: $2). The
// seconds left until expires_at (NULL: none) decide expiry and each fed
// message's ValidityPeriod (twilio::validity_period).
const std::string kLock =
    "SELECT d.tenant_id, d.status, extract(epoch FROM d.expires_at - now())::float8, "
    "least(coalesce(d.rate_per_second, 2147483647), coalesce(t.rate_limit_mps, $2::int))::float8, "
    "d.feed_credit, extract(epoch FROM now() - d.fed_at)::float8, "
    "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "FROM distributions d JOIN tenants t ON t.tenant_id = d.tenant_id "
    "WHERE d.id = $1::uuid AND d.status IN ('scheduled', 'running') AND (d.send_at IS NULL OR d.send_at <= now()) "
    "FOR UPDATE OF d SKIP LOCKED";

// At start, a contact's time zone that Postgres does not know skips that
// recipient (its window cannot be computed); the API checked only its shape.
const std::string kStart =
    "WITH started AS (UPDATE distributions SET status = 'running', status_reason = NULL "
    " WHERE id = $1::uuid AND tenant_id = $2 RETURNING id) "
    "UPDATE distribution_recipients r SET status = 'skipped', "
    " error = 'unknown time zone ' || r.timezone || ': its send window cannot be placed' "
    "FROM started s WHERE r.tenant_id = $2 AND r.distribution_id = s.id AND r.status = 'planned' "
    "AND r.timezone IS NOT NULL AND lower(r.timezone) NOT IN (SELECT lower(name) FROM pg_timezone_names)";

// The heart of "exactly once": in one statement (one transaction with the
// lock above), the next recipients that are planned and inside their window
// get their messages rows and become 'queued' with that message's id. A
// crash before the commit leaves them planned; after it they are queued and
// their messages are Postgres's, which the sweeper queues again if the XADD
// below never happens. The message ids are made first (MATERIALIZED: once
// per recipient) so the recipient rows can name them.
// A recipient's local time: its contact's zone, else its calling code's
// ($4, longest prefix), else UTC. $3: how many; created_at: the lock's now();
// $5: the messages' ValidityPeriod (NULL: none).
// WhatsApp's rules are checked here, when the recipient's turn comes, not at
// planning: a picked recipient who opted out (STOP) since planning, or, for a
// free-form body, has sent nothing in 24 hours (the conversation's window,
// as /send checks it), becomes 'skipped' with the reason instead of getting
// a message. A skipped recipient takes a place in this pass's pick but not
// its pace (the credit counts messages made).
const std::string kFeed =
    "WITH d AS (SELECT d.*, t.whatsapp_from FROM distributions d JOIN tenants t ON t.tenant_id = d.tenant_id "
    "           WHERE d.id = $1::uuid AND d.tenant_id = $2), "
    "picked AS MATERIALIZED ("
    " SELECT r.id AS recipient_id, gen_random_uuid() AS message_id, r.phone, r.body, r.content_variables, "
    "  CASE WHEN coalesce(c.opted_out, false) THEN '" + std::string(kSkipOptedOut) + "' "
    "   WHEN d.body IS NOT NULL AND NOT coalesce(c.window_expires_at > now(), false) "
    "   THEN '" + std::string(kSkipOutsideWindow) + "' END AS skip "
    " FROM d, distribution_recipients r "
    " LEFT JOIN conversations c ON c.tenant_id = r.tenant_id AND c.phone = r.phone "
    " WHERE r.distribution_id = d.id AND r.tenant_id = d.tenant_id AND r.status = 'planned' "
    " AND (d.window_start IS NULL OR wagate_in_send_window((now() AT TIME ZONE coalesce(r.timezone, "
    "     (SELECT z.value FROM jsonb_each_text($4::jsonb) z WHERE r.phone LIKE '+' || z.key || '%' "
    "      ORDER BY length(z.key) DESC LIMIT 1), 'UTC'))::time, d.window_start, d.window_end)) "
    " ORDER BY r.id LIMIT $3 FOR UPDATE OF r SKIP LOCKED), "
    "inserted AS ("
    " INSERT INTO messages (tenant_id, id, created_at, direction, from_addr, to_addr, body, content_sid, "
    "  content_variables, status, status_rank, priority, attempts, next_attempt_at, distribution_id, "
    "  validity_period_s) "
    " SELECT d.tenant_id, p.message_id, now(), 'outbound', "
    "  CASE WHEN d.sender IS NULL THEN d.whatsapp_from WHEN d.sender LIKE 'whatsapp:%' THEN d.sender END, "
    "  'whatsapp:' || p.phone, p.body, d.content_sid, p.content_variables, 'accepted', "
    "  wagate_status_rank('accepted'), 1, 0, now() + interval '10 seconds', d.id, $5::int "
    " FROM picked p, d WHERE p.skip IS NULL "
    " RETURNING id) "
    "UPDATE distribution_recipients r SET "
    " status = CASE WHEN p.skip IS NULL THEN 'queued' ELSE 'skipped' END, "
    " message_id = CASE WHEN p.skip IS NULL THEN p.message_id END, "
    " error = coalesce(p.skip, r.error) "
    "FROM picked p WHERE r.id = p.recipient_id AND r.status = 'planned' "
    "AND (p.skip IS NOT NULL OR EXISTS (SELECT 1 FROM inserted i WHERE i.id = p.message_id)) "
    "RETURNING p.message_id::text, p.skip IS NOT NULL";

// The pace is kept on the row, so another sender host that feeds it next
// continues it rather than starting a second one. Over once nothing is
// planned (recipients waiting for their window are still planned).
const std::string kFinish =
    "UPDATE distributions d SET feed_credit = $3::float8, fed_at = now(), "
    "status = CASE WHEN EXISTS (SELECT 1 FROM distribution_recipients r WHERE r.distribution_id = d.id "
    "                           AND r.status = 'planned') THEN d.status ELSE 'completed' END "
    "WHERE d.id = $1::uuid AND d.tenant_id = $2 RETURNING d.status";

const std::string kDue =
    "SELECT id::text FROM distributions WHERE status IN ('scheduled', 'running') "
    "AND (send_at IS NULL OR send_at <= now()) ORDER BY id LIMIT " + std::to_string(kMaxDistributionsPerPass);

}  // namespace

FeedBudget feed_budget(double credit, double rate, double elapsed_seconds, double interval_seconds) {
  // One interval's worth, plus one: the fraction carried from the last pass
  // must fit, or a pass that came a little late (its elapsed just over the
  // interval) would lose it and the rate would fall short.
  const double cap = rate * interval_seconds + 1.0;
  const double available = std::min(cap, std::max(0.0, credit) + rate * std::max(0.0, elapsed_seconds));
  FeedBudget budget;
  budget.count = static_cast<long long>(std::floor(available + 1e-9));
  budget.credit = available;
  return budget;
}

double credit_after(const FeedBudget& budget, long long fed) {
  return std::max(0.0, budget.credit - static_cast<double>(fed));
}

std::string_view timezone_for_phone(std::string_view e164) {
  if (!e164.starts_with('+')) return "UTC";
  const std::string_view digits = e164.substr(1);
  std::string_view best = "UTC";
  size_t best_length = 0;
  for (const auto& [code, zone] : kCallingCodeZones) {
    if (code.size() > best_length && digits.starts_with(code)) {
      best = zone;
      best_length = code.size();
    }
  }
  return best;
}

const std::vector<std::pair<std::string_view, std::string_view>>& calling_code_timezones() {
  return kCallingCodeZones;
}

std::string calling_code_timezones_json() {
  json::Value object = json::object();
  for (const auto& [code, zone] : kCallingCodeZones) {
    json::set(object.get(), std::string(code).c_str(), json::string(zone));
  }
  return json::dump(object.get());
}

Feeder::Feeder(std::string dsn) : dsn_(std::move(dsn)) {}
Feeder::~Feeder() = default;

pg::Connection& Feeder::db() {
  if (db_ && !db_->healthy()) db_.reset();
  if (!db_) {
    auto conn = std::make_unique<pg::Connection>(dsn_);
    conn->prepare("feeder_due", kDue);
    conn->prepare("feeder_lock", kLock);
    conn->prepare("feeder_start", kStart);
    conn->prepare("feeder_feed", kFeed);
    conn->prepare("feeder_finish", kFinish);
    // Only zones this server knows: one it does not would make AT TIME ZONE
    // refuse the whole feed statement, pass after pass (an old tzdata
    // without Europe/Kyiv, say). Those phones fall back to UTC.
    const std::string all = calling_code_timezones_json();
    const pg::Result known = conn->exec(
        "SELECT coalesce(jsonb_object_agg(key, value), '{}')::text, count(*) "
        "FROM jsonb_each_text($1::jsonb) WHERE lower(value) IN (SELECT lower(name) FROM pg_timezone_names)",
        {all});
    zones_json_ = std::string(known.get(0, 0));
    if (known.get_int(0, 1) != static_cast<long long>(kCallingCodeZones.size())) {
      log::warning("feeder_zones_unknown")
          .kv("known", known.get_int(0, 1))
          .kv("table", static_cast<long long>(kCallingCodeZones.size()))
          .kv("hint", "Postgres's tzdata lacks some zones; their phones' windows use UTC");
    }
    db_ = std::move(conn);
  }
  return *db_;
}

bool Feeder::feed_one(const std::string& id, int default_mps, std::chrono::milliseconds interval,
                      std::vector<FedMessage>& fed) {
  pg::Connection& conn = db();
  pg::Transaction tx(conn);
  const pg::Result lock = conn.exec_prepared("feeder_lock", {id, std::to_string(default_mps)});
  if (lock.rows() == 0) return false;
  const std::string tenant(lock.get(0, 0));
  const bool starting = lock.get(0, 1) == "scheduled";
  // Under a second left is expired: no ValidityPeriod could keep such a
  // message from arriving after expires_at.
  std::optional<int> validity;
  bool expired = false;
  if (!lock.is_null(0, 2)) {
    validity = twilio::validity_period(std::stod(std::string(lock.get(0, 2))));
    expired = !validity;
  }
  const std::string created_at(lock.get(0, 6));
  if (starting) (void)conn.exec_prepared("feeder_start", {id, tenant});
  if (expired) {
    // Decided: an expired distribution is 'completed' (it ran its course),
    // with status_reason 'expired'; what had not gone is 'canceled'.
    (void)conn.exec("SELECT wagate_cancel_distribution_rest($2, $1::uuid, 'expired: expires_at passed before it was sent')",
                    {id, tenant});
    (void)conn.exec("UPDATE distributions SET status = 'completed', status_reason = 'expired' "
                    "WHERE id = $1::uuid AND tenant_id = $2",
                    {id, tenant});
    tx.commit();
    log::info("distribution_expired").kv("tenant", tenant).kv("distribution", id);
    return true;
  }
  const double rate = std::stod(std::string(lock.get(0, 3)));
  const double credit = std::stod(std::string(lock.get(0, 4)));
  const double interval_seconds = static_cast<double>(interval.count()) / 1000.0;
  // First pass: one interval's worth.
  const double elapsed = lock.is_null(0, 5) ? interval_seconds : std::stod(std::string(lock.get(0, 5)));
  const FeedBudget budget = feed_budget(credit, rate, elapsed, interval_seconds);
  long long made = 0;
  long long skipped = 0;
  if (budget.count > 0) {
    const std::string validity_text = validity ? std::to_string(*validity) : std::string();
    const pg::Param validity_param = validity ? pg::Param(validity_text) : std::nullopt;
    const pg::Result rows = conn.exec_prepared(
        "feeder_feed", {id, tenant, std::to_string(budget.count), zones_json_, validity_param});
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.get(r, 1) == "t") {
        ++skipped;
        continue;
      }
      ++made;
      fed.push_back(FedMessage{std::string(rows.get(r, 0)), std::stoll(tenant), created_at});
    }
  }
  char credit_text[64];
  std::snprintf(credit_text, sizeof credit_text, "%.6f", credit_after(budget, made));
  const pg::Result finished = conn.exec_prepared("feeder_finish", {id, tenant, std::string(credit_text)});
  tx.commit();
  const bool completed = finished.rows() > 0 && finished.get(0, 0) == "completed";
  if (starting) log::info("distribution_started").kv("tenant", tenant).kv("distribution", id);
  if (made > 0) log::debug("distribution_fed").kv("tenant", tenant).kv("distribution", id).kv("count", made);
  if (skipped > 0) {
    log::info("distribution_skipped").kv("tenant", tenant).kv("distribution", id).kv("count", skipped);
  }
  if (completed) log::info("distribution_completed").kv("tenant", tenant).kv("distribution", id);
  return true;
}

void Feeder::pass(int default_mps, std::chrono::milliseconds interval, std::vector<FedMessage>& fed) {
  std::vector<std::string> due;
  try {
    const pg::Result rows = db().exec_prepared("feeder_due", {});
    for (int r = 0; r < rows.rows(); ++r) due.emplace_back(rows.get(r, 0));
  } catch (const pg::QueryError&) {
    throw;
  } catch (const DbError&) {
    db_.reset();
    throw;
  }
  std::rotate(due.begin(), std::upper_bound(due.begin(), due.end(), round_robin_after_), due.end());
  for (const std::string& id : due) {
    try {
      if (feed_one(id, default_mps, interval, fed)) round_robin_after_ = id;
    } catch (const pg::QueryError& e) {
      // A statement refused for one distribution (its data) must not stop the others.
      log::error("distribution_feed_failed").kv("distribution", id).kv("sqlstate", e.sqlstate()).kv("error", e.what());
    } catch (const DbError&) {
      db_.reset();
      throw;
    }
  }
}

void enqueue_fed(redis::Client& redis, const std::vector<FedMessage>& fed) {
  if (fed.empty()) return;
  std::vector<send_queue::QueuedMessage> batch;
  batch.reserve(fed.size());
  for (const FedMessage& message : fed) batch.push_back({message.id, message.tenant_id, message.created_at});
  send_queue::enqueue_many(redis, send_queue::Priority::Normal, batch);
}

}  // namespace wagate::sender
