// twilio_client.hpp — Twilio's Messages resource: the requests wagate makes, and what each answer means.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/form.hpp"
#include "wagate/secret.hpp"
#include "wagate/twilio_transport.hpp"

namespace wagate::twilio {

struct Credentials {
  std::string account_sid;
  Secret auth_token;
};

// One message to create. Exactly one of from / messaging_service_sid; at
// least one of body / media_urls / content_sid.
struct OutboundMessage {
  std::string to;                     // "whatsapp:+E164"; the prefix is added when missing
  std::string from;                   // "whatsapp:+E164" (prefix added when missing)
  std::string messaging_service_sid;  // "MG...", used when from is empty
  std::string body;
  std::string content_sid;            // "HX..." approved template
  std::string content_variables;      // JSON object text, with content_sid only
  std::vector<std::string> media_urls;
  std::string status_callback;        // empty: Twilio posts no status callbacks
  int validity_period_s = 0;          // ValidityPeriod; 0: left out (Twilio's default, kMaxValidityPeriodS)
};

// Twilio's bounds for ValidityPeriod: 1 to 36000 seconds, 36000 when absent
// (a message still queued at Twilio after it is not sent, error 30036).
inline constexpr int kMaxValidityPeriodS = 36000;

// The ValidityPeriod of a message that must not be delivered more than
// `seconds_left` from now (an expires_at): whole seconds rounded down, at
// most kMaxValidityPeriodS; nullopt when under one second is left, so the
// message is expired rather than sendable.
[[nodiscard]] std::optional<int> validity_period(double seconds_left);

// "whatsapp:" + address unless it has a channel prefix already.
[[nodiscard]] std::string whatsapp_address(std::string_view address);

// {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json (one '/' between base and path).
[[nodiscard]] std::string messages_url(std::string_view api_base, std::string_view account_sid);

[[nodiscard]] Secret basic_authorization(const Credentials& credentials);

// The form parameters of a create request, in a fixed order (To, From or
// MessagingServiceSid, Body, ContentSid, ContentVariables, MediaUrl...,
// StatusCallback, ValidityPeriod); empty fields are left out.
[[nodiscard]] form::Params create_params(const OutboundMessage& message);

// POST .../Messages.json
[[nodiscard]] Request create_message(std::string_view api_base, const Credentials& credentials,
                                     const OutboundMessage& message);
// GET .../Messages/{sid}.json
[[nodiscard]] Request fetch_message(std::string_view api_base, const Credentials& credentials, std::string_view sid);

struct ListFilter {
  std::string to;    // "whatsapp:+E164"
  std::string from;  // empty: any sender (a Messaging Service chose it)
  std::optional<std::chrono::system_clock::time_point> date_sent_after;  // DateSent>=, UTC, to the second
  int page_size = 50;
};
// GET .../Messages.json?To=..&From=..&DateSent>=..&PageSize=..
[[nodiscard]] Request list_messages(std::string_view api_base, const Credentials& credentials,
                                    const ListFilter& filter);
// The request for a page's next_page_uri (a path on the API host). nullopt
// when the path is not under this account's API: credentials go nowhere else.
[[nodiscard]] std::optional<Request> next_page(std::string_view api_base, const Credentials& credentials,
                                               std::string_view next_page_uri);

// The StatusCallback to send: the configured URL, else the public base URL
// plus the status route, else empty (Twilio then posts no callbacks).
[[nodiscard]] std::string status_callback_url(std::string_view configured, std::string_view public_base_url);
inline constexpr std::string_view kStatusRoute = "/api/v1/whatsapp/status";

enum class Outcome {
  Created,    // 201: Twilio has the message, sid is set
  Rejected,   // a 4xx other than 429: never retried
  Retryable,  // 429, 503, or no connection: Twilio did not process it
  Unknown,    // the request may have reached Twilio and no answer says what happened
};
[[nodiscard]] std::string_view outcome_name(Outcome outcome);  // "created", "rejected", ...

struct SendResult {
  Outcome outcome = Outcome::Unknown;
  std::string sid;
  std::string twilio_status;       // "queued" or "accepted" on Created
  std::optional<int> error_code;   // Twilio's code (21211, 20429, ...) when it gave one
  std::string error_message;       // Twilio's message, or what went wrong on the way
};

// The outcome of a create request. Only a failure before the request can
// have left (no connection, name resolution, TLS handshake) or Twilio's own
// "not processed" answers (429 / 20429, 503 / 20503) are retryable: after a
// timeout, a broken connection or another 5xx the message may exist.
[[nodiscard]] SendResult classify_create(const Response& response);

// A Message resource as Twilio returns it (fields that are absent stay empty).
struct MessageResource {
  std::string sid;
  std::string status;
  std::string to;
  std::string from;
  std::string messaging_service_sid;
  std::string body;
  std::string direction;
  std::optional<std::chrono::system_clock::time_point> date_created;
  std::optional<int> error_code;
  std::string error_message;
  // Twilio's price as it writes it ("-0.00500": negative for a charge),
  // empty while Twilio has not priced the message (it answers null for a
  // while after the final status); a number in the JSON is kept as its text.
  std::string price;
  std::string price_unit;  // "USD"; Twilio sends it even while price is null
};
[[nodiscard]] std::optional<MessageResource> parse_message(std::string_view body);

struct MessagePage {
  std::vector<MessageResource> messages;
  std::string next_page_uri;  // empty on the last page
};
[[nodiscard]] std::optional<MessagePage> parse_message_page(std::string_view body);

// A send whose answer was lost, as Twilio's list would show the message.
struct LostSend {
  std::string to;                     // prefix added when missing
  std::string from;                   // empty when a Messaging Service chose the sender
  std::string messaging_service_sid;
  std::string body;                   // empty: not compared (media only, or a template Twilio renders)
  std::chrono::system_clock::time_point not_before;  // the message's creation, less a minute of clock skew
};
// The listed message that is this send: outbound, same To, same From (or
// Messaging Service), created at or after not_before, same body when there
// is one, and not a SID wagate already holds for another message (`taken`).
// The earliest such one, or nullptr.
[[nodiscard]] const MessageResource* find_lost_send(const LostSend& send, const std::vector<MessageResource>& listed,
                                                    const std::vector<std::string>& taken);

}  // namespace wagate::twilio
