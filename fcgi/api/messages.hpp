// messages.hpp — reading messages: by id or MessageSid with their history, delivery status, the paged list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagate/context.hpp"
#include "wagate/http.hpp"
#include "wagate/json.hpp"
#include "wagate/secret.hpp"

namespace wagate::pg {
class Result;
}

namespace wagate::api {

inline constexpr int kDefaultListLimit = 50;
inline constexpr int kMaxListLimit = 200;

// What the {id} of /messages/{id} names: our uuid, or Twilio's MessageSid
// ("SM" or "MM" and 32 hex digits).
enum class MessageRef { Id, Sid, Invalid };
[[nodiscard]] MessageRef classify_message_ref(std::string_view ref);
[[nodiscard]] bool is_message_sid(std::string_view text);

// A place in the newest-first list: the (created_at, id) of the last message
// of a page. The next page holds the messages strictly before it in that
// order, so rows inserted meanwhile (all newer) never shift a page.
struct Cursor {
  long long created_us = 0;  // created_at in microseconds since the Unix epoch (UTC)
  std::string id;            // the message's uuid, lower-case canonical text
  friend bool operator==(const Cursor&, const Cursor&) = default;
};

// The key cursors are signed with: HMAC-SHA256 of a fixed label under the
// master key, so every API process on every node agrees on it without a
// setting of its own (and a new master key retires the cursors given out).
[[nodiscard]] Secret cursor_key(const Secret& master_key);

// Opaque to clients: base64url (no padding) of a version byte, created_us
// (8 bytes, big-endian), the uuid's 16 bytes and a 16-byte tag, the first
// half of HMAC-SHA256 under the cursor key over those bytes and the scope
// (cursor_scope: the tenant and the query's filters). A cursor therefore
// pages on only the query and the tenant it was given out for.
[[nodiscard]] std::string encode_cursor(const Cursor& cursor, const Secret& key, std::string_view scope);
// nullopt for anything encode_cursor did not make with this key and scope:
// bad base64url, length or version, an altered byte, another tenant's or
// another query's cursor.
[[nodiscard]] std::optional<Cursor> decode_cursor(std::string_view text, const Secret& key, std::string_view scope);

// A time in the grammar of time::parse_iso8601, as a literal Postgres reads
// without consulting the session TimeZone; nullopt when it is not one.
[[nodiscard]] std::optional<std::string> parse_time(std::string_view text);

// Percent-decodes a URL component. '+' stays '+' (a phone number's plus
// written unencoded is the common case); nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text);

// GET /api/v1/whatsapp/messages query, checked. Throws ApiError 400
// `invalid_parameter` naming the parameter (unknown, repeated, empty,
// malformed, out of range), or `invalid_phone` for a phone that does not
// normalise with the tenant's default country code.
struct ListQuery {
  std::optional<std::string> phone;  // E.164
  std::vector<std::string> statuses;
  std::optional<std::string> direction;  // "inbound" | "outbound"
  std::optional<std::string> since;      // Postgres literals from parse_time
  std::optional<std::string> until;
  int limit = kDefaultListLimit;
  std::optional<std::string> cursor;  // as given; checked_cursor opens it
};
[[nodiscard]] ListQuery parse_list_query(std::string_view query, std::string_view default_country_code);

// What a cursor is bound to: the tenant and the query's filters (phone, the
// set of statuses, direction, since, until). Not the limit: a client may
// change the page size from one page to the next.
[[nodiscard]] std::string cursor_scope(long long tenant_id, const ListQuery& query);

// The place the query's cursor names (nullopt when it has none). Throws
// ApiError 400 `invalid_parameter` (field `cursor`) unless this API gave the
// cursor out, unaltered, for this tenant and these filters.
[[nodiscard]] std::optional<Cursor> checked_cursor(const ListQuery& query, const Secret& key, long long tenant_id);

// {"code", "message", "description", "cause", "action", "retryable",
// "category"} for a message's error (see error_codes.hpp); JSON null when it
// has neither code nor message. `message` is Twilio's own text when it gave
// one, else the table's description.
[[nodiscard]] json::Value error_object(std::optional<int> code, const std::optional<std::string>& message);

// The routes (scope `read`). A message of another tenant is answered exactly
// like one that does not exist: 404 `not_found`.
//   GET /api/v1/whatsapp/messages/{id or MessageSid}: the message and its history
//   GET /api/v1/whatsapp/delivery-status/{MessageSid}: status, timestamps and history
//   GET /api/v1/whatsapp/messages?...: {"messages": [...], "next_cursor"}
http::Response get_message(http::Request& request, Context& context);
http::Response get_delivery_status(http::Request& request, Context& context);
http::Response list_messages(http::Request& request, Context& context);

}  // namespace wagate::api
