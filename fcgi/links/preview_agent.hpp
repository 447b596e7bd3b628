// preview_agent.hpp — which fetches of a link are previews (an app rendering a card), not a person's click.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace wagate::links {

enum class Visit { Click, Preview };

// How a User-Agent is recognised: its start, or anywhere in it. Compared
// without regard to case: agents vary theirs between versions.
struct PreviewAgent {
  enum class Match { Prefix, Contains };
  std::string_view text;
  Match match;
};

// The one table of link-preview agents (docs/distributions.md lists it).
[[nodiscard]] std::span<const PreviewAgent> preview_agents();

// True when the User-Agent belongs to a link-preview agent of the table.
[[nodiscard]] bool is_preview_agent(std::string_view user_agent);

// A HEAD request fetches no page, so no person is reading it: a preview,
// like any fetch by a preview agent. Everything else, a missing User-Agent
// included, is a click.
[[nodiscard]] Visit classify_visit(std::string_view method, std::optional<std::string_view> user_agent);

}  // namespace wagate::links
