// links_test.cpp — tracked links: the token's shape, the preview classifier, and every answer of GET /l/<token>.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "links/follow_link.hpp"
#include "links/link_token.hpp"
#include "links/preview_agent.hpp"
#include "test_context.hpp"
#include "wagate/error.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/metrics.hpp"

namespace wagate::links {
namespace {

constexpr std::string_view kToken = "AbCdEfGhIjKlMnOpQr-_09";

TEST(LinkToken, AcceptsTwentyTwoBase64urlCharacters) {
  static_assert(kToken.size() == kTokenLength);
  EXPECT_TRUE(is_valid_token(kToken));
  EXPECT_TRUE(is_valid_token("AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_TRUE(is_valid_token("zzzzzzzzzzzzzzzzzzzz__"));
}

TEST(LinkToken, RefusesEveryOtherShape) {
  EXPECT_FALSE(is_valid_token(""));
  EXPECT_FALSE(is_valid_token(kToken.substr(1)));             // 21
  EXPECT_FALSE(is_valid_token(std::string(kToken) + "A"));    // 23
  EXPECT_FALSE(is_valid_token("AbCdEfGhIjKlMnOpQr+/09"));     // base64, not base64url
  EXPECT_FALSE(is_valid_token("AbCdEfGhIjKlMnOpQrA09="));     // padding
  EXPECT_FALSE(is_valid_token("AbCdEfGhIjKlMnOp%41r-_0"));    // percent-encoded, even of a valid letter
  EXPECT_FALSE(is_valid_token("AbCdEfGhIjKlMnOpQr-_0 "));
  EXPECT_FALSE(is_valid_token(std::string("AbCdEfGhIjKlMnOpQr-_0\0", 22)));
  EXPECT_FALSE(is_valid_token("AbCdEfGhIjKlMnOpQr-_0\xc3"));
  EXPECT_FALSE(is_valid_token("' OR 1=1 --AAAAAAAAAAA"));
}

TEST(PreviewAgent, RecognisesEveryAgentOfTheTable) {
  const std::vector<std::string> previews = {
      "WhatsApp/2.23.20.0 A",
      "WhatsApp/2.2407.3 i",
      "whatsapp/2.21.4.22 A",
      "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
      "Facebot",
      "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
      "TelegramBot (like TwitterBot)",
      "Twitterbot/1.0",
      "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
      "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
      "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  };
  for (const auto& agent : previews) {
    EXPECT_TRUE(is_preview_agent(agent)) << agent;
    EXPECT_EQ(classify_visit("GET", agent), Visit::Preview) << agent;
  }
  for (const PreviewAgent& agent : preview_agents()) EXPECT_TRUE(is_preview_agent(agent.text)) << agent.text;
}

TEST(PreviewAgent, PeopleAreClicks) {
  const std::vector<std::string> people = {
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.4 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile "
      "Safari/537.36",
      // WhatsApp's in-app browser is a person opening the link: only a
      // User-Agent that starts with WhatsApp/ is the preview fetcher.
      "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36 WhatsApp/2.24.1",
      "curl/8.5.0",
      "",
  };
  for (const auto& agent : people) {
    EXPECT_FALSE(is_preview_agent(agent)) << agent;
    EXPECT_EQ(classify_visit("GET", agent), Visit::Click) << agent;
  }
  EXPECT_EQ(classify_visit("GET", std::nullopt), Visit::Click);
}

TEST(PreviewAgent, HeadIsAlwaysAPreview) {
  EXPECT_EQ(classify_visit("HEAD", std::nullopt), Visit::Preview);
  EXPECT_EQ(classify_visit("HEAD", "Mozilla/5.0 (iPhone) Safari/604.1"), Visit::Preview);
}

// ---- the handler ----

struct Recorded {
  std::string token;
  Visit visit;
};

struct FakeLinks {
  std::optional<std::string> target = "https://survey.example/s/1?r=abc";
  bool down = false;
  std::vector<Recorded> calls;
  RecordVisit recorder() {
    return [this](std::string_view token, Visit visit) -> std::optional<std::string> {
      calls.push_back({std::string(token), visit});
      if (down) throw DbError("postgres: connection failed: Connection refused");
      return target;
    };
  }
};

http::Request visit_request(std::string_view token, std::string method = "GET", std::string user_agent = {}) {
  http::Request request;
  request.method = std::move(method);
  request.path = "/l/" + std::string(token);
  request.request_uri = request.path;
  request.path_params["token"] = std::string(token);
  if (!user_agent.empty()) request.headers["user-agent"] = std::move(user_agent);
  return request;
}

std::optional<std::string> header(const http::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

double visits(std::string_view outcome) {
  metrics::Exposition exposition;
  exposition.add(metrics::global().render());
  return exposition.value("wagate_link_visits_total{outcome=\"" + std::string(outcome) + "\"}").value_or(0);
}

void expect_html_page(const http::Response& response, int status) {
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.content_type, "text/html");
  EXPECT_TRUE(response.body.starts_with("<!doctype html>")) << response.body;
  EXPECT_FALSE(header(response, "Location").has_value());
}

TEST(FollowLink, RedirectsToTheStoredTargetAndCountsAClick) {
  FakeLinks links;
  const double before = visits("click");
  const http::Response response = follow_link(visit_request(kToken, "GET", "Mozilla/5.0 Safari"), links.recorder());
  EXPECT_EQ(response.status, 302);
  EXPECT_EQ(header(response, "Location").value_or(""), "https://survey.example/s/1?r=abc");
  EXPECT_EQ(header(response, "Referrer-Policy").value_or(""), "no-referrer");
  ASSERT_EQ(links.calls.size(), 1u);
  EXPECT_EQ(links.calls[0].token, kToken);
  EXPECT_EQ(links.calls[0].visit, Visit::Click);
  EXPECT_EQ(visits("click"), before + 1);
}

TEST(FollowLink, PreviewAgentsAndHeadGetTheRedirectCountedAsPreviews) {
  FakeLinks links;
  const double before = visits("preview");
  for (const http::Request& request : {visit_request(kToken, "GET", "WhatsApp/2.23.20.0 A"),
                                       visit_request(kToken, "HEAD", "Mozilla/5.0 Safari")}) {
    const http::Response response = follow_link(request, links.recorder());
    EXPECT_EQ(response.status, 302);
    EXPECT_EQ(header(response, "Location").value_or(""), "https://survey.example/s/1?r=abc");
  }
  ASSERT_EQ(links.calls.size(), 2u);
  EXPECT_EQ(links.calls[0].visit, Visit::Preview);
  EXPECT_EQ(links.calls[1].visit, Visit::Preview);
  EXPECT_EQ(visits("preview"), before + 2);
}

TEST(FollowLink, AMalformedTokenIsAnHtml404WithoutALookup) {
  FakeLinks links;
  const double before = visits("malformed");
  for (const std::string_view token : {std::string_view(""), std::string_view("short"),
                                       std::string_view("AbCdEfGhIjKlMnOpQr+/09"), kToken.substr(0, 21)}) {
    expect_html_page(follow_link(visit_request(token), links.recorder()), 404);
  }
  EXPECT_TRUE(links.calls.empty());
  EXPECT_EQ(visits("malformed"), before + 4);
}

TEST(FollowLink, AnUnknownTokenIsAnHtml404) {
  FakeLinks links;
  links.target = std::nullopt;
  const double before = visits("not_found");
  expect_html_page(follow_link(visit_request(kToken), links.recorder()), 404);
  EXPECT_EQ(links.calls.size(), 1u);
  EXPECT_EQ(visits("not_found"), before + 1);
}

TEST(FollowLink, ADatabaseOutageIsAnHtml503) {
  FakeLinks links;
  links.down = true;
  const double before = visits("unavailable");
  expect_html_page(follow_link(visit_request(kToken), links.recorder()), 503);
  EXPECT_EQ(visits("unavailable"), before + 1);
}

TEST(FollowLink, AStoredTargetThatIsNotAnHttpUrlIsNeverRedirectedTo) {
  for (const char* target : {"https://survey.example/s/1\r\nSet-Cookie: a=b", "javascript:alert(1)",
                             "//evil.example/", "https:///path", "https://survey.example/a b", "ftp://x.example/"}) {
    FakeLinks links;
    links.target = target;
    expect_html_page(follow_link(visit_request(kToken), links.recorder()), 500);
  }
  EXPECT_TRUE(is_redirect_target("http://survey.example/s/1?a=%20b#c"));
  EXPECT_TRUE(is_redirect_target("https://survey.example"));
}

TEST(FollowLink, ThroughTheContextAnUnreachableDatabaseIsA503WithinTheBudget) {
  auto context = test::make_context("db_timeout_ms = 300\n");
  http::Request request = visit_request(kToken);
  const auto start = std::chrono::steady_clock::now();
  const http::Response response = follow_link(request, *context);
  expect_html_page(response, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(FollowLink, TheRedirectIsSerialisedAsFoundWithItsHeaders) {
  FakeLinks links;
  const std::string wire = fcgi::serialize(follow_link(visit_request(kToken), links.recorder()), "req-1");
  EXPECT_TRUE(wire.starts_with("Status: 302 Found\r\n")) << wire;
  EXPECT_NE(wire.find("\r\nLocation: https://survey.example/s/1?r=abc\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nCache-Control: no-store\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nContent-Type: text/html; charset=utf-8\r\n"), std::string::npos) << wire;
}

}  // namespace
}  // namespace wagate::links
