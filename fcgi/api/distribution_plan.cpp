// distribution_plan.cpp — a distribution's contacts turned into recipients: normalised, deduplicated, opt-outs left out, each message rendered.
#include "distribution_plan.hpp"

#include <unordered_set>

#include "wagate/crypto.hpp"
#include "wagate/json.hpp"
#include "wagate/phone.hpp"

namespace wagate::api {
namespace {

bool has_blank_or_control(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// The placeholders the contact has no variable for, as "{{a}}, {{b}}";
// {{link}} is wagate's own when the distribution has a link.
std::string missing_text(const DistributionRequest& request, const Variables& variables) {
  std::string missing;
  for (const std::string& placeholder : request.placeholders) {
    if (variables.contains(placeholder) || (request.link && placeholder == kLinkPlaceholder)) continue;
    missing += (missing.empty() ? "" : ", ") + ("{{" + placeholder + "}}");
  }
  return missing;
}

// The recipient's message, or why it cannot be rendered.
std::string render(const DistributionRequest& request, const Variables& variables, PlannedRecipient& out) {
  if (request.body) {
    Substitution body = substitute_variables(*request.body, variables, kMaxBodyChars);
    if (body.too_long) {
      return "body is longer than " + std::to_string(kMaxBodyChars) + " characters after substitution";
    }
    if (body.text.empty()) return "body is empty after substitution";
    out.body = std::move(body.text);
  }
  if (request.content_sid) {
    json::Value object = json::object();
    for (const auto& [name, value] : request.content_variables) {
      Substitution rendered = substitute_variables(value, variables, kMaxBodyChars);
      if (rendered.too_long) {
        return "content_variables." + name + " is longer than " + std::to_string(kMaxBodyChars) +
               " characters after substitution";
      }
      json::set(object.get(), name.c_str(), json::string(rendered.text));
    }
    if (!request.content_variables.empty()) out.content_variables = json::dump(object.get());
  }
  return {};
}

}  // namespace

std::string new_link_token() { return crypto::base64url(crypto::random_bytes(kLinkTokenBytes)); }

std::vector<std::string> contact_phones(const DistributionRequest& request, std::string_view default_country_code) {
  std::vector<std::string> phones;
  std::unordered_set<std::string> seen;
  for (const Contact& contact : request.contacts) {
    phone::Normalized normalized = phone::normalize(contact.phone, default_country_code);
    if (normalized.ok() && seen.insert(*normalized.e164).second) phones.push_back(std::move(*normalized.e164));
  }
  return phones;
}

Plan plan_distribution(const DistributionRequest& request, const PlanInputs& inputs) {
  Plan plan;
  std::unordered_set<std::string> seen;
  for (size_t index = 0; index < request.contacts.size(); ++index) {
    const Contact& contact = request.contacts[index];
    const phone::Normalized normalized = phone::normalize(contact.phone, inputs.default_country_code);
    if (!normalized.ok()) {
      plan.invalid.push_back({index, contact.phone, "phone " + normalized.reason});
      continue;
    }
    const std::string& e164 = *normalized.e164;
    if (!seen.insert(e164).second || (inputs.existing != nullptr && inputs.existing->contains(e164))) {
      ++plan.duplicates;
      continue;
    }
    if (inputs.opted_out != nullptr && inputs.opted_out->contains(e164)) {
      ++plan.opted_out;
      continue;
    }

    Variables variables = contact.variables;
    if (contact.name) variables.emplace(std::string(kNamePlaceholder), *contact.name);
    PlannedRecipient recipient;
    recipient.index = index;
    recipient.phone = e164;
    recipient.name = contact.name;
    recipient.timezone = contact.timezone;
    if (const std::string missing = missing_text(request, variables); !missing.empty()) {
      plan.invalid.push_back({index, contact.phone, "no variable for " + missing});
      continue;
    }
    if (request.link) {
      Substitution target = substitute_variables(*request.link, variables, kMaxUrlLength);
      if (target.too_long) {
        plan.invalid.push_back({index, contact.phone, "link is longer than " + std::to_string(kMaxUrlLength) +
                                                          " characters after substitution"});
        continue;
      }
      if (has_blank_or_control(target.text)) {
        plan.invalid.push_back({index, contact.phone, "link contains a blank or a control character after "
                                                      "substitution"});
        continue;
      }
      if (inputs.track_links) {
        recipient.link_token = inputs.token();
        variables.emplace(std::string(kLinkPlaceholder), inputs.link_base + "/l/" + *recipient.link_token);
      } else {
        variables.emplace(std::string(kLinkPlaceholder), target.text);
      }
      recipient.target_url = std::move(target.text);
    }
    if (std::string problem = render(request, variables, recipient); !problem.empty()) {
      plan.invalid.push_back({index, contact.phone, std::move(problem)});
      continue;
    }
    recipient.variables = contact.variables;
    plan.recipients.push_back(std::move(recipient));
  }
  return plan;
}

}  // namespace wagate::api
