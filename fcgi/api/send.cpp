// send.cpp — POST /api/v1/whatsapp/send: validate, apply WhatsApp's rules, record, queue; idempotent.
#include "send.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "auth.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/idempotency.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/phone.hpp"
#include "wagate/redis.hpp"

namespace wagate::api {
namespace {

constexpr std::string_view kMessagesPath = "/api/v1/whatsapp/messages/";

constexpr std::array<std::string_view, 8> kFields = {"to",        "body",     "variables", "content_sid",
                                                     "content_variables", "media_url", "priority",  "client_ref"};

[[noreturn]] void invalid(std::string_view field, const std::string& message) {
  throw ApiError(400, "invalid_field", message, std::string(field));
}

// A member, with JSON null read as absent: clients that serialise every
// field of a struct send nulls for the ones they did not set.
const json_t* member(const json_t* object, const char* name) {
  const json_t* value = json_object_get(object, name);
  return value == nullptr || json_is_null(value) ? nullptr : value;
}

std::string_view string_of(const json_t* value) {
  return {json_string_value(value), json_string_length(value)};
}

std::string_view required_string(const json_t* value, const char* name) {
  if (!json_is_string(value)) invalid(name, std::string(name) + " must be a string");
  return string_of(value);
}

// An object whose members are all strings: {"name": "Ana"}.
Variables string_object(const json_t* value, const char* name) {
  if (!json_is_object(value)) invalid(name, std::string(name) + " must be an object of strings");
  Variables out;
  const char* key = nullptr;
  json_t* item = nullptr;
  json_object_foreach(const_cast<json_t*>(value), key, item) {
    const std::string field = std::string(name) + "." + key;
    if (*key == '\0') invalid(name, std::string(name) + " has an empty name");
    if (!json_is_string(item)) invalid(field, field + " must be a string");
    out.emplace(key, string_of(item));
  }
  return out;
}

bool is_placeholder_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

// Text that stops growing at a limit: appending what would pass it appends
// only the part that fits and marks the text too long, for good.
class BoundedText {
 public:
  BoundedText(size_t max_chars, size_t size_hint)
      : max_chars_(max_chars),
        max_bytes_(max_chars > std::numeric_limits<size_t>::max() / 4 ? std::numeric_limits<size_t>::max()
                                                                        : max_chars * 4) {
    text_.reserve(std::min(size_hint, max_bytes_));
  }

  // false once the text is too long.
  bool append(std::string_view piece) {
    if (too_long_) return false;
    size_t take = 0;
    for (; take < piece.size(); ++take) {
      // The byte cap only matters for text that is not UTF-8 (continuation
      // bytes count as no character); valid text meets the character cap first.
      if (text_.size() + take == max_bytes_) break;
      if ((static_cast<unsigned char>(piece[take]) & 0xC0U) != 0x80U) {
        if (chars_ == max_chars_) break;
        ++chars_;
      }
    }
    text_.append(piece.substr(0, take));
    too_long_ = take < piece.size();
    return !too_long_;
  }

  [[nodiscard]] bool too_long() const { return too_long_; }
  [[nodiscard]] std::string take() { return std::move(text_); }

