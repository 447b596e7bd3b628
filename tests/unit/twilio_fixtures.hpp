// twilio_fixtures.hpp — an account, a message and Twilio's answer to it, shared by the Twilio client and transport tests.
#pragma once

#include <string>
#include <string_view>

#include "wagate/twilio_client.hpp"

namespace wagate::twilio {

inline constexpr std::string_view kAccountSid = "AC0123456789abcdef0123456789abcdef";
inline constexpr std::string_view kCreated =
    R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "account_sid": "AC0123456789abcdef0123456789abcdef",)"
    R"( "to": "whatsapp:+15550001111", "from": "whatsapp:+15559990000", "direction": "outbound-api",)"
    R"( "date_created": "Tue, 21 Nov 2023 04:35:00 +0000", "error_code": null, "error_message": null})";

inline Credentials credentials() { return Credentials{std::string(kAccountSid), Secret("tok3n-secret")}; }

inline OutboundMessage text_message() {
  OutboundMessage message;
  message.to = "whatsapp:+15550001111";
  message.from = "whatsapp:+15559990000";
  message.body = "Hello + welcome & more";
  message.status_callback = "https://wa.example.com/api/v1/whatsapp/status";
  return message;
}

}  // namespace wagate::twilio
