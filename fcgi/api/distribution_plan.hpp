// distribution_plan.hpp — a distribution's contacts turned into recipients: normalised, deduplicated, opt-outs left out, each message rendered.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "distribution_request.hpp"

namespace wagate::api {

// A link token: 16 random bytes (128 bits), base64url without padding.
inline constexpr size_t kLinkTokenBytes = 16;
inline constexpr size_t kLinkTokenChars = 22;
[[nodiscard]] std::string new_link_token();

// One contact that will be sent to.
struct PlannedRecipient {
  size_t index = 0;  // its place in contacts
  std::string phone;  // E.164
  std::optional<std::string> name;
  Variables variables;
  std::optional<std::string> timezone;
  std::optional<std::string> body;               // rendered
  std::optional<std::string> content_variables;  // rendered, a compact JSON object
  std::optional<std::string> link_token;
  std::optional<std::string> target_url;         // the rendered link target
};

struct InvalidContact {
  size_t index = 0;
  std::string phone;  // as given
  std::string error;
};

struct Plan {
  std::vector<PlannedRecipient> recipients;  // "accepted"
  size_t duplicates = 0;
  size_t opted_out = 0;
  std::vector<InvalidContact> invalid;
  [[nodiscard]] size_t total() const { return recipients.size() + duplicates + opted_out + invalid.size(); }
};

struct PlanInputs {
  std::string_view default_country_code;
  // The tenant's opted-out phones among the contacts (E.164).
  const std::set<std::string, std::less<>>* opted_out = nullptr;
  // Phones among the contacts that are already the distribution's
  // recipients (an appended batch): duplicates, like a repeat in the list.
  const std::set<std::string, std::less<>>* existing = nullptr;
  // false: {{link}} is the rendered target itself, with no token (a test
  // send, whose clicks must not count).
  bool track_links = true;
  // public_base_url (or the request's scheme://host): {{link}} is
  // <link_base>/l/<token>.
  std::string link_base;
  std::function<std::string()> token = new_link_token;
};

// The contacts' phones in E.164, each once: what opt-outs are looked up for.
[[nodiscard]] std::vector<std::string> contact_phones(const DistributionRequest& request,
                                                      std::string_view default_country_code);

// Every contact lands in exactly one of recipients, duplicates, opted_out
// and invalid (total() == contacts.size()), in this order of checks: a phone
// that does not normalise is invalid; a phone seen before (or already among
// inputs.existing) is a duplicate,
// whatever became of its first occurrence (that one is the contact, with its
// own name and variables); an opted-out phone is left out; a contact
// missing a variable its message or link uses, or whose rendered message
// or link breaks a limit, is invalid. Pure but for the token source.
[[nodiscard]] Plan plan_distribution(const DistributionRequest& request, const PlanInputs& inputs);

}  // namespace wagate::api
