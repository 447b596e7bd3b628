// main.cpp — the unit tests' main: a hermetic environment first, then GoogleTest.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

// Every config key can be overridden by WAGATE_<KEY> in the environment, so a
// shell that sourced run/stack.env would otherwise change what the config
// tests load. Tests that need such a variable set it themselves.
void clear_wagate_environment() {
  std::vector<std::string> names;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    if (variable.starts_with("WAGATE_")) names.emplace_back(variable.substr(0, variable.find('=')));
  }
  for (const std::string& name : names) unsetenv(name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  clear_wagate_environment();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
