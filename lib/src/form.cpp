// form.cpp — application/x-www-form-urlencoded bodies and query strings: parse, encode, build.
#include "wagate/form.hpp"

#include <utility>

#include "wagate/text.hpp"

namespace wagate::form {

void Params::add(std::string name, std::string value) { items_.push_back({std::move(name), std::move(value)}); }

std::optional<std::string_view> Params::first(std::string_view name) const {
  for (const Param& param : items_) {
    if (param.name == name) return std::string_view(param.value);
  }
  return std::nullopt;
}

std::vector<std::string_view> Params::all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Param& param : items_) {
    if (param.name == name) values.emplace_back(param.value);
  }
  return values;
}

ParseResult parse(std::string_view text, size_t max_params) {
  ParseResult result;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('&', pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) {
      if (result.params.size() >= max_params) {
        result.error = "too many parameters (limit " + std::to_string(max_params) + ")";
        return result;
      }
      size_t equals = text.find('=', pos);
      if (equals == std::string_view::npos || equals > end) equals = end;
      if (equals == pos) {
        result.error = "empty parameter name at offset " + std::to_string(pos);
        return result;
      }
      std::string name;
      std::string value;
      std::optional<size_t> bad = text::percent_decode_into(text, pos, equals, text::Plus::Space, name);
      if (!bad && equals < end) bad = text::percent_decode_into(text, equals + 1, end, text::Plus::Space, value);
      if (bad) {
        result.error = "invalid percent-escape at offset " + std::to_string(*bad);
        return result;
      }
      result.params.add(std::move(name), std::move(value));
    }
    pos = end + 1;
  }
  return result;
}

std::string encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

std::string build(const Params& params) {
  std::string out;
  for (const Param& param : params.items()) {
    if (!out.empty()) out.push_back('&');
    out += encode(param.name);
    out.push_back('=');
    out += encode(param.value);
  }
  return out;
}

}  // namespace wagate::form
