// rate_limiter.cpp — messages-per-second limits per WhatsApp sender: a local token bucket and one shared through Redis.
#include "wagate/rate_limiter.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/redis.hpp"

namespace wagate::rate_limiter {
namespace {

// KEYS[1]: the sender's key; ARGV: wanted, interval between sends (us),
// burst (sends). The key holds the theoretical arrival time (TAT) of the
// next send. n sends fit while TAT + n * interval stays within
// burst * interval of now. Returns {granted, microseconds until one more
// fits}. Time is the server's (TIME), the same for every host.
constexpr std::string_view kTakeScript = R"lua(
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local wanted = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3]) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local grant = math.floor((now + window - tat) / interval)
if grant > wanted then grant = wanted end
if grant < 0 then grant = 0 end
tat = tat + grant * interval
if grant > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local wait = tat + interval - window - now
if wait < 0 then wait = 0 end
return {grant, math.floor(wait)}
)lua";

constexpr std::string_view kKeyPrefix = "wagate:rate:";
constexpr auto kIdleForget = std::chrono::minutes(1);
constexpr auto kWarningEvery = std::chrono::minutes(1);

}  // namespace

double burst_for(double per_second) { return std::max(1.0, per_second / 20.0); }

TokenBucket::TokenBucket(double per_second, double burst, Clock::time_point now)
    : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::set_rate(double per_second, double burst, Clock::time_point now) {
  refill(now);
  per_second_ = per_second;
  burst_ = burst;
  tokens_ = std::min(tokens_, burst_);
}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  last_ = now;
}

long long TokenBucket::available(Clock::time_point now) {
  refill(now);
  return static_cast<long long>(std::floor(tokens_));
}

void TokenBucket::take(long long n) { tokens_ = std::max(0.0, tokens_ - static_cast<double>(n)); }

Clock::duration TokenBucket::until_next(Clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0 || per_second_ <= 0.0) return Clock::duration::zero();
  const std::chrono::duration<double> wait((1.0 - tokens_) / per_second_);
  // Rounded up, so that waking at now + wait finds the token there.
  return std::chrono::ceil<Clock::duration>(wait);
}

SharedBucket::Grant RedisBucket::take(std::string_view key, long long wanted, double per_second, double burst) {
  const std::string full_key = std::string(kKeyPrefix) + std::string(key);
  const std::string wanted_text = std::to_string(wanted);
  const std::string interval_text = std::to_string(std::llround(1e6 / per_second));
  const std::string burst_text = std::to_string(std::max(1LL, std::llround(std::floor(burst))));
  const redis::Reply reply =
      redis_.command({"EVAL", kTakeScript, "1", full_key, wanted_text, interval_text, burst_text});
  if (reply.is_error()) throw RedisError("redis: rate script failed: " + std::string(reply.str()));
  if (reply.type() != REDIS_REPLY_ARRAY || reply.size() != 2 || reply.element(0)->type != REDIS_REPLY_INTEGER ||
      reply.element(1)->type != REDIS_REPLY_INTEGER) {
    throw RedisError("redis: rate script gave an unexpected reply");
  }
  Grant grant;
  grant.granted = std::clamp<long long>(reply.element(0)->integer, 0, wanted);
  grant.retry_after = std::chrono::milliseconds((reply.element(1)->integer + 999) / 1000);
  return grant;
}

Limiter::Limiter(SharedBucket* shared) : shared_(shared) {}

Limiter::State& Limiter::state_for(std::string_view key, double per_second, Clock::time_point now) {
  auto it = states_.find(key);
  if (it == states_.end()) {
    it = states_.emplace(std::string(key), State{TokenBucket(per_second, burst_for(per_second), now), now, now})
             .first;
  } else if (it->second.bucket.per_second() != per_second) {
    it->second.bucket.set_rate(per_second, burst_for(per_second), now);
  }
  it->second.last_used = now;
  return it->second;
}

long long Limiter::acquire(std::string_view key, double per_second, long long wanted, Clock::time_point now) {
  if (wanted <= 0 || per_second <= 0.0) return 0;
  State& state = state_for(key, per_second, now);
  if (now < state.blocked_until) return 0;
  const long long local = std::min(wanted, state.bucket.available(now));
  if (local <= 0) return 0;
  long long granted = local;
  if (shared_ != nullptr) {
    try {
      const SharedBucket::Grant grant = shared_->take(key, local, per_second, burst_for(per_second));
      granted = grant.granted;
      if (granted < local) state.blocked_until = now + grant.retry_after;
    } catch (const Error& e) {
      if (last_warning_ == Clock::time_point{} || now - last_warning_ >= kWarningEvery) {
        last_warning_ = now;
        log::warning("rate_bucket_unavailable").kv("sender", key).kv("error", e.what())
            .kv("fallback", "per-process limit");
      }
    }
  }
  state.bucket.take(granted);
  return granted;
}

Clock::time_point Limiter::next_time(std::string_view key, Clock::time_point now) {
  const auto it = states_.find(key);
  if (it == states_.end()) return now;
  const Clock::time_point bucket_time = now + it->second.bucket.until_next(now);
  return std::max(bucket_time, it->second.blocked_until);
}

void Limiter::forget_idle(Clock::time_point now) {
  std::erase_if(states_, [&](const auto& item) { return now - item.second.last_used > kIdleForget; });
}

}  // namespace wagate::rate_limiter
