// messages_api.hpp — Twilio's Messages resource: create (validated as Twilio does), fetch, list; Basic auth.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "accounts.hpp"
#include "callbacks.hpp"
#include "http_server.hpp"
#include "ledger.hpp"
#include "scenarios.hpp"
#include "wagate/form.hpp"
#include "wagate/http.hpp"
#include "wagate/json.hpp"

namespace wagate::sim {

// Twilio's REST error: {"code", "message", "more_info", "status"}.
struct TwilioError {
  int http_status = 400;
  int code = 0;
  std::string message;
};

[[nodiscard]] http::Response twilio_error(const TwilioError& error);

// For a malformed parameter that Twilio documents no code of its own for
// (a body that is not form encoding, an unreadable DateSent).
inline constexpr int kCodeInvalidParameter = 20001;

// The first problem Twilio would report for a Messages.json create, in the
// order it checks: To (21604, 21211), sender (21603, 21910, 21212, 21705),
// content (21619, 21617, 21623, 21620, 21655, 21654, 21656), StatusCallback
// (21609). nullopt when the message can be created.
[[nodiscard]] std::optional<TwilioError> validate_create(const form::Params& params);

// ^whatsapp:\+[1-9][0-9]{6,14}$
[[nodiscard]] bool valid_whatsapp_address(std::string_view address);
// An absolute http(s) URL whose host has no underscore, at most 4000 characters.
[[nodiscard]] bool valid_callback_url(std::string_view url);
// Length as Twilio counts it: UTF-16 code units (an emoji counts 2).
[[nodiscard]] size_t twilio_length(std::string_view text);

struct BasicCredentials {
  std::string user;
  std::string password;
};
// "Basic base64(user:password)"; nullopt for anything else.
[[nodiscard]] std::optional<BasicCredentials> parse_basic_auth(std::string_view authorization);

// "Thu, 30 Jul 2015 20:12:31 +0000"
[[nodiscard]] std::string rfc2822_date(Clock::time_point time);
// "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ".
[[nodiscard]] std::optional<Clock::time_point> parse_twilio_date(std::string_view text);

// How long after a message's first final status the simulator shows its
// price (Twilio answers "price": null for a while, often minutes).
inline constexpr std::chrono::milliseconds kDefaultPriceDelay{5000};

// What Twilio charges for a message to `to` ("whatsapp:+E164"), by the
// longest matching country calling code of a small table (USD, -0.00500 to
// -0.07680), written as Twilio writes a charge: negative, five decimals.
[[nodiscard]] std::string list_price(std::string_view to);

// The price the resource shows at `now`: nullopt (null) until price_delay
// after the first final status; "0.00000" for a failed message (Twilio
// charges nothing for it); else list_price.
[[nodiscard]] std::optional<std::string> shown_price(const Message& message, std::chrono::milliseconds price_delay,
                                                     Clock::time_point now);

// The Message resource as Twilio renders it at `now`.
[[nodiscard]] json::Value message_json(const Message& message,
                                       std::chrono::milliseconds price_delay = kDefaultPriceDelay,
                                       Clock::time_point now = Clock::now());

class MessagesApi {
 public:
  struct Options {
    std::chrono::milliseconds latency{0};         // added to every answer of this API
    std::chrono::milliseconds slow_answer{30'000};  // the `timeout` scenario's hold
    const Scenario* default_scenario = nullptr;   // for numbers that pick none; nullptr: deliver_read
    std::chrono::milliseconds price_delay = kDefaultPriceDelay;  // see shown_price
  };

  MessagesApi(Accounts& accounts, Ledger& ledger, Dispatcher& dispatcher, Options options);

  // Everything under /2010-04-01/.
  [[nodiscard]] Reply handle(const http::Request& request);

 private:
  [[nodiscard]] Reply create(const http::Request& request, const std::string& account_sid, const Secret& token);
  [[nodiscard]] http::Response fetch(const std::string& account_sid, std::string_view sid, std::string_view path);
  [[nodiscard]] http::Response list(const http::Request& request, const std::string& account_sid);

  Accounts& accounts_;
  Ledger& ledger_;
  Dispatcher& dispatcher_;
  Options options_;
};

}  // namespace wagate::sim
