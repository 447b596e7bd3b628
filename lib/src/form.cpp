// form.cpp — application/x-www-form-urlencoded bodies and query strings: parse, encode, build.
#include "wagate/form.hpp"

#include <utility>

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

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes text[begin, end) into out. Returns the offset (in the whole text, so
// the error points at the byte the sender got wrong) of a bad '%', if any.
std::optional<size_t> decode(std::string_view text, size_t begin, size_t end, std::string& out) {
  out.clear();
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int high = i + 1 < end ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < end ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) return i;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return std::nullopt;
}

}  // namespace

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
      std::optional<size_t> bad = decode(text, pos, equals, name);
      if (!bad && equals < end) bad = decode(text, equals + 1, end, value);
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
