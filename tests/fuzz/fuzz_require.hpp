// fuzz_require.hpp — the check every fuzz target states its properties with.
#pragma once

#include <cstdlib>

namespace wagate::fuzz {

// An abort is what libFuzzer reports as a crash, with the input that made it.
inline void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace wagate::fuzz
