// json.cpp — Jansson handles owned by unique_ptr, request parsing and response building.
#include "wagate/json.hpp"

#include <string>

namespace wagate::json {

ParseResult parse(std::string_view text) {
  json_error_t error;
  // JSON_REJECT_DUPLICATES: a body with two "to" members is ambiguous, so refuse it.
  json_t* value = json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error);
  if (value == nullptr) {
    return {nullptr, "line " + std::to_string(error.line) + ", column " + std::to_string(error.column) + ": " +
                         error.text};
  }
  return {Value(value), {}};
}

std::string dump(const json_t* value) {
  std::string out;
  const size_t size = json_dumpb(value, nullptr, 0, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  if (size == 0) return out;
  out.resize(size);
  json_dumpb(value, out.data(), size, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  return out;
}

Value object() { return Value(json_object()); }
Value array() { return Value(json_array()); }

Value string(std::string_view text) {
  json_t* value = json_stringn(text.data(), text.size());
  if (value != nullptr) return Value(value);
  // Not valid UTF-8: keep the text readable rather than losing the field.
  std::string cleaned;
  cleaned.reserve(text.size());
  for (const char c : text) cleaned.push_back(static_cast<unsigned char>(c) < 0x80 ? c : '?');
  return Value(json_stringn(cleaned.data(), cleaned.size()));
}

Value integer(long long number) { return Value(json_integer(number)); }
Value real(double number) { return Value(json_real(number)); }
Value boolean(bool flag) { return Value(json_boolean(flag)); }
Value null() { return Value(json_null()); }
Value optional_string(const std::optional<std::string>& text) { return text ? string(*text) : null(); }

void set(json_t* obj, const char* key, Value value) { json_object_set_new(obj, key, value.release()); }
void append(json_t* arr, Value value) { json_array_append_new(arr, value.release()); }

std::optional<std::string_view> get_string(const json_t* obj, const char* key) {
  const json_t* member = json_object_get(obj, key);
  if (member == nullptr || !json_is_string(member)) return std::nullopt;
  return std::string_view(json_string_value(member), json_string_length(member));
}

std::string error_body(std::string_view code, std::string_view message, std::string_view field) {
  Value inner = object();
  set(inner.get(), "code", string(code));
  set(inner.get(), "message", string(message));
  if (!field.empty()) set(inner.get(), "field", string(field));
  Value outer = object();
  set(outer.get(), "error", std::move(inner));
  return dump(outer.get());
}

}  // namespace wagate::json
