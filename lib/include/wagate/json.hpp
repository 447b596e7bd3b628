// json.hpp — Jansson handles owned by unique_ptr, request parsing and response building.
#pragma once

#include <jansson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wagate::json {

// json_decref is an inline function: a named functor, not its address.
struct Deleter {
  void operator()(json_t* value) const noexcept { json_decref(value); }
};
using Value = std::unique_ptr<json_t, Deleter>;

struct ParseResult {
  Value value;
  std::string error;  // "line 1, column 7: ..." when parsing failed
  [[nodiscard]] bool ok() const { return value != nullptr; }
};

// Parses a complete document (no trailing garbage). Rejects NUL bytes.
ParseResult parse(std::string_view text);

// Compact serialisation with keys in insertion order.
std::string dump(const json_t* value);

Value object();
Value array();
Value string(std::string_view text);  // invalid UTF-8 is replaced, never dropped silently
Value integer(long long number);
Value real(double number);
Value boolean(bool flag);
Value null();
Value optional_string(const std::optional<std::string>& text);  // null when absent

// Sets obj[key] = value (takes ownership).
void set(json_t* obj, const char* key, Value value);
// Appends to an array (takes ownership).
void append(json_t* arr, Value value);

// Typed reads of an object member: nullopt when absent or of another type.
std::optional<std::string_view> get_string(const json_t* obj, const char* key);

// {"error": {"code": ..., "message": ..., "field": ...}} — field omitted when empty.
std::string error_body(std::string_view code, std::string_view message, std::string_view field = {});

}  // namespace wagate::json
