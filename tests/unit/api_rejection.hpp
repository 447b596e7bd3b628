// api_rejection.hpp — what an API parser's ApiError said, for tests that check a refusal names its field.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "wagate/error.hpp"

namespace wagate::test {

struct Rejection {
  int status = 0;
  std::string code;
  std::string field;
  std::string message;
};

// Runs parse(), which must throw ApiError; a parse that accepts is a test
// failure naming `input`.
template <typename Parse>
Rejection rejection(std::string_view input, Parse&& parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    return {e.status(), e.code(), e.field(), e.what()};
  }
  ADD_FAILURE() << "accepted: " << input;
  return {};
}

}  // namespace wagate::test
