// distribution_request.hpp — POST /api/v1/distributions' JSON body: parsed, every field checked, bounded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "send.hpp"

namespace wagate::api {

// One JSON request plans at most this many contacts; larger lists go
// through the CSV route, which streams.
inline constexpr size_t kMaxDistributionContacts = 10000;
inline constexpr size_t kMaxDistributionNameChars = 200;
inline constexpr size_t kMaxContactNameChars = 200;
inline constexpr size_t kMaxContactVariables = 50;
inline constexpr size_t kMaxVariableNameChars = 64;
inline constexpr size_t kMaxVariableValueChars = 1000;
inline constexpr size_t kMaxContentVariables = 50;
inline constexpr size_t kMaxTimezoneChars = 64;
inline constexpr int kMinRatePerSecond = 1;
inline constexpr int kMaxRatePerSecond = 1000;

// {{name}} and {{link}} are filled by wagate, so a contact may not set them.
inline constexpr std::string_view kNamePlaceholder = "name";
inline constexpr std::string_view kLinkPlaceholder = "link";

struct Contact {
  std::string phone;  // as the caller wrote it; normalised when planned
  std::optional<std::string> name;
  Variables variables;
  std::optional<std::string> timezone;
};

// A time of day, minutes since midnight.
struct TimeOfDay {
  int minutes = 0;
  [[nodiscard]] std::string text() const;  // "HH:MM"
  friend bool operator==(const TimeOfDay&, const TimeOfDay&) = default;
};

struct SendWindow {
  TimeOfDay start;
  TimeOfDay end;  // before start: the window spans midnight
};

struct DistributionRequest {
  std::string name;
  std::optional<std::string> body;                // the template, placeholders not yet filled
  std::optional<std::string> content_sid;
  std::vector<std::pair<std::string, std::string>> content_variables;  // name, template, in the order given
  std::optional<std::string> link;                // the target URL template
  std::vector<Contact> contacts;
  std::optional<long long> send_at;               // microseconds since the epoch
  std::optional<SendWindow> send_window;
  std::optional<int> rate_per_second;
  std::optional<std::string> sender;              // "whatsapp:+E164" or a Messaging Service SID, as given
  std::optional<long long> expires_at;
  // Every placeholder the message and the link use, each once, in order of
  // first use; checked against each contact when it is planned.
  std::vector<std::string> placeholders;
};

// Parses and checks the JSON body. Throws ApiError 400: `invalid_json`, or
// `invalid_field` naming the field as a path ("contacts[3].phone",
// "send_window.start"): unknown, wrong type, missing, empty, too long, out
// of range, a {{link}} without a link or a link no placeholder uses. A
// phone that does not normalise is not refused here: the planner lists it
// in `invalid` and the rest of the list goes ahead. `now` (microseconds)
// is what send_at and expires_at are compared with.
DistributionRequest parse_distribution_request(std::string_view json_body, long long now);

// The placeholder names of a template, each once, in order of first use,
// found by substitute_variables itself (so the two can never disagree on
// what a placeholder is).
std::vector<std::string> placeholder_names(std::string_view text);

}  // namespace wagate::api