 private:
  size_t max_chars_;
  size_t max_bytes_;
  size_t chars_ = 0;
  bool too_long_ = false;
  std::string text_;
};

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool valid_content_sid(std::string_view sid) {
  if (sid.size() != 34 || !sid.starts_with("HX")) return false;
  for (const char c : sid.substr(2)) {
    if (!is_hex(c)) return false;
  }
  return true;
}

// https only: Twilio fetches the media from the public internet, and a
// plain-http URL would hand it (and anyone on the path) the content in clear.
std::string media_url_problem(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return "must be an https:// URL";
  if (url.size() > kMaxUrlLength) return "is longer than " + std::to_string(kMaxUrlLength) + " characters";
  for (const char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return "contains a blank or a control character";
  }
  const std::string_view rest = url.substr(kScheme.size());
  const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) return "has no host";
  return {};
}

std::string json_object_text(const Variables& variables) {
  json::Value object = json::object();
  for (const auto& [name, value] : variables) json::set(object.get(), name.c_str(), json::string(value));
  return json::dump(object.get());
}

std::string media_json(const std::vector<std::string>& urls) {
  json::Value array = json::array();
  for (const std::string& url : urls) {
    json::Value item = json::object();
    json::set(item.get(), "url", json::string(url));
    json::append(array.get(), std::move(item));
  }
  return json::dump(array.get());
}

http::Response accepted_response(std::string body, std::string_view id) {
  http::Response response = http::Response::json(202, std::move(body));
  response.headers.emplace_back("Location", std::string(kMessagesPath) + std::string(id));
  return response;
}

// The stored answer of an earlier request with the same key, as it was,
// marked so that the caller can tell.
http::Response replayed(int status, std::string body) {
  std::string id;
  if (status == 202) {
    const json::ParseResult parsed = json::parse(body);
    if (parsed.ok()) id = std::string(json::get_string(parsed.value.get(), "id").value_or(""));
  }
  http::Response response = id.empty() ? http::Response::json(status, std::move(body)) : accepted_response(body, id);
  response.headers.emplace_back(idempotency::kReplayedHeader, "true");
  return response;
}

struct Recorded {
  http::Response response;
  std::string message_id;  // set when accepted
  std::string created_at;
};

// WhatsApp's rules for this recipient, then the message row: one transaction
// with the idempotency key, so the answer recorded for the key is the one
// this commit made true.
Recorded record(pg::Connection& db, const api_keys::Key& caller, const SendRequest& request,
                const std::string& e164) {
  db.prepare("send_conversation",
             "SELECT opted_out, window_expires_at IS NOT NULL AND window_expires_at > now() "
             "FROM conversations WHERE tenant_id = $1 AND phone = $2");
  // next_attempt_at: if the queue entry below is lost (Redis down, a crash
  // between commit and XADD), the sender's sweeper picks the message up once
  // this time has passed. Nothing accepted waits on Redis alone.
  db.prepare("send_insert",
             "INSERT INTO messages (tenant_id, direction, from_addr, to_addr, body, content_sid, content_variables, "
             "media, status, status_rank, client_ref, priority, attempts, next_attempt_at) "
             "VALUES ($1, 'outbound', $2, $3, $4, $5, $6::jsonb, $7::jsonb, 'accepted', "
             "wagate_status_rank('accepted'), $8, $9::smallint, 0, now() + interval '10 seconds') "
             "RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");

  const std::string tenant = std::to_string(caller.tenant_id);
  const pg::Result conversation = db.exec_prepared("send_conversation", {tenant, e164});
  const bool opted_out = conversation.rows() > 0 && conversation.get(0, 0) == "t";
  const bool window_open = conversation.rows() > 0 && conversation.get(0, 1) == "t";
  if (opted_out) {
    return {http::Response::error(422, "recipient_opted_out",
                                  "the recipient " + e164 + " has opted out (STOP); nothing is sent to them, "
                                  "templates included, until they opt in again",
                                  "to"),
            {}, {}};
  }
  if (request.free_form() && !window_open) {
    return {http::Response::error(422, "outside_session_window",
                                  "no message from " + e164 + " in the last 24 hours, so WhatsApp allows only an "
                                  "approved template: send content_sid (and content_variables) instead of "
                                  "body or media_url",
                                  "to"),
            {}, {}};
  }

  const std::string to_addr = "whatsapp:" + e164;
  const std::string priority =
      std::to_string(request.priority == send_queue::Priority::High ? kPriorityHigh : kPriorityNormal);
  std::optional<std::string> media;
  if (!request.media_urls.empty()) media = media_json(request.media_urls);
  const auto param = [](const std::optional<std::string>& value) -> pg::Param {
    return value ? pg::Param(*value) : std::nullopt;
  };
  const pg::Result row = db.exec_prepared(
      "send_insert", {tenant, param(caller.whatsapp_from), to_addr, param(request.body), param(request.content_sid),
                      param(request.content_variables), param(media), param(request.client_ref), priority});
  Recorded recorded;
  recorded.message_id = std::string(row.get(0, 0));
  recorded.created_at = std::string(row.get(0, 1));
  json::Value body = json::object();
  json::set(body.get(), "id", json::string(recorded.message_id));
  json::set(body.get(), "status", json::string("accepted"));
  json::set(body.get(), "to", json::string(to_addr));
  json::set(body.get(), "created_at", json::string(recorded.created_at));
  recorded.response = accepted_response(json::dump(body.get()), recorded.message_id);
  return recorded;
}

// The queue is told after the commit; a failure is left to the sweeper.
void enqueue_accepted(const http::Request& request, Context& context, const api_keys::Key& caller,
                      send_queue::Priority priority, const Recorded& recorded) {
  try {
    send_queue::enqueue(context.redis(), priority, recorded.message_id, caller.tenant_id, recorded.created_at);
  } catch (const RedisError& e) {
    // The row is committed, so the answer stays 202: the sweeper finds the
    // message once its next_attempt_at passes.
    log::warning("send_enqueue_failed")
        .kv("req_id", request.request_id)
        .kv("tenant", caller.tenant_id)
        .kv("message_id", recorded.message_id)
        .kv("error", e.what());
  }
  log::debug("message_accepted")
      .kv("req_id", request.request_id)
      .kv("tenant", caller.tenant_id)
      .kv("key_id", caller.key_id)
      .kv("message_id", recorded.message_id);
}

}  // namespace

