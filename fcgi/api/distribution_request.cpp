// distribution_request.cpp — POST /api/v1/distributions' JSON body: parsed, every field checked, bounded.
#include "distribution_request.hpp"

#include <algorithm>
#include <array>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/phone.hpp"
#include "wagate/text.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

constexpr std::array<std::string_view, 11> kFields = {"name",     "body",        "content_sid", "content_variables",
                                                      "link",     "contacts",    "send_at",     "send_window",
                                                      "rate_per_second", "sender", "expires_at"};
constexpr std::array<std::string_view, 4> kContactFields = {"phone", "name", "variables", "timezone"};

[[noreturn]] void invalid(const std::string& field, const std::string& message) {
  throw ApiError(400, "invalid_field", message, field);
}

// JSON null reads as absent, as on /send.
const json_t* member(const json_t* object, const char* name) {
  const json_t* value = json_object_get(object, name);
  return value == nullptr || json_is_null(value) ? nullptr : value;
}

std::string_view string_of(const json_t* value) { return {json_string_value(value), json_string_length(value)}; }

std::string_view string_field(const json_t* value, const std::string& field) {
  if (!json_is_string(value)) invalid(field, field + " must be a string");
  return string_of(value);
}

// A string of 1..max_chars characters.
std::string bounded_string(const json_t* value, const std::string& field, size_t max_chars) {
  const std::string_view text = string_field(value, field);
  if (text.empty()) invalid(field, field + " must not be empty");
  if (character_count(text) > max_chars) {
    invalid(field, field + " is longer than " + std::to_string(max_chars) + " characters");
  }
  return std::string(text);
}

template <size_t N>
void refuse_unknown(const json_t* object, const std::array<std::string_view, N>& known, const std::string& prefix) {
  const char* key = nullptr;
  json_t* value = nullptr;
  json_object_foreach(const_cast<json_t*>(object), key, value) {
    if (std::find(known.begin(), known.end(), std::string_view(key)) == known.end()) {
      invalid(prefix + key, "unknown field '" + prefix + key + "'");
    }
  }
}

bool is_placeholder_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

bool valid_content_sid(std::string_view sid) {
  return sid.size() == 34 && sid.starts_with("HX") && std::all_of(sid.begin() + 2, sid.end(), text::is_hex);
}

bool valid_messaging_service_sid(std::string_view sid) {
  return sid.size() == 34 && sid.starts_with("MG") && std::all_of(sid.begin() + 2, sid.end(), text::is_hex);
}

bool has_blank_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
}

