// csv_parse_fuzz.cpp — libFuzzer target: the CSV parser never crashes, stays in its bounds, splits nowhere differently, and reads back what the writer writes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_require.hpp"
#include "wagate/csv.hpp"

using wagate::fuzz::require;

namespace {

constexpr wagate::csv::Limits kLimits{64, 16};

struct Outcome {
  std::vector<wagate::csv::Row> rows;
  bool ok = false;
  std::string error;
};

Outcome parse(std::string_view input, size_t chunk) {
  wagate::csv::Parser parser(kLimits);
  Outcome out;
  bool ok = true;
  for (size_t i = 0; ok && i < input.size(); i += chunk) ok = parser.feed(input.substr(i, chunk), out.rows);
  if (ok) ok = parser.finish(out.rows);
  out.ok = ok;
  if (parser.error()) out.error = parser.error()->text();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = parse(input, input.size() + 1);
  for (const wagate::csv::Row& row : whole.rows) {
    require(!row.empty() && row.size() <= kLimits.max_fields);
    require(row.size() == whole.rows.front().size());
    for (const std::string& field : row) require(field.size() <= kLimits.max_field_bytes);
  }
  // Byte by byte, and in a size that varies with the input: the same answer.
  for (const size_t chunk : {size_t{1}, size % 7 + 2}) {
    const Outcome pieces = parse(input, chunk);
    require(pieces.ok == whole.ok && pieces.rows == whole.rows && pieces.error == whole.error);
  }
  if (!whole.ok) return 0;
  // What the writer makes of the rows reads back as the same rows.
  std::string written;
  for (const wagate::csv::Row& row : whole.rows) {
    wagate::csv::append_row(written, std::vector<std::string_view>(row.begin(), row.end()));
  }
  const Outcome again = parse(written, written.size() + 1);
  require(again.ok && again.rows == whole.rows);
  return 0;
}
