// spool_parse_fuzz.cpp — libFuzzer target: a spool file's framing parser never crashes and accounts for every byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_require.hpp"
#include "wagate/spool.hpp"

using wagate::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const wagate::spool::ParsedFile parsed = wagate::spool::parse_file(input);
  // Every byte is in a record (with its 8-byte header), in a skipped range
  // that goes to quarantine, or in the torn tail: nothing is silently lost.
  std::size_t accounted = parsed.torn_tail;
  for (const auto& record : parsed.records) {
    require(!record.empty());  // an empty record is never valid
    accounted += record.size() + 8;
  }
  for (const auto& skipped : parsed.skipped) {
    require(!skipped.empty());
    accounted += skipped.size();
  }
  require(accounted == size);
  return 0;
}
