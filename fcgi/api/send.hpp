// send.hpp — POST /api/v1/whatsapp/send: validate, apply WhatsApp's rules, record, queue; idempotent.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/api_keys.hpp"
#include "wagate/context.hpp"
#include "wagate/http.hpp"
#include "wagate/send_queue.hpp"

namespace wagate::api {

inline constexpr size_t kMaxBodyChars = 1600;   // Twilio's limit for Body
inline constexpr size_t kMaxMediaUrls = 10;     // Twilio's limit for MediaUrl
inline constexpr size_t kMaxClientRefChars = 128;
inline constexpr size_t kMaxUrlLength = 2048;

// messages.priority: the column's default, 1, is normal; above it is high
// (the sender and its sweeper read it so).
inline constexpr int kPriorityHigh = 2;
inline constexpr int kPriorityNormal = 1;

// A send request that passed every check needing no database.
struct SendRequest {
  std::string to;                             // as the caller wrote it; normalised with the tenant's country code
  std::optional<std::string> body;            // variables already substituted
  std::optional<std::string> content_sid;     // an approved template (HX + 32 hex)
  std::optional<std::string> content_variables;  // compact JSON object of strings
  std::vector<std::string> media_urls;
  send_queue::Priority priority = send_queue::Priority::Normal;
  std::optional<std::string> client_ref;

  // Free-form text or media: allowed only inside the 24-hour window.
  [[nodiscard]] bool free_form() const { return !content_sid.has_value(); }
};

// Parses and checks the JSON body. Throws ApiError 400: `invalid_json` (with
// line and column) or `invalid_field` naming the field (unknown, wrong type,
// missing, empty, too long, a placeholder without a variable, ...).
SendRequest parse_send_request(std::string_view json_body);

using Variables = std::map<std::string, std::string, std::less<>>;

// Replaces each {{name}} (blanks inside the braces allowed; a name is
// letters, digits, '_', '.' or '-') with its variable. Values are inserted as
// they are, never expanded again. Text that is not a placeholder stays.
//
// Bounded by construction: rendering stops as soon as the text would pass
// max_chars characters (or 4 bytes per character, the most valid UTF-8
// takes), so "{{a}}" repeated with a long variable never builds more than
// the limit. One pass over the input: no byte is looked at more than a fixed
// number of times, whatever the braces.
struct Substitution {
  std::string text;      // the rendered text; when too_long, the part rendered before stopping
  std::string missing;   // the first placeholder without a variable; empty when none
  bool too_long = false; // the text would pass max_chars: rendering stopped there
  [[nodiscard]] bool ok() const { return missing.empty() && !too_long; }
};
Substitution substitute_variables(std::string_view text, const Variables& variables,
                                  size_t max_chars = kMaxBodyChars);

// Characters (Unicode code points) of UTF-8 text, as the 1600 limit counts them.
size_t character_count(std::string_view utf8);

// What /send does once a request is parsed and its phone normalised: the
// opt-out and 24-hour checks (422), the message row in its own transaction,
// then the queue. Answers 202 as the route does. For a caller that builds
// the message itself (a distribution's test send).
http::Response submit_message(const http::Request& request, Context& context, const api_keys::Key& caller,
                              const SendRequest& message, const std::string& e164);

// The route. 202 {"id", "status": "accepted", "to", "created_at"} with
// Location once the message row is committed; the queue is told afterwards
// and a queue failure is left to the sweeper.
http::Response send(http::Request& request, Context& context);

}  // namespace wagate::api
