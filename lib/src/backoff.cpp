// backoff.cpp — exponential backoff with full jitter for retryable sends.
#include "wagate/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace wagate::backoff {

std::chrono::milliseconds ceiling(const Policy& policy, int attempt) {
  const long long base = std::max<long long>(0, policy.base.count());
  const long long cap = std::max<long long>(0, policy.cap.count());
  long long delay = base;
  // Doubling stops as soon as the cap is reached, so a large attempt count
  // cannot overflow.
  for (int i = 1; i < attempt && delay < cap; ++i) delay *= 2;
  return std::chrono::milliseconds(std::min(delay, cap));
}

std::chrono::milliseconds full_jitter(const Policy& policy, int attempt, double unit) {
  if (!(unit >= 0.0)) unit = 0.0;  // NaN too
  unit = std::min(unit, 1.0);
  const auto top = static_cast<double>(ceiling(policy, attempt).count());
  return std::chrono::milliseconds(std::llround(top * unit));
}

std::chrono::milliseconds full_jitter(const Policy& policy, int attempt) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_real_distribution<double> draw(0.0, 1.0);
  return full_jitter(policy, attempt, draw(generator));
}

}  // namespace wagate::backoff
