// error_codes.hpp — Twilio/WhatsApp error codes: meaning, likely cause, what to do, whether a resend helps.
#pragma once

#include <span>
#include <string_view>

namespace wagate::error_codes {

// Where the fault lies, so that an operator can tell "fix our setup" from
// "this contact cannot be reached" at a glance.
enum class Category {
  Recipient,      // the number or the person behind it
  Content,        // the body, media or parameters of the message
  Template,       // an approved template: missing, paused, rejected
  SessionWindow,  // WhatsApp's 24-hour customer-service window
  RateLimit,      // too fast or too many for now
  Account,        // the Twilio or WhatsApp Business account
  Configuration,  // sender, channel or credentials set up wrongly
  Carrier,        // the handset's network
  Policy,         // Meta's or a carrier's rules refused it
  Platform,       // an internal failure at Twilio or Meta
};

struct ErrorCode {
  int code;
  std::string_view description;  // short, as Twilio names it
  std::string_view cause;        // the likely cause, in words for an operator
  std::string_view action;       // what to do about it
  // Whether sending the same message again (later) can succeed without
  // anything being changed first. wagate-admin retry resends only these.
  bool retryable;
  Category category;
};

// Every code of PROTOCOL.md §5 and the Twilio/WhatsApp messaging codes a
// WhatsApp sender meets, ordered by code.
[[nodiscard]] std::span<const ErrorCode> all();

// The entry of a code; nullptr for a code the table does not hold.
[[nodiscard]] const ErrorCode* find(int code);

// For a code the table does not hold: a description and an action that say
// so, and never retryable (a resend is not attempted on a guess).
inline constexpr std::string_view kUnknownDescription =
    "an error code this version of wagate has no description for";
inline constexpr std::string_view kUnknownAction =
    "look the code up in Twilio's error dictionary (twilio.com/docs/api/errors) and in the message logs of the "
    "Twilio console; resend only once the cause is understood";

// The entry of a code, or one that carries the two texts above (retryable
// false, category Platform) for a code the table does not hold.
[[nodiscard]] ErrorCode describe(int code);

[[nodiscard]] std::string_view category_name(Category category);  // "recipient", "session_window", ...

}  // namespace wagate::error_codes
