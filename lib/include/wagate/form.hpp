// form.hpp — application/x-www-form-urlencoded bodies and query strings: parse, encode, build.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::form {

struct Param {
  std::string name;
  std::string value;
};

// Decoded parameters in arrival order. Names are case-sensitive and may
// repeat (Twilio repeats MediaUrl-style names, clients repeat query keys).
class Params {
 public:
  void add(std::string name, std::string value);
  [[nodiscard]] std::optional<std::string_view> first(std::string_view name) const;
  [[nodiscard]] std::vector<std::string_view> all(std::string_view name) const;
  [[nodiscard]] const std::vector<Param>& items() const { return items_; }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] size_t size() const { return items_.size(); }

 private:
  std::vector<Param> items_;
};

struct ParseResult {
  Params params;
  std::string error;  // e.g. "invalid percent-escape at offset 7"; empty when parsing succeeded
  [[nodiscard]] bool ok() const { return error.empty(); }
};

inline constexpr size_t kDefaultMaxParams = 1000;

// '+' is a space, %XX is decoded (either case of hex), '&' separates and empty
// segments are skipped, a segment without '=' is a name with an empty value.
// Rejected: '%' not followed by two hex digits, an empty name, more than
// max_params parameters. Never throws on any input bytes (beyond bad_alloc).
[[nodiscard]] ParseResult parse(std::string_view text, size_t max_params = kDefaultMaxParams);

// Percent-encodes everything but the RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~); a space becomes %20.
[[nodiscard]] std::string encode(std::string_view value);

// "name=value&name=value" in the order of params, both sides encode()d.
[[nodiscard]] std::string build(const Params& params);

}  // namespace wagate::form
