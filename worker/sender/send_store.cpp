// send_store.cpp — the sender's Postgres statements: load, claim, defer, record outcomes, sweep due messages.
#include "send_store.hpp"

#include <utility>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"

namespace wagate::sender {
namespace {

// Keys travel as one jsonb array: one parameter, one round trip, whatever
// the batch size.
constexpr std::string_view kKeysType = "AS k(ord int, tenant_id bigint, created_at timestamptz, id uuid)";

// What the message's error says when the claim cancels it (no quote: it is
// spliced into the statement below).
constexpr std::string_view kOptedOutMessage =
    "not sent: the recipient opted out (STOP) after the message was accepted";

const std::string kLoad = std::string(
    "SELECT k.ord, m.tenant_id, m.created_at, m.id, coalesce(m.to_addr, ''), coalesce(m.from_addr, ''), "
    "coalesce(m.body, ''), coalesce(m.content_sid, ''), coalesce(m.content_variables::text, ''), "
    "coalesce(m.media, '[]'::jsonb)::text, "
    // ValidityPeriod counts from when Twilio gets the request: a message sent
    // later than it was fed (a retry, a backlog) gets only what is left, so
    // it still cannot arrive after its distribution's expires_at (greatest()
    // ignores a NULL, hence the CASE).
    "CASE WHEN m.validity_period_s IS NULL THEN 0 "
    "ELSE greatest(1, m.validity_period_s - floor(extract(epoch FROM now() - m.created_at)))::int END "
    "FROM jsonb_to_recordset($1::jsonb) ") + std::string(kKeysType) + " "
    "JOIN messages m ON m.tenant_id = k.tenant_id AND m.created_at = k.created_at AND m.id = k.id "
    "WHERE m.direction = 'outbound' AND m.message_sid IS NULL "
    "AND (m.status = 'accepted' OR (m.status = 'retrying' AND coalesce(m.next_attempt_at, now()) <= now() + "
    "interval '1 second'))";

// The claim is its own transaction (autocommit): it is durable before the
// request that follows it leaves. It is also the last look at the recipient
// before then, so the same statement cancels, instead of claiming, a message
// whose recipient opted out (STOP) after it was accepted: WhatsApp's rules
// forbid sending them anything, and the API's check (422) cannot see a STOP
// that arrives while the message waits in the queue, for a retry or for the
// sweeper. The opt-out costs one primary-key probe of conversations
// (tenant_id, phone), the phone derived from to_addr exactly as
// wagate_store_inbound stores it; OFFSET 0 keeps the planner from copying
// the probe into every column that reads its answer. No request is made, so
// attempts and last_attempt_at stay as they were. 'canceled' ranks (66)
// above every status the claim starts from, and a message without a SID gets
// no callback that could move it. RETURNING's status tells the two apart.
const std::string kClaim = std::string(
    "UPDATE messages m SET (status, status_rank, attempts, last_attempt_at, error_code, error_message, "
    "next_attempt_at, last_status_at) = ("
    " SELECT CASE WHEN o.opted_out THEN 'canceled' ELSE 'dispatching' END,"
    " CASE WHEN o.opted_out THEN wagate_status_rank('canceled') ELSE wagate_status_rank('dispatching') END,"
    " m.attempts + CASE WHEN o.opted_out THEN 0 ELSE 1 END,"
    " CASE WHEN o.opted_out THEN m.last_attempt_at ELSE now() END,"
    " CASE WHEN o.opted_out THEN NULL ELSE m.error_code END,"
    " CASE WHEN o.opted_out THEN '") + std::string(kOptedOutMessage) + "' ELSE m.error_message END,"
    " CASE WHEN o.opted_out THEN NULL ELSE m.next_attempt_at END,"
    " CASE WHEN o.opted_out THEN GREATEST(m.last_status_at, now()) ELSE m.last_status_at END"
    " FROM (SELECT EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = m.tenant_id"
    "       AND c.phone = wagate_contact_phone(m.to_addr) AND c.opted_out) AS opted_out OFFSET 0) o), "
    "requeued_at = NULL "
    "FROM jsonb_to_recordset($1::jsonb) " + std::string(kKeysType) + " "
    "WHERE m.tenant_id = k.tenant_id AND m.created_at = k.created_at AND m.id = k.id "
    "AND m.status IN ('accepted', 'retrying') AND m.message_sid IS NULL AND m.direction = 'outbound' "
    "RETURNING m.id, m.attempts, m.status";

const std::string kDefer =
    "UPDATE messages m SET next_attempt_at = now() + make_interval(secs => k.delay_ms / 1000.0), requeued_at = NULL "
    "FROM jsonb_to_recordset($1::jsonb) AS k(tenant_id bigint, created_at timestamptz, id uuid, delay_ms bigint) "
    "WHERE m.tenant_id = k.tenant_id AND m.created_at = k.created_at AND m.id = k.id "
    "AND m.status IN ('accepted', 'retrying') AND m.message_sid IS NULL";

const std::string kRecord = "SELECT ord, result FROM wagate_record_send_results($1::jsonb) ORDER BY ord";

// SKIP LOCKED: several senders sweep at once without taking the same rows.
// requeued_at keeps a row from being queued again every second while its
// entry waits in the stream; if the entry was lost, it comes back after 30 s.
// An 'accepted' row without next_attempt_at is due 10 s after it was
// created (the grace the API gives its own enqueue).
// $2 / $3 (high / normal stream, ms since the epoch, 'Infinity' when
// nothing waits): a row last queued after its stream's cutoff may still
// have its entry unread there, and queuing it again would only put one more
// copy behind it (under a backlog, every due row again and again). An
// 'accepted' row was last queued by the API (created_at) or by a sweeper
// (requeued_at); a 'retrying' one's entry was acknowledged, so only a
// sweeper's requeued_at counts.
const std::string kTakeDue =
    "WITH due AS ("
    " SELECT tenant_id, created_at, id FROM messages"
    " WHERE status IN ('accepted', 'retrying') AND message_sid IS NULL AND direction = 'outbound'"
    " AND (next_attempt_at <= now()"
    "      OR (next_attempt_at IS NULL AND status = 'accepted' AND created_at < now() - interval '10 seconds'))"
    " AND (requeued_at IS NULL OR requeued_at < now() - interval '30 seconds')"
    " AND coalesce(CASE WHEN status = 'accepted' THEN greatest(created_at, requeued_at) ELSE requeued_at END,"
    "              '-infinity') < to_timestamp(CASE WHEN priority > 1 THEN $2::float8 ELSE $3::float8 END / 1000)"
    " ORDER BY next_attempt_at NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "UPDATE messages m SET requeued_at = now() FROM due "
    "WHERE m.tenant_id = due.tenant_id AND m.created_at = due.created_at AND m.id = due.id "
    "RETURNING m.tenant_id, m.created_at, m.id, m.priority";

json::Value key_object(const MessageKey& key) {
  json::Value object = json::object();
  json::set(object.get(), "tenant_id", json::integer(key.tenant_id));
  json::set(object.get(), "created_at", json::string(key.created_at));
  json::set(object.get(), "id", json::string(key.id));
  return object;
}

std::string keys_json(const std::vector<MessageKey>& keys) {
  json::Value array = json::array();
  for (size_t i = 0; i < keys.size(); ++i) {
    json::Value object = key_object(keys[i]);
    json::set(object.get(), "ord", json::integer(static_cast<long long>(i)));
    json::append(array.get(), std::move(object));
  }
  return json::dump(array.get());
}

std::vector<std::string> media_urls(std::string_view media_json) {
  std::vector<std::string> urls;
  const json::ParseResult parsed = json::parse(media_json);
  if (!parsed.ok() || !json_is_array(parsed.value.get())) return urls;
  size_t index = 0;
  const json_t* item = nullptr;
  json_array_foreach(parsed.value.get(), index, item) {
    if (json_is_string(item)) {
      urls.emplace_back(json_string_value(item), json_string_length(item));
    } else if (const auto url = json::get_string(item, "url")) {
      urls.emplace_back(*url);
    }
  }
  return urls;
}

}  // namespace

SendStore::SendStore(std::string dsn) : dsn_(std::move(dsn)) {}
SendStore::~SendStore() = default;

pg::Connection& SendStore::db() {
  if (db_ && !db_->healthy()) db_.reset();
  if (!db_) {
    auto conn = std::make_unique<pg::Connection>(dsn_);
    conn->prepare("sender_load", kLoad);
    conn->prepare("sender_claim", kClaim);
    conn->prepare("sender_defer", kDefer);
    conn->prepare("sender_record", kRecord);
    conn->prepare("sender_take_due", kTakeDue);
    db_ = std::move(conn);
  }
  return *db_;
}

// A refused statement leaves the connection usable; anything else (the
// server went away) drops it so that the next call reconnects.
template <typename Fn>
auto SendStore::guarded(Fn&& fn) -> decltype(fn(std::declval<pg::Connection&>())) {
  try {
    return fn(db());
  } catch (const pg::QueryError&) {
    throw;
  } catch (const DbError&) {
    if (db_ && !db_->healthy()) db_.reset();
    throw;
  }
}

std::vector<LoadedMessage> SendStore::load(const std::vector<MessageKey>& keys) {
  std::vector<LoadedMessage> loaded;
  if (keys.empty()) return loaded;
  const std::string batch = keys_json(keys);
  const pg::Result rows = guarded([&](pg::Connection& db) { return db.exec_prepared("sender_load", {batch}); });
  loaded.reserve(static_cast<size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    LoadedMessage message;
    message.input_index = static_cast<size_t>(rows.get_int(r, 0));
    message.key.tenant_id = rows.get_int(r, 1);
    message.key.created_at = rows.get(r, 2);
    message.key.id = rows.get(r, 3);
    message.to = rows.get(r, 4);
    message.from = rows.get(r, 5);
    message.body = rows.get(r, 6);
    message.content_sid = rows.get(r, 7);
    message.content_variables = rows.get(r, 8);
    message.media_urls = media_urls(rows.get(r, 9));
    message.validity_period_s = static_cast<int>(rows.get_int(r, 10));
    loaded.push_back(std::move(message));
  }
  return loaded;
}

std::map<std::string, Claim> SendStore::claim(const std::vector<MessageKey>& keys) {
  std::map<std::string, Claim> claimed;
  if (keys.empty()) return claimed;
  const std::string batch = keys_json(keys);
  const pg::Result rows = guarded([&](pg::Connection& db) { return db.exec_prepared("sender_claim", {batch}); });
  for (int r = 0; r < rows.rows(); ++r) {
    Claim claim;
    claim.outcome = rows.get(r, 2) == "canceled" ? ClaimOutcome::CanceledOptedOut : ClaimOutcome::Dispatching;
    claim.attempt = static_cast<int>(rows.get_int(r, 1));
    claimed.emplace(rows.get(r, 0), claim);
  }
  return claimed;
}

void SendStore::defer(const std::vector<std::pair<MessageKey, std::chrono::milliseconds>>& messages) {
  if (messages.empty()) return;
  json::Value array = json::array();
  for (const auto& [key, delay] : messages) {
    json::Value object = key_object(key);
    json::set(object.get(), "delay_ms", json::integer(delay.count()));
    json::append(array.get(), std::move(object));
  }
  const std::string batch = json::dump(array.get());
  guarded([&](pg::Connection& db) { return db.exec_prepared("sender_defer", {batch}); });
}

std::vector<std::string> SendStore::record(const std::vector<SendRecord>& records) {
  std::vector<std::string> results;
  if (records.empty()) return results;
  json::Value array = json::array();
  for (const SendRecord& record : records) {
    json::Value object = key_object(record.key);
    json::set(object.get(), "attempt", json::integer(record.attempt));
    json::set(object.get(), "outcome", json::string(record.outcome));
    if (!record.sid.empty()) json::set(object.get(), "sid", json::string(record.sid));
    if (record.error_code) json::set(object.get(), "error_code", json::integer(*record.error_code));
    if (!record.error_message.empty()) json::set(object.get(), "error_message", json::string(record.error_message));
    json::set(object.get(), "retry_in_ms", json::integer(record.retry_in_ms));
    if (!record.last_error.empty()) json::set(object.get(), "last_error", json::string(record.last_error));
    json::append(array.get(), std::move(object));
  }
  const std::string batch = json::dump(array.get());
  const pg::Result rows = guarded([&](pg::Connection& db) {
    // The function runs a few statements per outcome against the
    // partitioned messages table. Custom plans (Postgres' default for them)
    // are planned again on every call, which cost more than running them
    // (measured: 1.3 ms per outcome, half of that with generic plans, whose
    // partition pruning happens at run time). SET LOCAL keeps the setting
    // to this transaction; the other statements keep their own plans.
    pg::Transaction transaction(db);
    db.exec("SET LOCAL plan_cache_mode = force_generic_plan");
    pg::Result result = db.exec_prepared("sender_record", {batch});
    transaction.commit();
    return result;
  });
  results.assign(records.size(), "missing");
  for (int r = 0; r < rows.rows(); ++r) {
    const long long ord = rows.get_int(r, 0);
    if (ord >= 1 && static_cast<size_t>(ord) <= results.size()) results[static_cast<size_t>(ord - 1)] = rows.get(r, 1);
  }
  return results;
}

std::shared_ptr<const TenantInfo> SendStore::tenant(TenantDirectory& directory, const Secret& master_key,
                                                   long long tenant_id) {
  return guarded([&](pg::Connection& db) { return directory.find(db, master_key, tenant_id); });
}

std::vector<DueMessage> SendStore::take_due(int limit, const RequeueCutoff& cutoff) {
  const std::string limit_text = std::to_string(limit);
  const auto cutoff_text = [](const std::optional<long long>& ms) {
    return ms ? std::to_string(*ms) : std::string("Infinity");
  };
  const std::string high_text = cutoff_text(cutoff.high_ms);
  const std::string normal_text = cutoff_text(cutoff.normal_ms);
  const pg::Result rows = guarded([&](pg::Connection& db) {
    return db.exec_prepared("sender_take_due", {limit_text, high_text, normal_text});
  });
  std::vector<DueMessage> due;
  due.reserve(static_cast<size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) {
    DueMessage message;
    message.key.tenant_id = rows.get_int(r, 0);
    message.key.created_at = rows.get(r, 1);
    message.key.id = rows.get(r, 2);
    message.priority = static_cast<int>(rows.get_int(r, 3));
    due.push_back(std::move(message));
  }
  return due;
}

}  // namespace wagate::sender
