// secret.hpp — a string that can be used but never printed: redaction by type.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

namespace wagate {

// Holds a credential (auth token, API key, master key, DSN with a password).
// There is no implicit conversion to a string: code that needs the bytes asks
// for them with reveal(), which makes every use greppable. Streaming or logging
// a Secret prints "(redacted)".
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret();  // wipes the bytes

  [[nodiscard]] std::string_view reveal() const { return value_; }
  [[nodiscard]] bool empty() const { return value_.empty(); }
  bool operator==(const Secret& other) const;  // constant time

  static constexpr std::string_view kRedacted = "(redacted)";

 private:
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& out, const Secret&) { return out << Secret::kRedacted; }

}  // namespace wagate