// "HH:MM", 00:00 to 23:59.
std::optional<TimeOfDay> parse_time_of_day(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (const size_t i : {0U, 1U, 3U, 4U}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  return TimeOfDay{hours * 60 + minutes};
}

// An IANA zone name's shape ("America/Sao_Paulo", "Etc/GMT+3", "UTC").
bool valid_timezone_shape(std::string_view zone) {
  if (zone.empty() || zone.size() > kMaxTimezoneChars || zone.front() == '/' || zone.back() == '/') return false;
  if (zone.find("..") != std::string_view::npos || zone.find("//") != std::string_view::npos) return false;
  return std::all_of(zone.begin(), zone.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

long long parse_instant(const json_t* value, const std::string& field) {
  const std::optional<long long> micros = time::parse_iso8601(string_field(value, field));
  if (!micros) invalid(field, field + " must be " + std::string(time::kGrammarHint));
  return *micros;
}

Variables contact_variables(const json_t* value, const std::string& field) {
  if (!json_is_object(value)) invalid(field, field + " must be an object of strings");
  if (json_object_size(value) > kMaxContactVariables) {
    invalid(field, field + " has " + std::to_string(json_object_size(value)) + " variables; at most " +
                       std::to_string(kMaxContactVariables) + " are allowed");
  }
  Variables out;
  const char* key = nullptr;
  json_t* item = nullptr;
  json_object_foreach(const_cast<json_t*>(value), key, item) {
    const std::string name = key;
    const std::string item_field = field + "." + name;
    if (!is_placeholder_name(name) || name.size() > kMaxVariableNameChars) {
      invalid(item_field, item_field + ": a variable name is 1 to " + std::to_string(kMaxVariableNameChars) +
                              " letters, digits, '_', '.' or '-'");
    }
    if (name == kNamePlaceholder || name == kLinkPlaceholder) {
      invalid(item_field, item_field + ": {{" + name + "}} is filled by wagate (from the contact's name, or the "
                          "tracked link) and cannot be set as a variable");
    }
    const std::string_view text = string_field(item, item_field);
    if (character_count(text) > kMaxVariableValueChars) {
      invalid(item_field, item_field + " is longer than " + std::to_string(kMaxVariableValueChars) + " characters");
    }
    out.emplace(name, text);
  }
  return out;
}

Contact parse_contact(const json_t* value, size_t index) {
  const std::string prefix = "contacts[" + std::to_string(index) + "]";
  if (!json_is_object(value)) invalid(prefix, prefix + " must be an object with at least a phone");
  refuse_unknown(value, kContactFields, prefix + ".");
  Contact contact;
  const json_t* phone = member(value, "phone");
  if (phone == nullptr) invalid(prefix + ".phone", prefix + ".phone is required");
  const std::string_view phone_text = string_field(phone, prefix + ".phone");
  // A phone is at most 15 digits; separators and a "whatsapp:" prefix make it
  // longer, but not by this much: the planner reports the number's problem.
  if (phone_text.size() > 64) invalid(prefix + ".phone", prefix + ".phone is longer than 64 characters");
  contact.phone = std::string(phone_text);
  if (const json_t* name = member(value, "name")) {
    contact.name = bounded_string(name, prefix + ".name", kMaxContactNameChars);
  }
  if (const json_t* variables = member(value, "variables")) {
    contact.variables = contact_variables(variables, prefix + ".variables");
  }
  if (const json_t* zone = member(value, "timezone")) {
    const std::string_view text = string_field(zone, prefix + ".timezone");
    if (!valid_timezone_shape(text)) {
      invalid(prefix + ".timezone", prefix + ".timezone must be an IANA time zone name such as Europe/Lisbon");
    }
    contact.timezone = std::string(text);
  }
  return contact;
}

void add_placeholders(std::vector<std::string>& into, std::string_view text) {
  for (std::string& name : placeholder_names(text)) {
    if (std::find(into.begin(), into.end(), name) == into.end()) into.push_back(std::move(name));
  }
}

bool uses(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::string TimeOfDay::text() const {
  const auto two = [](int n) { return std::string{static_cast<char>('0' + n / 10), static_cast<char>('0' + n % 10)}; };
  return two(minutes / 60) + ":" + two(minutes % 60);
}

std::vector<std::string> placeholder_names(std::string_view text) {
  // Each pass renders until the first placeholder without a variable; that
  // name is recorded and given an empty value for the next pass. A template
  // has at most size/5 distinct placeholders ("{{a}}"), so the passes are
  // bounded, and the empty values keep every pass within the text's size.
  Variables known;
  std::vector<std::string> names;
  while (true) {
    const Substitution pass = substitute_variables(text, known, text.size() + 1);
    if (pass.missing.empty()) return names;
    names.push_back(pass.missing);
    known.emplace(pass.missing, std::string());
  }
}

DistributionRequest parse_distribution_request(std::string_view json_body, long long now) {
  if (json_body.empty()) throw ApiError(400, "invalid_json", "the request body is empty; send a JSON object");
  const json::ParseResult parsed = json::parse(json_body);
  if (!parsed.ok()) throw ApiError(400, "invalid_json", "the body is not valid JSON: " + parsed.error);
  const json_t* root = parsed.value.get();
  if (!json_is_object(root)) throw ApiError(400, "invalid_json", "the body must be a JSON object");
  refuse_unknown(root, kFields, "");

  DistributionRequest request;
  const json_t* name = member(root, "name");
  if (name == nullptr) invalid("name", "name is required: what the distribution is called in lists and reports");
  request.name = bounded_string(name, "name", kMaxDistributionNameChars);

  const json_t* body = member(root, "body");
  const json_t* content_sid = member(root, "content_sid");
  const json_t* content_variables = member(root, "content_variables");
  if (body != nullptr && content_sid != nullptr) {
    invalid("content_sid", "send either body (free-form text) or content_sid (an approved template), not both");
  }
  if (body == nullptr && content_sid == nullptr) {
    invalid("content_sid", "nothing to send: give content_sid (an approved template, the usual choice for a "
                           "campaign) or body (free-form text, only for contacts inside their 24-hour window)");
  }
  if (content_variables != nullptr && content_sid == nullptr) {
    invalid("content_variables", "content_variables needs content_sid");
  }
  if (body != nullptr) {
    request.body = bounded_string(body, "body", kMaxBodyChars);
    add_placeholders(request.placeholders, *request.body);
  }
  if (content_sid != nullptr) {
    const std::string_view sid = string_field(content_sid, "content_sid");
    if (!valid_content_sid(sid)) invalid("content_sid", "content_sid must be HX followed by 32 hex digits");
    request.content_sid = std::string(sid);
  }
  if (content_variables != nullptr) {
    if (!json_is_object(content_variables)) {
      invalid("content_variables", "content_variables must be an object of strings");
    }
    if (json_object_size(content_variables) > kMaxContentVariables) {
      invalid("content_variables", "content_variables has more than " + std::to_string(kMaxContentVariables) +
                                       " entries");
    }
    const char* key = nullptr;
    json_t* item = nullptr;
    json_object_foreach(const_cast<json_t*>(content_variables), key, item) {
      const std::string field = std::string("content_variables.") + key;
      if (*key == '\0') invalid("content_variables", "content_variables has an empty name");
      std::string value = bounded_string(item, field, kMaxBodyChars);
      add_placeholders(request.placeholders, value);
      request.content_variables.emplace_back(key, std::move(value));
    }
  }

  std::vector<std::string> link_placeholders;
  if (const json_t* link = member(root, "link")) {
    std::string target = bounded_string(link, "link", kMaxUrlLength);
    if (!target.starts_with("https://") && !target.starts_with("http://")) {
      invalid("link", "link must be an http:// or https:// URL");
    }
    if (has_blank_or_control(target)) invalid("link", "link contains a blank or a control character");
    const std::string_view rest = std::string_view(target).substr(target.find("://") + 3);
    if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#') {
      invalid("link", "link has no host");
    }
    link_placeholders = placeholder_names(target);
    if (uses(link_placeholders, kLinkPlaceholder)) {
      invalid("link", "link cannot contain {{link}}: it is the target the tracked link leads to");
    }
    request.link = std::move(target);
  }
  const bool message_uses_link = uses(request.placeholders, kLinkPlaceholder);
  if (request.link && !message_uses_link) {
    invalid("link", "link is set but neither body nor content_variables uses {{link}}, so no recipient would see it");
  }
  if (!request.link && message_uses_link) {
    invalid("link", "the message uses {{link}} but no link (the target URL) is given");
  }
  for (std::string& placeholder : link_placeholders) {
    if (!uses(request.placeholders, placeholder)) request.placeholders.push_back(std::move(placeholder));
  }

  const json_t* contacts = member(root, "contacts");
  if (contacts == nullptr) invalid("contacts", "contacts is required: the list of recipients");
  if (!json_is_array(contacts)) invalid("contacts", "contacts must be an array of objects");
  if (json_array_size(contacts) == 0) invalid("contacts", "contacts must not be empty");
  if (json_array_size(contacts) > kMaxDistributionContacts) {
    invalid("contacts", "contacts holds " + std::to_string(json_array_size(contacts)) + " entries; a JSON request "
                        "takes at most " + std::to_string(kMaxDistributionContacts) +
                        " (send larger lists as CSV to /api/v1/distributions/{id}/contacts)");
  }
  request.contacts.reserve(json_array_size(contacts));
  size_t index = 0;
  json_t* item = nullptr;
  json_array_foreach(contacts, index, item) request.contacts.push_back(parse_contact(item, index));

  if (const json_t* send_at = member(root, "send_at")) request.send_at = parse_instant(send_at, "send_at");
  if (const json_t* expires_at = member(root, "expires_at")) {
    request.expires_at = parse_instant(expires_at, "expires_at");
    if (*request.expires_at <= now) invalid("expires_at", "expires_at is in the past");
    if (request.send_at && *request.expires_at <= *request.send_at) {
      invalid("expires_at", "expires_at must be after send_at");
    }
  }

  if (const json_t* window = member(root, "send_window")) {
    if (!json_is_object(window)) {
      invalid("send_window", "send_window must be an object {\"start\": \"HH:MM\", \"end\": \"HH:MM\"}");
    }
    constexpr std::array<std::string_view, 2> kWindowFields = {"start", "end"};
    refuse_unknown(window, kWindowFields, "send_window.");
    SendWindow parsed_window;
    for (const std::string_view end : kWindowFields) {
      const std::string field = "send_window." + std::string(end);
      const json_t* value = member(window, std::string(end).c_str());
      if (value == nullptr) invalid(field, field + " is required");
      const std::optional<TimeOfDay> time_of_day = parse_time_of_day(string_field(value, field));
      if (!time_of_day) invalid(field, field + " must be a time of day HH:MM, 00:00 to 23:59");
      (end == "start" ? parsed_window.start : parsed_window.end) = *time_of_day;
    }
    if (parsed_window.start == parsed_window.end) {
      invalid("send_window.end", "send_window.end must differ from send_window.start (leave send_window out to "
                                 "send at any hour)");
    }
    request.send_window = parsed_window;
  }

  if (const json_t* rate = member(root, "rate_per_second")) {
    if (!json_is_integer(rate) || json_integer_value(rate) < kMinRatePerSecond ||
        json_integer_value(rate) > kMaxRatePerSecond) {
      invalid("rate_per_second", "rate_per_second must be a whole number from " + std::to_string(kMinRatePerSecond) +
                                     " to " + std::to_string(kMaxRatePerSecond));
    }
    request.rate_per_second = static_cast<int>(json_integer_value(rate));
  }

  if (const json_t* sender = member(root, "sender")) {
    const std::string_view text = string_field(sender, "sender");
    constexpr std::string_view kPrefix = "whatsapp:";
    const bool number = text.starts_with(kPrefix) && phone::is_e164(text.substr(kPrefix.size()));
    if (!number && !valid_messaging_service_sid(text)) {
      invalid("sender", "sender must be a WhatsApp number (whatsapp:+14155238886) or a Messaging Service SID "
                        "(MG followed by 32 hex digits)");
    }
    request.sender = std::string(text);
  }
  return request;
}

}  // namespace wagate::api