http::Response submit_message(const http::Request& request, Context& context, const api_keys::Key& caller,
                              const SendRequest& message, const std::string& e164) {
  pg::Connection& db = context.db();
  pg::Transaction tx(db);
  Recorded recorded = record(db, caller, message, e164);
  tx.commit();
  if (!recorded.message_id.empty()) enqueue_accepted(request, context, caller, message.priority, recorded);
  return std::move(recorded.response);
}

size_t character_count(std::string_view utf8) {
  size_t count = 0;
  for (const char c : utf8) {
    // Continuation bytes (10xxxxxx) belong to the character before them.
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++count;
  }
  return count;
}

Substitution substitute_variables(std::string_view text, const Variables& variables, size_t max_chars) {
  BoundedText out(max_chars, text.size());
  Substitution result;
  size_t copied = 0;  // text before this is in the output already
  size_t scan = 0;    // where the next "{{" may start
  while (true) {
    const size_t open = text.find("{{", scan);
    if (open == std::string_view::npos) break;
    // "{{", blanks, a name, blanks, "}}".
    size_t i = open + 2;
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t name_begin = i;
    while (i < text.size() && is_placeholder_char(text[i])) ++i;
    const size_t name_end = i;
    while (i < text.size() && text[i] == ' ') ++i;
    if (name_end == name_begin || text.substr(i, 2) != "}}") {
      // Not a placeholder ("{{ }}", "{{a b}}", "{{ unclosed"): it stays as
      // text. Nothing between open + 2 and i is a brace, so no placeholder
      // starts there; the search goes on from i, or from the second brace of
      // "{{{" so that "{{{name}}" still finds "{{name}}". Never backwards:
      // that is what keeps a body of braces linear.
      scan = i == open + 2 ? open + 1 : i;
      continue;
    }
    const std::string_view name = text.substr(name_begin, name_end - name_begin);
    const auto it = variables.find(name);
    if (it == variables.end()) {
      result.missing = std::string(name);
      result.text = out.take();
      return result;
    }
    if (!out.append(text.substr(copied, open - copied)) || !out.append(it->second)) break;
    copied = scan = i + 2;
  }
  if (!out.too_long()) out.append(text.substr(copied));
  result.too_long = out.too_long();
  result.text = out.take();
  return result;
}

