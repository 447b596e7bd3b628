// json_writer.hpp — JSON written straight into one string, for answers too large to build as a tree.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "wagate/json.hpp"

namespace wagate::json {

// JSON written straight into one string: an hourly series of 90 days has
// thousands of points, and building them as a tree and dumping it cost
// more than the queries. Keys are literals; strings from elsewhere go
// through json::string so that they are escaped like every other answer.
class Writer {
 public:
  Writer& key(std::string_view name) {
    comma();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    after_key_ = true;
    return *this;
  }
  Writer& open(char bracket) {
    comma();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  Writer& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  Writer& integer(long long value) {
    comma();
    char buffer[24];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, end);
    return *this;
  }
  // Shortest text that reads back as the same double.
  Writer& real(double value) {
    comma();
    char buffer[32];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, end);
    return *this;
  }
  Writer& null() {
    comma();
    out_ += "null";
    return *this;
  }
  Writer& text(std::string_view value) {
    comma();
    out_ += dump(string(value).get());
    return *this;
  }
  // Text known to need no escaping (times, fixed words).
  Writer& plain(std::string_view value) {
    comma();
    out_ += '"';
    out_ += value;
    out_ += '"';
    return *this;
  }
  Writer& optional_integer(const std::optional<long long>& value) { return value ? integer(*value) : null(); }
  Writer& ratio(long long part, long long whole) {
    return whole == 0 ? null() : real(static_cast<double>(part) / static_cast<double>(whole));
  }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void comma() {
    if (!after_key_ && !first_) out_ += ',';
    after_key_ = false;
    first_ = false;
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};


}  // namespace wagate::json
