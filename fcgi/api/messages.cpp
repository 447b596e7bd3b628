// messages.cpp — reading messages: by id or MessageSid with their history, delivery status, the paged list.
#include "messages.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <string>

#include "auth.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/message_status.hpp"
#include "wagate/pg.hpp"
#include "wagate/phone.hpp"
#include "wagate/text.hpp"
#include "wagate/time.hpp"
#include "wagate/webhook.hpp"

namespace wagate::api {
namespace {

// Version 1 carried no tag; it is refused like any other foreign cursor.
constexpr unsigned char kCursorVersion = 2;
constexpr size_t kCursorTagBytes = 16;  // half of HMAC-SHA256: forging one takes 2^128 tries
constexpr size_t kCursorBytes = 1 + 8 + 16 + kCursorTagBytes;
constexpr std::string_view kCursorKeyLabel = "wagate pagination cursor key v1";
// 9999-12-31T23:59:59.999999Z: beyond it a forged cursor would name a time
// Postgres cannot hold.
constexpr long long kMaxMicros = 253402300799999999LL;

constexpr std::array<std::string_view, 7> kListParams = {"phone", "status", "direction", "since",
                                                         "until", "limit",  "cursor"};

[[noreturn]] void invalid(std::string_view field, const std::string& message) {
  throw ApiError(400, "invalid_parameter", message, std::string(field));
}

// The tag over a cursor's place (version, time, id) and its scope. The
// scope's length goes first so that no scope can end where another's place
// begins.
std::string cursor_tag(const Secret& key, std::string_view scope, std::string_view place) {
  const std::string message = std::to_string(scope.size()) + ":" + std::string(scope) + std::string(place);
  return crypto::hmac_sha256(key.reveal(), message).substr(0, kCursorTagBytes);
}

// ---- SQL ----

// A timestamptz column as the API shows times: ISO 8601 in UTC, microseconds.
std::string iso(std::string_view column) {
  return "to_char(" + std::string(column) + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

// The columns every message answer is built from, in this order.
enum Column : int {
  kId, kSid, kDirection, kFrom, kTo, kBody, kContentSid, kContentVariables, kMedia, kStatus, kErrorCode,
  kErrorMessage, kCreatedAt, kQueuedAt, kSentAt, kDeliveredAt, kReadAt, kFailedAt, kLastStatusAt, kDeliveryMs,
  kAttempts, kClientRef, kRetryOf, kDistributionId, kCreatedMicros, kPrice, kPriceUnit,
};

const std::string& message_columns() {
  static const std::string columns =
      "m.id::text, m.message_sid, m.direction, m.from_addr, m.to_addr, m.body, m.content_sid, "
      "m.content_variables::text, m.media::text, m.status, m.error_code, m.error_message, " +
      iso("m.created_at") + ", " + iso("m.queued_at") + ", " + iso("m.sent_at") + ", " + iso("m.delivered_at") +
      ", " + iso("m.read_at") + ", " + iso("m.failed_at") + ", " + iso("m.last_status_at") +
      ", m.delivery_ms, m.attempts, m.client_ref, m.retry_of::text, m.distribution_id::text, "
      "(extract(epoch FROM m.created_at) * 1000000)::bigint, m.price::text, m.price_unit";
  return columns;
}

json::Value text_or_null(const pg::Result& rows, int row, int col) {
  return rows.is_null(row, col) ? json::null() : json::string(rows.get(row, col));
}

json::Value integer_or_null(const pg::Result& rows, int row, int col) {
  return rows.is_null(row, col) ? json::null() : json::integer(rows.get_int(row, col));
}

// A jsonb column (sent as text) embedded as JSON.
json::Value embedded_json(const pg::Result& rows, int row, int col) {
  if (rows.is_null(row, col)) return json::null();
  json::ParseResult parsed = json::parse(rows.get(row, col));
  return parsed.ok() ? std::move(parsed.value) : json::null();
}

void set_timestamps(json_t* out, const pg::Result& rows, int row) {
  json::set(out, "created_at", text_or_null(rows, row, kCreatedAt));
  json::set(out, "queued_at", text_or_null(rows, row, kQueuedAt));
  json::set(out, "sent_at", text_or_null(rows, row, kSentAt));
  json::set(out, "delivered_at", text_or_null(rows, row, kDeliveredAt));
  json::set(out, "read_at", text_or_null(rows, row, kReadAt));
  json::set(out, "failed_at", text_or_null(rows, row, kFailedAt));
  json::set(out, "last_status_at", text_or_null(rows, row, kLastStatusAt));
  json::set(out, "delivery_ms", integer_or_null(rows, row, kDeliveryMs));
}

json::Value row_error(const pg::Result& rows, int row) {
  std::optional<int> code;
  if (!rows.is_null(row, kErrorCode)) code = static_cast<int>(rows.get_int(row, kErrorCode));
  return error_object(code, rows.optional(row, kErrorMessage));
}

json::Value message_json(const pg::Result& rows, int row) {
  json::Value out = json::object();
  json_t* o = out.get();
  json::set(o, "id", json::string(rows.get(row, kId)));
  json::set(o, "message_sid", text_or_null(rows, row, kSid));
  json::set(o, "direction", json::string(rows.get(row, kDirection)));
  json::set(o, "from", text_or_null(rows, row, kFrom));
  json::set(o, "to", text_or_null(rows, row, kTo));
  json::set(o, "body", text_or_null(rows, row, kBody));
  json::set(o, "content_sid", text_or_null(rows, row, kContentSid));
  json::set(o, "content_variables", embedded_json(rows, row, kContentVariables));
  json::set(o, "media", embedded_json(rows, row, kMedia));
  json::set(o, "status", json::string(rows.get(row, kStatus)));
  json::set(o, "error", row_error(rows, row));
  set_timestamps(o, rows, row);
  json::set(o, "attempts", json::integer(rows.get_int(row, kAttempts)));
  json::set(o, "client_ref", text_or_null(rows, row, kClientRef));
  json::set(o, "retry_of", text_or_null(rows, row, kRetryOf));
  json::set(o, "distribution_id", text_or_null(rows, row, kDistributionId));
  // Twilio's price as it wrote it ("-0.00500", negative for a charge), set by
  // wagate-maint's price job some minutes after the final status; null until then.
  json::set(o, "price", text_or_null(rows, row, kPrice));
  json::set(o, "price_unit", text_or_null(rows, row, kPriceUnit));
  return out;
}

// The compact form of delivery-status: where the message stands, not what it says.
json::Value delivery_json(const pg::Result& rows, int row) {
  json::Value out = json::object();
  json_t* o = out.get();
  json::set(o, "id", json::string(rows.get(row, kId)));
  json::set(o, "message_sid", text_or_null(rows, row, kSid));
  json::set(o, "status", json::string(rows.get(row, kStatus)));
  json::set(o, "error", row_error(rows, row));
  set_timestamps(o, rows, row);
  return out;
}

// Every callback stored for the SID, in the order it arrived (duplicates
// were stored once; late ones are there with applied and previous_status).
json::Value history_json(pg::Connection& db, long long tenant_id, const std::optional<std::string>& sid) {
  json::Value history = json::array();
  if (!sid) return history;
  db.prepare("messages_history",
             "SELECT status, previous_status, error_code, error_message, " + iso("received_at") +
                 ", applied FROM status_events WHERE tenant_id = $1 AND message_sid = $2 "
                 "ORDER BY received_at, event_id");
  const pg::Result events = db.exec_prepared("messages_history", {std::to_string(tenant_id), *sid});
  for (int i = 0; i < events.rows(); ++i) {
    json::Value event = json::object();
    json::set(event.get(), "status", json::string(events.get(i, 0)));
    json::set(event.get(), "previous_status", text_or_null(events, i, 1));
    json::set(event.get(), "error_code", integer_or_null(events, i, 2));
    json::set(event.get(), "error_message", text_or_null(events, i, 3));
    json::set(event.get(), "received_at", json::string(events.get(i, 4)));
    json::set(event.get(), "applied", json::boolean(events.get(i, 5) == "t"));
    json::append(history.get(), std::move(event));
  }
  return history;
}

// The message row of a uuid or a SID, within the tenant; 0 rows when there
// is none (or it is another tenant's).
pg::Result find_message(pg::Connection& db, long long tenant_id, MessageRef kind, std::string_view ref) {
  const std::string tenant = std::to_string(tenant_id);
  if (kind == MessageRef::Id) {
    db.prepare("messages_by_id",
               "SELECT " + message_columns() + " FROM messages m WHERE m.id = $1::uuid AND m.tenant_id = $2");
    return db.exec_prepared("messages_by_id", {ref, tenant});
  }
  // message_index names the partition (created_at), so only one is probed.
  db.prepare("messages_by_sid",
             "SELECT " + message_columns() +
                 " FROM message_index i JOIN messages m ON m.tenant_id = i.tenant_id AND m.created_at = i.created_at "
                 "AND m.id = i.message_id WHERE i.message_sid = $1 AND i.tenant_id = $2");
  return db.exec_prepared("messages_by_sid", {ref, tenant});
}

// The cursor key of the running config. Asked for only when a cursor is read
// or given out, so a deployment without a master key still lists one page.
Secret configured_cursor_key(const config::Config& config) {
  const Secret master = webhook::master_key(config);
  if (master.empty()) {
    throw ConfigError("master_key_file is not set: pagination cursors are signed with a key derived from it");
  }
  return cursor_key(master);
}

http::Response not_found() {
  return http::Response::error(404, "not_found", "no message with this id or MessageSid");
}

// Collects query parameters and numbers them $1, $2, ... as they are bound.
class Binder {
 public:
  std::string bind(std::string value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  [[nodiscard]] std::vector<pg::Param> params() const {
    std::vector<pg::Param> out;
    out.reserve(values_.size());
    for (const std::string& value : values_) out.emplace_back(value);
    return out;
  }

 private:
  std::vector<std::string> values_;
};

// One side of the list: the conditions shared by both directions plus the
// contact's address column for that direction.
std::string list_branch(const ListQuery& query, const std::optional<Cursor>& after, Binder& binder,
                        const std::string& tenant, const std::string& limit, std::string_view direction,
                        std::string_view contact_column, const std::string& contact) {
  std::string sql = "SELECT " + message_columns() +
                    ", m.created_at AS sort_at, m.id AS sort_id FROM messages m WHERE m.tenant_id = " + tenant;
  if (!direction.empty()) sql += " AND m.direction = '" + std::string(direction) + "'";
  if (!contact.empty()) sql += " AND m." + std::string(contact_column) + " = " + contact;
  if (!query.statuses.empty()) {
    std::string array = "{";
    for (const std::string& status : query.statuses) array += (array.size() > 1 ? "," : "") + status;
    sql += " AND m.status = ANY(" + binder.bind(array + "}") + "::text[])";
  }
  if (query.since) sql += " AND m.created_at >= " + binder.bind(*query.since) + "::timestamptz";
  if (query.until) sql += " AND m.created_at < " + binder.bind(*query.until) + "::timestamptz";
  if (after) {
    sql += " AND (m.created_at, m.id) < (" + binder.bind(time::postgres_literal(after->created_us)) +
           "::timestamptz, " + binder.bind(after->id) + "::uuid)";
  }
  return sql + " ORDER BY m.created_at DESC, m.id DESC LIMIT " + limit;
}

}  // namespace

bool is_message_sid(std::string_view text) {
  if (text.size() != 34 || !(text.starts_with("SM") || text.starts_with("MM"))) return false;
  for (const char c : text.substr(2)) {
    if (!text::is_hex(c)) return false;
  }
  return true;
}

MessageRef classify_message_ref(std::string_view ref) {
  if (text::is_uuid(ref)) return MessageRef::Id;
  if (is_message_sid(ref)) return MessageRef::Sid;
  return MessageRef::Invalid;
}

Secret cursor_key(const Secret& master_key) {
  return Secret(crypto::hmac_sha256(master_key.reveal(), kCursorKeyLabel));
}

std::string encode_cursor(const Cursor& cursor, const Secret& key, std::string_view scope) {
  std::string bytes;
  bytes.reserve(kCursorBytes);
  bytes.push_back(static_cast<char>(kCursorVersion));
  const auto micros = static_cast<unsigned long long>(cursor.created_us);
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((micros >> shift) & 0xFFU));
  bytes += text::uuid_bytes(cursor.id).value_or(std::string(16, '\0'));
  bytes += cursor_tag(key, scope, bytes);
  return crypto::base64url(bytes);
}

std::optional<Cursor> decode_cursor(std::string_view text, const Secret& key, std::string_view scope) {
  const std::optional<std::string> bytes = crypto::unbase64url(text);
  if (!bytes || bytes->size() != kCursorBytes || static_cast<unsigned char>((*bytes)[0]) != kCursorVersion) {
    return std::nullopt;
  }
  const std::string_view place = std::string_view(*bytes).substr(0, kCursorBytes - kCursorTagBytes);
  if (!crypto::constant_time_equal(cursor_tag(key, scope, place), std::string_view(*bytes).substr(place.size()))) {
    return std::nullopt;
  }
  unsigned long long micros = 0;
  for (size_t i = 1; i <= 8; ++i) micros = (micros << 8U) | static_cast<unsigned char>((*bytes)[i]);
  // Signed by us, so in range; checked all the same, as the literal needs it.
  if (micros > static_cast<unsigned long long>(kMaxMicros)) return std::nullopt;
  return Cursor{static_cast<long long>(micros), text::uuid_text(place.substr(9))};
}

std::string cursor_scope(long long tenant_id, const ListQuery& query) {
  // One line per filter, each value free of newlines (phones are E.164,
  // statuses and directions come from fixed lists, times from parse_time),
  // so two different queries never share a scope.
  std::vector<std::string> statuses = query.statuses;
  std::sort(statuses.begin(), statuses.end());
  std::string status_list;
  for (const std::string& status : statuses) status_list += (status_list.empty() ? "" : ",") + status;
  return "tenant=" + std::to_string(tenant_id) + "\nphone=" + query.phone.value_or("") + "\nstatus=" + status_list +
         "\ndirection=" + query.direction.value_or("") + "\nsince=" + query.since.value_or("") +
         "\nuntil=" + query.until.value_or("");
}

std::optional<Cursor> checked_cursor(const ListQuery& query, const Secret& key, long long tenant_id) {
  if (!query.cursor) return std::nullopt;
  std::optional<Cursor> cursor = decode_cursor(*query.cursor, key, cursor_scope(tenant_id, query));
  if (!cursor) {
    invalid("cursor",
            "cursor is not one this API gave out for this query: pass next_cursor unchanged, with the same phone, "
            "status, direction, since and until (limit may change), or leave cursor out to start from the newest");
  }
  return cursor;
}

std::optional<std::string> parse_time(std::string_view text) {
  const std::optional<long long> micros = time::parse_iso8601(text);
  if (!micros) return std::nullopt;
  return time::postgres_literal(*micros);
}

std::optional<std::string> percent_decode(std::string_view text) {
  return text::percent_decode(text, text::Plus::Literal);
}

ListQuery parse_list_query(std::string_view query, std::string_view default_country_code) {
  ListQuery result;
  std::vector<std::string> seen;
  size_t pos = 0;
  while (pos <= query.size()) {
    const size_t amp = query.find('&', pos);
    const std::string_view item = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? query.size() + 1 : amp + 1;
    if (item.empty()) continue;
    const size_t equals = item.find('=');
    const std::optional<std::string> name = percent_decode(item.substr(0, equals));
    const std::optional<std::string> value =
        percent_decode(equals == std::string_view::npos ? std::string_view() : item.substr(equals + 1));
    if (!name) invalid("query", "the query string has a malformed %-escape");
    bool known = false;
    for (const std::string_view param : kListParams) known = known || param == *name;
    if (!known) invalid(*name, "unknown parameter '" + *name + "'; known: phone, status, direction, since, until, "
                                "limit, cursor");
    if (!value) invalid(*name, *name + " has a malformed %-escape");
    for (const std::string& earlier : seen) {
      if (earlier == *name) invalid(*name, *name + " is given more than once");
    }
    seen.push_back(*name);
    if (value->empty()) invalid(*name, *name + " must not be empty");
    const std::string& v = *value;

    if (*name == "phone") {
      const phone::Normalized normalized = phone::normalize(v, default_country_code);
      if (!normalized.ok()) throw ApiError(400, "invalid_phone", "phone " + normalized.reason, "phone");
      result.phone = normalized.e164;
    } else if (*name == "status") {
      size_t start = 0;
      while (start <= v.size()) {
        const size_t comma = v.find(',', start);
        const std::string status = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? v.size() + 1 : comma + 1;
        if (!message_status::known(status)) {
          std::string names;
          for (const message_status::Status& entry : message_status::kAll) {
            if (!names.empty()) names += ", ";
            names += entry.name;
          }
          invalid("status", "unknown status '" + status + "'; statuses are " + names + " (comma-separated)");
        }
        bool duplicate = false;
        for (const std::string& s : result.statuses) duplicate = duplicate || s == status;
        if (!duplicate) result.statuses.push_back(status);
      }
    } else if (*name == "direction") {
      if (v != "inbound" && v != "outbound") invalid("direction", "direction must be inbound or outbound");
      result.direction = v;
    } else if (*name == "since" || *name == "until") {
      std::optional<std::string> time = parse_time(v);
      if (!time) {
        invalid(*name, *name + " must be " + std::string(time::kGrammarHint));
      }
      (*name == "since" ? result.since : result.until) = std::move(time);
    } else if (*name == "limit") {
      int limit = -1;
      if (v.size() > 3 || std::from_chars(v.data(), v.data() + v.size(), limit).ptr != v.data() + v.size()) limit = -1;
      if (limit < 1 || limit > kMaxListLimit) {
        invalid("limit", "limit must be a whole number from 1 to " + std::to_string(kMaxListLimit));
      }
      result.limit = limit;
    } else {
      // Opened by checked_cursor once every filter it is bound to is known.
      result.cursor = v;
    }
  }
  return result;
}

json::Value error_object(std::optional<int> code, const std::optional<std::string>& message) {
  if (!code && !message) return json::null();
  json::Value out = json::object();
  json_t* o = out.get();
  if (!code) {
    // wagate's own failure text without a Twilio code (e.g. attempts ran out).
    json::set(o, "code", json::null());
    json::set(o, "message", json::string(*message));
    json::set(o, "description", json::null());
    json::set(o, "cause", json::null());
    json::set(o, "action", json::null());
    json::set(o, "retryable", json::null());
    json::set(o, "category", json::null());
    return out;
  }
  const error_codes::ErrorCode entry = error_codes::describe(*code);
  json::set(o, "code", json::integer(*code));
  json::set(o, "message", json::string(message && !message->empty() ? std::string_view(*message) : entry.description));
  json::set(o, "description", json::string(entry.description));
  json::set(o, "cause", json::string(entry.cause));
  json::set(o, "action", json::string(entry.action));
  json::set(o, "retryable", json::boolean(entry.retryable));
  json::set(o, "category", json::string(error_codes::category_name(entry.category)));
  return out;
}

http::Response get_message(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::string ref(request.param("id"));
  const MessageRef kind = classify_message_ref(ref);
  if (kind == MessageRef::Invalid) {
    invalid("id", "a message is named by its id (a uuid) or its MessageSid (SM or MM and 32 hex digits)");
  }
  pg::Connection& db = context.db();
  // One snapshot: the history matches the row it is shown with.
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const pg::Result rows = find_message(db, auth.key->tenant_id, kind, ref);
  if (rows.rows() == 0) return not_found();
  json::Value body = message_json(rows, 0);
  json::set(body.get(), "history", history_json(db, auth.key->tenant_id, rows.optional(0, kSid)));
  tx.commit();
  return http::Response::json(200, json::dump(body.get()));
}

http::Response get_delivery_status(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::string sid(request.param("sid"));
  if (!is_message_sid(sid)) invalid("message_sid", "a MessageSid is SM or MM followed by 32 hex digits");
  pg::Connection& db = context.db();
  pg::Transaction tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const pg::Result rows = find_message(db, auth.key->tenant_id, MessageRef::Sid, sid);
  if (rows.rows() == 0) return not_found();
  json::Value body = delivery_json(rows, 0);
  json::set(body.get(), "history", history_json(db, auth.key->tenant_id, sid));
  tx.commit();
  return http::Response::json(200, json::dump(body.get()));
}

http::Response list_messages(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const ListQuery query = parse_list_query(request.query, auth.key->default_country_code);
  const long long tenant_id = auth.key->tenant_id;
  std::optional<Secret> key;
  const auto signing_key = [&]() -> const Secret& {
    if (!key) key = configured_cursor_key(context.config());
    return *key;
  };
  const std::optional<Cursor> after = query.cursor ? checked_cursor(query, signing_key(), tenant_id) : std::nullopt;

  Binder binder;
  const std::string tenant = binder.bind(std::to_string(tenant_id));
  // One row more than the page: whether it exists says if there is a next page.
  const std::string limit = binder.bind(std::to_string(query.limit + 1));
  std::string sql;
  if (!query.phone) {
    sql = list_branch(query, after, binder, tenant, limit, query.direction.value_or(""), {}, {});
  } else {
    // The contact is the recipient of outbound messages and the sender of
    // inbound ones; each side walks its own index in created_at order.
    const std::string contact = binder.bind("whatsapp:" + *query.phone);
    const bool outbound = query.direction.value_or("outbound") == "outbound";
    const bool inbound = query.direction.value_or("inbound") == "inbound";
    std::string out_sql =
        outbound ? list_branch(query, after, binder, tenant, limit, "outbound", "to_addr", contact) : "";
    std::string in_sql =
        inbound ? list_branch(query, after, binder, tenant, limit, "inbound", "from_addr", contact) : "";
    if (outbound && inbound) {
      sql = "(" + out_sql + ") UNION ALL (" + in_sql + ") ORDER BY sort_at DESC, sort_id DESC LIMIT " + limit;
    } else {
      sql = outbound ? out_sql : in_sql;
    }
  }
  const std::vector<pg::Param> params = binder.params();
  const pg::Result rows = context.db().exec(sql, params);

  const int shown = std::min(rows.rows(), query.limit);
  json::Value messages = json::array();
  for (int i = 0; i < shown; ++i) json::append(messages.get(), message_json(rows, i));
  json::Value body = json::object();
  json::set(body.get(), "messages", std::move(messages));
  if (rows.rows() > query.limit) {
    const Cursor next{rows.get_int(shown - 1, kCreatedMicros), std::string(rows.get(shown - 1, kId))};
    json::set(body.get(), "next_cursor",
              json::string(encode_cursor(next, signing_key(), cursor_scope(tenant_id, query))));
  } else {
    json::set(body.get(), "next_cursor", json::null());
  }
  return http::Response::json(200, json::dump(body.get()));
}

}  // namespace wagate::api