SendRequest parse_send_request(std::string_view json_body) {
  if (json_body.empty()) throw ApiError(400, "invalid_json", "the request body is empty; send a JSON object");
  const json::ParseResult parsed = json::parse(json_body);
  if (!parsed.ok()) throw ApiError(400, "invalid_json", "the body is not valid JSON: " + parsed.error);
  const json_t* root = parsed.value.get();
  if (!json_is_object(root)) throw ApiError(400, "invalid_json", "the body must be a JSON object");

  const char* key = nullptr;
  json_t* value = nullptr;
  json_object_foreach(const_cast<json_t*>(root), key, value) {
    bool known = false;
    for (const std::string_view field : kFields) known = known || field == key;
    if (!known) invalid(key, std::string("unknown field '") + key + "'");
  }

  SendRequest request;
  const json_t* to = member(root, "to");
  if (to == nullptr) invalid("to", "to is required: the recipient's phone number");
  request.to = std::string(required_string(to, "to"));

  const json_t* body = member(root, "body");
  const json_t* variables = member(root, "variables");
  const json_t* content_sid = member(root, "content_sid");
  const json_t* content_variables = member(root, "content_variables");
  const json_t* media_url = member(root, "media_url");

  if (body != nullptr && content_sid != nullptr) {
    invalid("content_sid", "send either body (free-form text) or content_sid (a template), not both");
  }
  if (variables != nullptr && body == nullptr) invalid("variables", "variables needs a body with {{name}} placeholders");
  if (content_variables != nullptr && content_sid == nullptr) {
    invalid("content_variables", "content_variables needs content_sid");
  }

  if (body != nullptr) {
    const std::string_view text = required_string(body, "body");
    if (text.empty()) invalid("body", "body must not be empty");
    const Variables values = variables != nullptr ? string_object(variables, "variables") : Variables{};
    // Rendering stops at the limit, so a few placeholders of a long variable
    // cost no more than the limit's worth of text.
    Substitution substituted = substitute_variables(text, values, kMaxBodyChars);
    if (!substituted.missing.empty()) {
      invalid("variables", "no variable for the placeholder {{" + substituted.missing + "}} in body");
    }
    if (substituted.too_long) {
      const std::string limit = std::to_string(kMaxBodyChars);
      if (variables != nullptr) {
        invalid("body", "body is longer than " + limit + " characters after variable substitution; at most " +
                            limit + " are allowed");
      }
      // Without variables nothing was substituted: the body's own length is exact.
      invalid("body", "body is " + std::to_string(character_count(text)) + " characters; at most " + limit +
                          " are allowed");
    }
    if (substituted.text.empty()) invalid("body", "body is empty after variable substitution");
    request.body = std::move(substituted.text);
  }

  if (content_sid != nullptr) {
    const std::string_view sid = required_string(content_sid, "content_sid");
    if (!valid_content_sid(sid)) invalid("content_sid", "content_sid must be HX followed by 32 hex digits");
    request.content_sid = std::string(sid);
    if (content_variables != nullptr) {
      request.content_variables = json_object_text(string_object(content_variables, "content_variables"));
    }
  }

  if (media_url != nullptr) {
    if (content_sid != nullptr) {
      invalid("media_url", "media_url cannot go with content_sid: a template carries its own media");
    }
    if (!json_is_array(media_url)) invalid("media_url", "media_url must be an array of https URLs");
    if (json_array_size(media_url) > kMaxMediaUrls) {
      invalid("media_url", "media_url holds " + std::to_string(json_array_size(media_url)) + " URLs; at most " +
                               std::to_string(kMaxMediaUrls) + " are allowed");
    }
    size_t index = 0;
    json_t* item = nullptr;
    json_array_foreach(media_url, index, item) {
      const std::string field = "media_url[" + std::to_string(index) + "]";
      if (!json_is_string(item)) invalid(field, field + " must be a string");
      const std::string problem = media_url_problem(string_of(item));
      if (!problem.empty()) invalid(field, field + " " + problem);
      request.media_urls.emplace_back(string_of(item));
    }
  }

  if (!request.body && !request.content_sid && request.media_urls.empty()) {
    invalid("body", "nothing to send: give body, media_url or content_sid");
  }

  if (const json_t* priority = member(root, "priority")) {
    const auto parsed_priority = send_queue::parse_priority(required_string(priority, "priority"));
    if (!parsed_priority) invalid("priority", "priority must be \"high\" or \"normal\"");
    request.priority = *parsed_priority;
  }

  if (const json_t* client_ref = member(root, "client_ref")) {
    const std::string_view ref = required_string(client_ref, "client_ref");
    if (ref.empty()) invalid("client_ref", "client_ref must not be empty");
    if (character_count(ref) > kMaxClientRefChars) {
      invalid("client_ref", "client_ref is longer than " + std::to_string(kMaxClientRefChars) + " characters");
    }
    request.client_ref = std::string(ref);
  }
  return request;
}

http::Response send(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Send);
  if (!auth.ok()) return auth.refusal;
  const api_keys::Key& caller = *auth.key;

  if (request.media_type() != "application/json") {
    throw ApiError(415, "unsupported_media_type", "send the request as Content-Type: application/json");
  }
  const idempotency::RequestKey idem = idempotency::key_from(request);
  if (!idem.error.empty()) throw ApiError(400, "invalid_idempotency_key", idem.error, "Idempotency-Key");

  // Everything decided by the request alone (and the tenant's settings) is
  // answered before the key is claimed, and so not remembered: the caller
  // may fix the request and send it again under the same key.
  const SendRequest parsed = parse_send_request(request.body);
  const phone::Normalized to = phone::normalize(parsed.to, caller.default_country_code);
  if (!to.ok()) throw ApiError(400, "invalid_phone", "to " + to.reason, "to");
  if (!caller.whatsapp_from && !caller.messaging_service_sid) {
    throw ApiError(422, "sender_not_configured",
                   "this tenant has no WhatsApp sender number or Messaging Service; an operator must set one");
  }

  pg::Connection& db = context.db();
  pg::Transaction tx(db);
  if (idem.key) {
    const idempotency::Claim claim = idempotency::claim_or_refuse(
        db, caller.tenant_id, *idem.key, request, context.config().integer("idempotency_ttl_hours"));
    if (claim.outcome == idempotency::Outcome::Replay) return replayed(claim.status, claim.body);
  }

  Recorded recorded = record(db, caller, parsed, *to.e164);
  if (idem.key) {
    idempotency::complete(db, caller.tenant_id, *idem.key, recorded.response.status, recorded.response.body);
  }
  tx.commit();

  if (!recorded.message_id.empty()) enqueue_accepted(request, context, caller, parsed.priority, recorded);
  return std::move(recorded.response);
}

}  // namespace wagate::api
