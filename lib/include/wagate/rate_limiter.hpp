// rate_limiter.hpp — messages-per-second limits per WhatsApp sender: a local token bucket and one shared through Redis.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace wagate::redis {
class Client;
}

namespace wagate::rate_limiter {

using Clock = std::chrono::steady_clock;

// Paces one process smoothly: `per_second` tokens a second, at most `burst`
// saved up. Time is passed in, so tests drive it with a fake clock.
class TokenBucket {
 public:
  TokenBucket(double per_second, double burst, Clock::time_point now);

  // Changes the rate (a tenant's limit was edited) without losing the tokens
  // already earned, beyond the new burst.
  void set_rate(double per_second, double burst, Clock::time_point now);
  // Whole tokens available at `now`.
  [[nodiscard]] long long available(Clock::time_point now);
  // Spends n tokens; n must not exceed available().
  void take(long long n);
  // How long until one whole token is available (zero when one is).
  [[nodiscard]] Clock::duration until_next(Clock::time_point now);
  [[nodiscard]] double per_second() const { return per_second_; }

 private:
  void refill(Clock::time_point now);

  double per_second_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// The burst a sender's bucket allows: 1/20 s worth of sends, at least one,
// so that any window of a few seconds stays within 5% of the rate.
[[nodiscard]] double burst_for(double per_second);

// A token bucket per sender key that every sender process draws from, kept
// where they all see it. Same pace and burst as TokenBucket, but one for
// all processes together.
class SharedBucket {
 public:
  SharedBucket() = default;
  SharedBucket(const SharedBucket&) = delete;
  SharedBucket& operator=(const SharedBucket&) = delete;
  virtual ~SharedBucket() = default;

  struct Grant {
    long long granted = 0;                  // 0 .. wanted
    std::chrono::milliseconds retry_after{};  // when granted < wanted: until the next send fits
  };
  // Takes up to `wanted` sends for `key` at `per_second` with `burst`.
  // Throws RedisError (or the implementation's error) when unreachable.
  virtual Grant take(std::string_view key, long long wanted, double per_second, double burst) = 0;
};

// The shared bucket in Redis, as a generic cell rate algorithm: one key per
// sender (wagate:rate:<sender>) holds the theoretical arrival time of its
// next send, in microseconds of the Redis server's clock, so hosts with
// skewed clocks still share one pace. A script reads and moves it
// atomically; the key expires once the sender is idle.
class RedisBucket : public SharedBucket {
 public:
  explicit RedisBucket(redis::Client& redis) : redis_(redis) {}
  Grant take(std::string_view key, long long wanted, double per_second, double burst) override;

 private:
  redis::Client& redis_;
};

// Per sender key: the local bucket paces this process (and saves a round
// trip when it has no token), the shared bucket paces all processes
// together. While the shared bucket is unreachable each process falls back
// to its own (logged once a minute): sends go on, at up to the limit per
// process.
class Limiter {
 public:
  explicit Limiter(SharedBucket* shared);  // nullptr: this process's buckets only

  // Grants up to `wanted` sends for `key` now at `per_second`; what it
  // returns is already counted, locally and in the shared bucket.
  long long acquire(std::string_view key, double per_second, long long wanted, Clock::time_point now);
  // The earliest time acquire() for `key` could grant a send again.
  [[nodiscard]] Clock::time_point next_time(std::string_view key, Clock::time_point now);
  // Drops the state of keys unused for a minute.
  void forget_idle(Clock::time_point now);

 private:
  struct State {
    TokenBucket bucket;
    Clock::time_point blocked_until;  // the shared bucket is empty until then
    Clock::time_point last_used;
  };
  State& state_for(std::string_view key, double per_second, Clock::time_point now);

  SharedBucket* shared_;
  std::map<std::string, State, std::less<>> states_;
  Clock::time_point last_warning_{};
};

}  // namespace wagate::rate_limiter
