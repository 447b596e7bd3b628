// link_visit_fuzz.cpp — libFuzzer target: the token check and the preview classifier never crash, and agree with their definitions.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_require.hpp"
#include "links/link_token.hpp"
#include "links/preview_agent.hpp"

using wagate::fuzz::require;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace wagate::links;

  // A token passes exactly when it has the issued shape.
  const bool shaped = input.size() == kTokenLength && std::all_of(input.begin(), input.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
                      });
  require(is_valid_token(input) == shaped);

  // The classifier against a plain restatement of the table.
  const std::string agent = lower(input);
  bool expected = false;
  for (const PreviewAgent& known : preview_agents()) {
    const std::string text = lower(known.text);
    expected = expected || (known.match == PreviewAgent::Match::Prefix ? agent.starts_with(text)
                                                                       : agent.find(text) != std::string::npos);
  }
  require(is_preview_agent(input) == expected);
  require(classify_visit("GET", input) == (expected ? Visit::Preview : Visit::Click));
  require(classify_visit("HEAD", input) == Visit::Preview);
  return 0;
}
