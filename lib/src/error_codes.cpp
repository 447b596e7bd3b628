// error_codes.cpp — Twilio/WhatsApp error codes: meaning, likely cause, what to do, whether a resend helps.
#include "wagate/error_codes.hpp"

#include <algorithm>
#include <array>

namespace wagate::error_codes {
namespace {

using enum Category;

// "retryable" answers one question: can the very same message succeed if it
// is sent again, with nothing changed first? Transient failures (a handset
// switched off, a rate limit, an internal error) can; anything that needs a
// fix (a wrong number, content, template, setup) or that Meta asks not to
// repeat (63032, 63049) cannot, and resending it only costs money and
// sender quality. Kept sorted by code: find() searches it by bisection.
constexpr std::array kTable = std::to_array<ErrorCode>({
    {20003, "Authentication failed",
     "the AccountSid and auth token (or API key) wagate used were refused by Twilio",
     "check the tenant's AccountSid and rotate in the current auth token (wagate-admin tenant set-token)", false,
     Configuration},
    {20429, "Too many requests",
     "Twilio throttled the REST API: too many concurrent or per-second requests from this account",
     "resend later at a lower rate; the sender backs off and retries these by itself", true, RateLimit},
    {20503, "Service unavailable", "Twilio's API was temporarily unavailable and did not process the request",
     "resend later; the sender retries these by itself with backoff", true, Platform},
    {21211, "Invalid 'To' phone number",
     "the recipient number is not a valid phone number (wrong digits, missing or wrong country code)",
     "correct the number (E.164, with country code) and send a new message", false, Recipient},
    {21408, "Permission to send to this region is not enabled",
     "the account's geographic permissions do not allow messages to the recipient's country",
     "enable the country in the Twilio console's messaging geographic permissions, then send again", false,
     Account},
    {21610, "Recipient has unsubscribed",
     "the recipient replied STOP (or another opt-out keyword) to this sender",
     "do not message this contact until they opt in again (START)", false, Recipient},
    {21614, "'To' number is not a valid mobile number",
     "the number is a landline or otherwise cannot receive messages",
     "ask the contact for a mobile number registered on WhatsApp", false, Recipient},
    {30001, "Queue overflow",
     "more messages were sent than the sender's throughput could drain before they expired in Twilio's queue",
     "resend later and spread the volume out (lower rate, more senders)", true, RateLimit},
    {30002, "Account suspended",
     "the Twilio account was suspended (unpaid balance or a policy review) after the message was queued",
     "resolve the suspension with Twilio (billing, support notice) before sending anything again", false, Account},
    {30003, "Unreachable destination handset",
     "the handset is switched off, out of coverage or otherwise unreachable for now",
     "resend later; if it keeps failing, reach the contact another way", true, Carrier},
    {30004, "Message blocked",
     "the recipient blocked messages from this sender, or their carrier blocks this traffic",
     "do not resend; reach the contact through another channel", false, Recipient},
    {30005, "Unknown destination handset", "the number does not exist or is no longer in service",
     "verify the number with the contact and update it", false, Recipient},
    {30006, "Landline or unreachable carrier",
     "the number is a landline or its carrier cannot deliver messages",
     "use a mobile number for this contact", false, Recipient},
    {30007, "Message filtered", "a carrier or Twilio filtered the message as spam or as violating its rules",
     "review the content and sending pattern; sending it again unchanged will be filtered again", false, Policy},
    {30008, "Unknown error", "delivery failed without a specific reason from the network",
     "resend once; if it keeps failing, contact Twilio support with the MessageSid", true, Platform},
    {30009, "Missing segment", "a part of a multi-part message did not arrive",
     "resend the message", true, Carrier},
    {30010, "Message price exceeds max price",
     "the message would cost more than the MaxPrice set for it",
     "raise or remove MaxPrice, then send again", false, Account},
    {63001, "Channel could not authenticate the request",
     "WhatsApp refused the credentials of the sender: the WhatsApp Business account link is broken",
     "check the WhatsApp sender's status in the Twilio console and reconnect it", false, Configuration},
    {63002, "Channel could not find the From address",
     "the From address is wrong or not supported by the channel",
     "use the tenant's registered WhatsApp sender (whatsapp:+E164) as From", false, Configuration},
    {63003, "Channel could not find the To address",
     "the recipient address is inactive or invalid, or was written in the wrong format",
     "check the number; if it is right, the contact has no active WhatsApp account", false, Recipient},
    {63005, "Channel did not accept the content",
     "WhatsApp rejected the content: unsupported media, fields sent outside a template, or a recipient who is "
     "not a valid WhatsApp user",
     "check the media file and the message fields against WhatsApp's rules, then send a corrected message",
     false, Content},
    {63006, "Could not format the content for the channel", "the message is in a format the channel cannot carry",
     "fix the message format and send a new message", false, Content},
    {63007, "No channel for the From address",
     "the From address is not a WhatsApp sender of this account, is pending approval, or belongs to another "
     "account",
     "check the tenant's whatsapp_from and that the sender is approved in the same Twilio account", false,
     Configuration},
    {63008, "Channel module misconfigured",
     "the channel configuration in Twilio is incomplete, or an address does not match the channel's format",
     "correct the channel configuration and the address formats", false, Configuration},
    {63009, "Channel provider returned an error", "WhatsApp answered with an error of its own for this request",
     "resend later; if it persists, look at the channel-specific message in Twilio's logs", true, Platform},
    {63010, "Twilio's channel platform had an internal error",
     "Twilio failed internally while processing the message for the channel",
     "resend later; contact Twilio support if it persists", true, Platform},
    {63011, "Channel returned an invalid request error",
     "the channel provider refused the request as invalid (capabilities missing for the request)",
     "check the message fields against the channel's rules before sending again", false, Content},
    {63012, "Channel provider had an internal error", "WhatsApp failed internally while handling the message",
     "resend later", true, Platform},
    {63013, "Channel policy violation",
     "the message breaks WhatsApp's policy (e.g. empty or whitespace-only template variables, unsupported "
     "media)",
     "fix the content to comply with WhatsApp's policy, then send a new message", false, Policy},
    {63014, "Recipient blocked messages from this channel",
     "the contact has blocked or disabled messages from the business", "do not resend to this contact", false,
     Recipient},
    {63015, "Sandbox recipient has not joined",
     "the WhatsApp sandbox only delivers to numbers that joined it", "have the contact join the sandbox, or "
     "send from a production WhatsApp sender", false, Configuration},
    {63016, "Outside the 24-hour window: use a template",
     "a free-form message was sent more than 24 hours after the contact's last message",
     "send an approved template (content_sid and content_variables) instead, or wait for the contact to write",
     false, SessionWindow},
    {63017, "Rate limit exceeded (account over 2000 messages per second)",
     "the account and its subaccounts together sent faster than 2000 messages per second",
     "resend later and keep the combined rate below the limit", true, RateLimit},
    {63018, "Rate limit exceeded for the channel",
     "the WhatsApp sender exceeded its throughput or Meta's messaging limit for business-initiated "
     "conversations",
     "resend later (Meta's limit counts 24 hours); raise the sender's quality and tier to lift the limit", true,
     RateLimit},
    {63019, "Media failed to download",
     "Twilio could not fetch the media from its URL (unreachable host, error answer or empty file)",
     "make sure the media URL answers publicly with the file, then resend", true, Content},
    {63020, "Business Manager account error",
     "the WhatsApp Business account behind the sender has a problem (e.g. payment method, verification)",
     "fix the business account in Meta Business Manager before sending again", false, Account},
    {63021, "Channel rejected the content as invalid",
     "content unsupported by WhatsApp, or template text with parameters longer than 1024 characters",
     "check media types and lengths, then send a corrected message", false, Content},
    {63022, "Invalid vname certificate",
     "the display name certificate of the WhatsApp sender is invalid or not yet approved",
     "complete or renew the sender's display name approval", false, Configuration},
    {63023, "Channel generic error", "the channel failed the message without a specific reason",
     "resend later; if it persists, look at Twilio's logs for the MessageSid", true, Platform},
    {63024, "Invalid message recipient", "the number is not a WhatsApp user (or cannot receive this message)",
     "confirm the contact uses WhatsApp on this number; reach them another way otherwise", false, Recipient},
    {63025, "Media already exists", "the media was already uploaded and the upload conflicted",
     "send the message with the media again as a new message", false, Content},
    {63027, "Template does not exist for this language and locale",
     "the template is not approved in the language or locale requested",
     "use an approved template and language, or get this translation approved", false, Template},
    {63028, "Number of template parameters does not match",
     "content_variables do not match the placeholders of the template",
     "send exactly the variables the template defines, numbered without gaps", false, Template},
    {63029, "Receiver failed to download the template",
     "the recipient's WhatsApp could not download the template (often an outdated app or poor connection)",
     "resend later", true, Template},
    {63030, "Unsupported parameter for this type of message",
     "the message carries a parameter the channel does not support for it",
     "remove the unsupported parameter and send a new message", false, Content},
    {63031, "From and To are the same", "the message was addressed from the sender to itself",
     "send to the contact's number, not the sender's", false, Configuration},
    {63032, "Not delivered: user in a Meta marketing experiment",
     "Meta withholds marketing templates from a small share of users it selected; not charged",
     "do not resend the marketing template; reach the contact in an open conversation or another channel", false,
     Policy},
    {63035, "Business account restricted from messaging this country",
     "the WhatsApp Business account may not message users in the recipient's country",
     "check the account's restrictions with Meta; do not resend", false, Account},
    {63037, "Channel media upload error",
     "Twilio could not upload the media to WhatsApp (Twilio retries the upload itself)",
     "resend if the message finally failed", true, Platform},
    {63038, "Account exceeded the daily message limit",
     "the account sent more messages than allowed in a rolling 24 hours",
     "resend after the 24-hour window resets, or ask Twilio to raise the limit", true, RateLimit},
    {63039, "Facebook warning: too many messages outside the 24-hour window",
     "the page sent messages outside the response window at a rate Facebook considers abusive",
     "stop messaging outside the window; answer only within 24 hours of the user's message", false, Policy},
    {63040, "Template rejected", "WhatsApp rejected the template", "edit the template and submit it for approval "
     "again, or use another approved template", false, Template},
    {63041, "Template paused",
     "WhatsApp paused the template for low quality (feedback from recipients); pauses last hours",
     "resend after the pause ends, and improve the template before its quality drops further", true, Template},
    {63042, "Template disabled", "WhatsApp disabled the template after repeated quality problems",
     "use another approved template", false, Template},
    {63049, "Meta chose not to deliver this marketing message",
     "Meta limits marketing templates to users less likely to engage; in the U.S. marketing templates are not "
     "delivered at all",
     "do not resend at once: back off with growing delays (outside the U.S.), or use another channel; check the "
     "template's category",
     false, Policy},
});

constexpr bool sorted_and_unique() {
  for (size_t i = 1; i < kTable.size(); ++i) {
    if (kTable[i - 1].code >= kTable[i].code) return false;
  }
  return true;
}
static_assert(sorted_and_unique(), "kTable must be sorted by code without duplicates");

}  // namespace

std::span<const ErrorCode> all() { return kTable; }

const ErrorCode* find(int code) {
  const auto it = std::lower_bound(kTable.begin(), kTable.end(), code,
                                   [](const ErrorCode& entry, int wanted) { return entry.code < wanted; });
  return it != kTable.end() && it->code == code ? &*it : nullptr;
}

ErrorCode describe(int code) {
  if (const ErrorCode* entry = find(code)) return *entry;
  return {code, kUnknownDescription, kUnknownDescription, kUnknownAction, false, Platform};
}

std::string_view category_name(Category category) {
  switch (category) {
    case Recipient: return "recipient";
    case Content: return "content";
    case Template: return "template";
    case SessionWindow: return "session_window";
    case RateLimit: return "rate_limit";
    case Account: return "account";
    case Configuration: return "configuration";
    case Carrier: return "carrier";
    case Policy: return "policy";
    case Platform: return "platform";
  }
  return "platform";
}

}  // namespace wagate::error_codes
