// text.cpp — small text helpers shared by the parsers: UTF-8, control characters, hex, percent-escapes, UUIDs, case.
#include "wagate/text.hpp"

#include <cstddef>

namespace wagate::text {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    // The bounds on the first continuation byte are what exclude overlong
    // forms, surrogates and code points past U+10FFFF (RFC 3629, section 4).
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead == 0xE0) {
      length = 3;
      low = 0xA0;
    } else if (lead >= 0xE1 && lead <= 0xEC) {
      length = 3;
    } else if (lead == 0xED) {
      length = 3;
      high = 0x9F;
    } else if (lead >= 0xEE && lead <= 0xEF) {
      length = 3;
    } else if (lead == 0xF0) {
      length = 4;
      low = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      length = 4;
    } else if (lead == 0xF4) {
      length = 4;
      high = 0x8F;
    } else {
      return false;  // continuation byte without a lead, C0/C1 (overlong), F5..FF
    }
    if (s.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < low || second > high) return false;
    for (size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

bool has_control_chars(std::string_view s) {
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7F) return true;
  }
  return false;
}

std::optional<size_t> percent_decode_into(std::string_view text, size_t begin, size_t end, Plus plus,
                                          std::string& out) {
  out.clear();
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
    if (c == '%') {
      const int high = i + 1 < end ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < end ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) return i;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c == '+' && plus == Plus::Space ? ' ' : c);
    }
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text, Plus plus) {
  std::string out;
  if (percent_decode_into(text, 0, text.size(), plus, out)) return std::nullopt;
  return out;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash_place = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_place ? text[i] != '-' : !is_hex(text[i])) return false;
  }
  return true;
}

std::optional<std::string> uuid_bytes(std::string_view text) {
  if (!is_uuid(text)) return std::nullopt;
  std::string bytes;
  bytes.reserve(16);
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    bytes.push_back(static_cast<char>(hex_value(text[i]) * 16 + hex_value(text[i + 1])));
    i += 2;
  }
  return bytes;
}

std::string uuid_text(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  if (bytes.size() != 16) return {};
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    const auto byte = static_cast<unsigned char>(bytes[i]);
    out.push_back(kDigits[byte >> 4U]);
    out.push_back(kDigits[byte & 0x0FU]);
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace wagate::text
