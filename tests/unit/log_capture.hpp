// log_capture.hpp — collects log lines in a test instead of writing them to stderr.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "wagate/log.hpp"

namespace wagate::test {

// Replaces the log sink for its lifetime; restores stderr and the info level after.
class LogCapture {
 public:
  LogCapture() {
    log::set_sink([this](std::string_view line) {
      const std::lock_guard lock(mutex_);
      text_ += line;
    });
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture() {
    log::set_sink({});
    log::set_level(log::Level::Info);
  }

  [[nodiscard]] std::string text() const {
    const std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

}  // namespace wagate::test
