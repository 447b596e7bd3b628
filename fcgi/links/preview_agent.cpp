// preview_agent.cpp — which fetches of a link are previews (an app rendering a card), not a person's click.
#include "preview_agent.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace wagate::links {
namespace {

using Match = PreviewAgent::Match;

// WhatsApp fetches every link it shows ("WhatsApp/2.23.20.0 A"); the rest
// are the apps and crawlers that unfurl a link pasted or forwarded elsewhere.
constexpr std::array kAgents{
    PreviewAgent{"WhatsApp/", Match::Prefix},
    PreviewAgent{"facebookexternalhit", Match::Contains},
    PreviewAgent{"Facebot", Match::Contains},
    PreviewAgent{"Slackbot-LinkExpanding", Match::Contains},
    PreviewAgent{"TelegramBot", Match::Contains},
    PreviewAgent{"Twitterbot", Match::Contains},
    PreviewAgent{"Discordbot", Match::Contains},
    PreviewAgent{"LinkedInBot", Match::Contains},
    PreviewAgent{"SkypeUriPreview", Match::Contains},
    PreviewAgent{"Googlebot", Match::Contains},
    PreviewAgent{"bingbot", Match::Contains},
};

bool same_letter(char a, char b) {
  return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), text.begin(), same_letter);
}

bool contains(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(), same_letter) != text.end();
}

}  // namespace

std::span<const PreviewAgent> preview_agents() { return kAgents; }

bool is_preview_agent(std::string_view user_agent) {
  return std::any_of(kAgents.begin(), kAgents.end(), [&](const PreviewAgent& agent) {
    return agent.match == Match::Prefix ? starts_with(user_agent, agent.text) : contains(user_agent, agent.text);
  });
}

Visit classify_visit(std::string_view method, std::optional<std::string_view> user_agent) {
  if (method == "HEAD") return Visit::Preview;
  if (user_agent && is_preview_agent(*user_agent)) return Visit::Preview;
  return Visit::Click;
}

}  // namespace wagate::links
