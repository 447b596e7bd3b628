// backoff.hpp — exponential backoff with full jitter for retryable sends.
#pragma once

#include <chrono>

namespace wagate::backoff {

// Twilio's advice for 429 / 503: back off exponentially, with jitter, so that
// many senders that failed together do not come back together.
struct Policy {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{std::chrono::minutes(5)};
};

// The largest delay after the attempt-th failure (1-based):
// min(cap, base * 2^(attempt - 1)). Never overflows, whatever the attempt.
[[nodiscard]] std::chrono::milliseconds ceiling(const Policy& policy, int attempt);

// Full jitter: the delay drawn uniformly from [0, ceiling]. `unit` is the
// random draw in [0, 1] (values outside are clamped), so tests can pin it.
[[nodiscard]] std::chrono::milliseconds full_jitter(const Policy& policy, int attempt, double unit);

// The same with a draw from a per-thread generator seeded from the OS.
[[nodiscard]] std::chrono::milliseconds full_jitter(const Policy& policy, int attempt);

}  // namespace wagate::backoff
