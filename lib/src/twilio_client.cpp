// twilio_client.cpp — Twilio's Messages resource: the requests wagate makes, and what each answer means.
#include "wagate/twilio_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/json.hpp"
#include "wagate/time.hpp"

namespace wagate::twilio {
namespace {

constexpr std::string_view kApiVersionPath = "/2010-04-01/Accounts/";
constexpr int kTooManyRequests = 20429;
constexpr int kServiceUnavailable = 20503;

std::string_view trim_trailing_slashes(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return base;
}

std::string account_path(std::string_view account_sid) {
  return std::string(kApiVersionPath) + form::encode(account_sid);
}

std::string member_string(const json_t* object, const char* key) {
  return std::string(json::get_string(object, key).value_or(""));
}

// Twilio sends error codes as numbers; some proxies and older answers as strings.
std::optional<int> member_code(const json_t* object, const char* key) {
  const json_t* member = json_object_get(object, key);
  if (member == nullptr) return std::nullopt;
  if (json_is_integer(member)) {
    const json_int_t value = json_integer_value(member);
    if (value <= 0 || value > 999999) return std::nullopt;
    return static_cast<int>(value);
  }
  if (json_is_string(member)) {
    const std::string_view text(json_string_value(member), json_string_length(member));
    int value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

// A string as it is; a number (some answers and proxies) as JSON writes it.
std::string member_decimal(const json_t* object, const char* key) {
  const json_t* member = json_object_get(object, key);
  if (member == nullptr) return {};
  if (json_is_string(member)) return std::string(json_string_value(member), json_string_length(member));
  if (json_is_integer(member)) return std::to_string(json_integer_value(member));
  if (json_is_real(member)) {
    std::array<char, 64> text{};
    std::snprintf(text.data(), text.size(), "%.10g", json_real_value(member));
    return text.data();
  }
  return {};
}

MessageResource resource_from(const json_t* object) {
  MessageResource message;
  message.sid = member_string(object, "sid");
  message.status = member_string(object, "status");
  message.to = member_string(object, "to");
  message.from = member_string(object, "from");
  message.messaging_service_sid = member_string(object, "messaging_service_sid");
  message.body = member_string(object, "body");
  message.direction = member_string(object, "direction");
  if (const auto created = json::get_string(object, "date_created")) {
    if (const std::optional<long long> micros = time::parse_rfc2822(*created)) {
      message.date_created = std::chrono::system_clock::time_point(std::chrono::microseconds(*micros));
    }
  }
  message.error_code = member_code(object, "error_code");
  message.error_message = member_string(object, "error_message");
  message.price = member_decimal(object, "price");
  message.price_unit = member_string(object, "price_unit");
  return message;
}

// Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
void read_error_body(std::string_view body, SendResult& result) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return;
  result.error_code = member_code(parsed.value.get(), "code");
  result.error_message = member_string(parsed.value.get(), "message");
}

}  // namespace

std::string whatsapp_address(std::string_view address) {
  const size_t colon = address.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    const std::string_view scheme = address.substr(0, colon);
    if (std::all_of(scheme.begin(), scheme.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      return std::string(address);
    }
  }
  return "whatsapp:" + std::string(address);
}

std::string messages_url(std::string_view api_base, std::string_view account_sid) {
  return std::string(trim_trailing_slashes(api_base)) + account_path(account_sid) + "/Messages.json";
}

Secret basic_authorization(const Credentials& credentials) {
  const Secret pair(credentials.account_sid + ":" + std::string(credentials.auth_token.reveal()));
  return Secret("Basic " + crypto::base64(pair.reveal()));
}

std::optional<int> validity_period(double seconds_left) {
  // Written so that NaN is expired too.
  if (!(seconds_left >= 1.0)) return std::nullopt;
  if (seconds_left >= kMaxValidityPeriodS) return kMaxValidityPeriodS;
  return static_cast<int>(std::floor(seconds_left));
}

form::Params create_params(const OutboundMessage& message) {
  form::Params params;
  params.add("To", whatsapp_address(message.to));
  if (!message.from.empty()) {
    params.add("From", whatsapp_address(message.from));
  } else if (!message.messaging_service_sid.empty()) {
    params.add("MessagingServiceSid", message.messaging_service_sid);
  }
  if (!message.body.empty()) params.add("Body", message.body);
  if (!message.content_sid.empty()) {
    params.add("ContentSid", message.content_sid);
    if (!message.content_variables.empty()) params.add("ContentVariables", message.content_variables);
  }
  for (const std::string& url : message.media_urls) params.add("MediaUrl", url);
  if (!message.status_callback.empty()) params.add("StatusCallback", message.status_callback);
  if (message.validity_period_s > 0) params.add("ValidityPeriod", std::to_string(message.validity_period_s));
  return params;
}

Request create_message(std::string_view api_base, const Credentials& credentials, const OutboundMessage& message) {
  Request request;
  request.method = "POST";
  request.url = messages_url(api_base, credentials.account_sid);
  request.body = form::build(create_params(message));
  request.authorization = basic_authorization(credentials);
  return request;
}

Request fetch_message(std::string_view api_base, const Credentials& credentials, std::string_view sid) {
  Request request;
  request.method = "GET";
  request.url = std::string(trim_trailing_slashes(api_base)) + account_path(credentials.account_sid) +
                "/Messages/" + form::encode(sid) + ".json";
  request.authorization = basic_authorization(credentials);
  return request;
}

Request list_messages(std::string_view api_base, const Credentials& credentials, const ListFilter& filter) {
  form::Params query;
  if (!filter.to.empty()) query.add("To", whatsapp_address(filter.to));
  if (!filter.from.empty()) query.add("From", whatsapp_address(filter.from));
  if (filter.date_sent_after) query.add("DateSent>", time::format_iso8601(std::chrono::duration_cast<std::chrono::seconds>(
                                                          filter.date_sent_after->time_since_epoch())
                                                          .count() *
                                                      time::kSecondMicros));
  query.add("PageSize", std::to_string(std::clamp(filter.page_size, 1, 1000)));
  Request request;
  request.method = "GET";
  request.url = messages_url(api_base, credentials.account_sid) + "?" + form::build(query);
  request.authorization = basic_authorization(credentials);
  return request;
}

std::optional<Request> next_page(std::string_view api_base, const Credentials& credentials,
                                 std::string_view next_page_uri) {
  const std::string prefix = account_path(credentials.account_sid) + "/";
  if (!next_page_uri.starts_with(prefix) || next_page_uri.find_first_of(" \r\n\t#") != std::string_view::npos ||
      next_page_uri.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  Request request;
  request.method = "GET";
  request.url = std::string(trim_trailing_slashes(api_base)) + std::string(next_page_uri);
  request.authorization = basic_authorization(credentials);
  return request;
}

std::string status_callback_url(std::string_view configured, std::string_view public_base_url) {
  if (!configured.empty()) return std::string(configured);
  if (!public_base_url.empty()) return std::string(trim_trailing_slashes(public_base_url)) + std::string(kStatusRoute);
  return {};
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Created: return "created";
    case Outcome::Rejected: return "rejected";
    case Outcome::Retryable: return "retryable";
    case Outcome::Unknown: return "unknown";
  }
  return "unknown";
}

SendResult classify_create(const Response& response) {
  SendResult result;
  if (response.failure != Failure::None) {
    result.error_message = "transport: " + response.error;
    // Nothing left this host: safe to send again.
    result.outcome = !response.request_sent || response.failure == Failure::Connect ? Outcome::Retryable
                                                                                    : Outcome::Unknown;
    return result;
  }
  const long status = response.http_status;
  if (status >= 200 && status < 300) {
    const auto message = parse_message(response.body);
    if (message && !message->sid.empty()) {
      result.outcome = Outcome::Created;
      result.sid = message->sid;
      result.twilio_status = message->status;
      return result;
    }
    result.outcome = Outcome::Unknown;
    result.error_message = "HTTP " + std::to_string(status) + " without a message sid";
    return result;
  }
  read_error_body(response.body, result);
  if (result.error_message.empty()) result.error_message = "HTTP " + std::to_string(status);
  const bool not_processed = status == 429 || status == 503 || result.error_code == kTooManyRequests ||
                             result.error_code == kServiceUnavailable;
  // A 4xx means Twilio created nothing; the error-code table says whether
  // the same message can succeed later (a rate limit) or never will.
  const error_codes::ErrorCode* known = result.error_code ? error_codes::find(*result.error_code) : nullptr;
  if (not_processed && status >= 400) {
    result.outcome = Outcome::Retryable;
  } else if (status >= 400 && status < 500) {
    result.outcome = known != nullptr && known->retryable ? Outcome::Retryable : Outcome::Rejected;
  } else {
    // Another 5xx, a redirect, anything else: Twilio may have created it.
    result.outcome = Outcome::Unknown;
  }
  return result;
}

std::optional<MessageResource> parse_message(std::string_view body) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return std::nullopt;
  return resource_from(parsed.value.get());
}

std::optional<MessagePage> parse_message_page(std::string_view body) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return std::nullopt;
  const json_t* messages = json_object_get(parsed.value.get(), "messages");
  if (messages == nullptr || !json_is_array(messages)) return std::nullopt;
  MessagePage page;
  size_t index = 0;
  const json_t* item = nullptr;
  json_array_foreach(messages, index, item) {
    if (json_is_object(item)) page.messages.push_back(resource_from(item));
  }
  page.next_page_uri = member_string(parsed.value.get(), "next_page_uri");
  return page;
}

const MessageResource* find_lost_send(const LostSend& send, const std::vector<MessageResource>& listed,
                                      const std::vector<std::string>& taken) {
  const std::string to = whatsapp_address(send.to);
  const std::string from = send.from.empty() ? std::string() : whatsapp_address(send.from);
  const MessageResource* best = nullptr;
  for (const MessageResource& message : listed) {
    if (message.sid.empty() || !message.direction.starts_with("outbound")) continue;
    if (message.to != to) continue;
    if (!from.empty() ? message.from != from : message.messaging_service_sid != send.messaging_service_sid) continue;
    // Without a creation time the message cannot be placed after ours.
    if (!message.date_created || *message.date_created < send.not_before) continue;
    if (!send.body.empty() && message.body != send.body) continue;
    if (std::find(taken.begin(), taken.end(), message.sid) != taken.end()) continue;
    if (best == nullptr || *message.date_created < *best->date_created) best = &message;
  }
  return best;
}

}  // namespace wagate::twilio
