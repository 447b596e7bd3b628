// rate_limiter_test.cpp — per-sender rate limits under a fake clock: the bucket's pace, the shared bucket across processes.
#include "wagate/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "wagate/error.hpp"
#include "log_capture.hpp"

namespace wagate::rate_limiter {
namespace {

using std::chrono::milliseconds;

const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1000));

// Takes every token as soon as it exists, stepping the fake clock by `step`
// for `duration`; returns how many sends started.
long long drain_bucket(TokenBucket& bucket, milliseconds step, milliseconds duration) {
  long long sent = 0;
  for (Clock::time_point now = kStart; now < kStart + duration; now += step) {
    const long long n = bucket.available(now);
    bucket.take(n);
    sent += n;
  }
  return sent;
}

TEST(TokenBucket, HoldsTheRateOverTenSecondsWithinFivePercent) {
  TokenBucket bucket(80, burst_for(80), kStart);
  const long long sent = drain_bucket(bucket, milliseconds(1), milliseconds(10000));
  EXPECT_GE(sent, 800 * 95 / 100);
  EXPECT_LE(sent, 800 * 105 / 100);
}

TEST(TokenBucket, CoarseLoopTicksDoNotLoseOrGainSends) {
  // The sender's loop may come round only every few tens of milliseconds:
  // tokens earned in between are kept (up to the burst), so the rate holds.
  TokenBucket bucket(80, burst_for(80), kStart);
  const long long sent = drain_bucket(bucket, milliseconds(37), milliseconds(10000));
  EXPECT_GE(sent, 800 * 95 / 100);
  EXPECT_LE(sent, 800 * 105 / 100);
}

TEST(TokenBucket, HighRateHoldsToo) {
  TokenBucket bucket(400, burst_for(400), kStart);
  const long long sent = drain_bucket(bucket, milliseconds(3), milliseconds(5000));
  EXPECT_GE(sent, 2000 * 95 / 100);
  EXPECT_LE(sent, 2000 * 105 / 100);
}

TEST(TokenBucket, AnIdleSenderSavesOnlyASmallBurst) {
  TokenBucket bucket(80, burst_for(80), kStart);
  // An hour idle buys 1/20 s worth of sends, not an hour's worth.
  EXPECT_EQ(bucket.available(kStart + std::chrono::hours(1)), 4);
  TokenBucket slow(1, burst_for(1), kStart);
  EXPECT_EQ(slow.available(kStart + std::chrono::hours(1)), 1);
}

TEST(TokenBucket, FractionalRatesAreExact) {
  TokenBucket bucket(0.5, burst_for(0.5), kStart);
  // One at the start (the burst), then one every two seconds.
  EXPECT_EQ(drain_bucket(bucket, milliseconds(10), milliseconds(10000)), 5);
}

TEST(TokenBucket, UntilNextSaysWhenTheNextTokenExists) {
  TokenBucket bucket(10, 1, kStart);
  bucket.take(bucket.available(kStart));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.until_next(kStart)), milliseconds(100));
  EXPECT_EQ(bucket.available(kStart + milliseconds(99)), 0);
  EXPECT_EQ(bucket.until_next(kStart + milliseconds(100)), Clock::duration::zero());
  EXPECT_EQ(bucket.available(kStart + milliseconds(100)), 1);
}

TEST(TokenBucket, ANewRateAppliesFromNow) {
  TokenBucket bucket(80, burst_for(80), kStart);
  bucket.take(bucket.available(kStart));
  bucket.set_rate(10, burst_for(10), kStart);
  long long sent = 0;
  for (Clock::time_point now = kStart; now < kStart + std::chrono::seconds(10); now += milliseconds(1)) {
    const long long n = bucket.available(now);
    bucket.take(n);
    sent += n;
  }
  EXPECT_GE(sent, 95);
  EXPECT_LE(sent, 105);
}

// The Redis bucket's algorithm (a generic cell rate algorithm) on the fake
// clock, shared by every Limiter given it: the stand-in for several sender
// processes and one Redis.
class FakeShared : public SharedBucket {
 public:
  explicit FakeShared(const Clock::time_point& now) : now_(now) {}
  Grant take(std::string_view key, long long wanted, double per_second, double burst) override {
    ++calls_;
    if (failing_) throw RedisError("redis: connection refused");
    const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_second));
    const auto window = interval * static_cast<long long>(std::max(1.0, std::floor(burst)));
    Clock::time_point& tat = tat_[std::string(key)];
    tat = std::max(tat, now_);
    Grant grant;
    grant.granted = std::clamp<long long>((now_ + window - tat) / interval, 0, wanted);
    tat += interval * grant.granted;
    const Clock::duration wait = tat + interval - window - now_;
    grant.retry_after = std::chrono::ceil<milliseconds>(std::max(wait, Clock::duration::zero()));
    return grant;
  }
  void fail(bool failing) { failing_ = failing; }
  [[nodiscard]] int calls() const { return calls_; }

 private:
  const Clock::time_point& now_;
  std::map<std::string, Clock::time_point> tat_;
  bool failing_ = false;
  int calls_ = 0;
};

// The most sends any one-second span holds (not only whole seconds): what a
// provider counting sends over a sliding window would see.
long long busiest_second(const std::vector<Clock::time_point>& sends) {
  long long most = 0;
  size_t first = 0;
  for (size_t last = 0; last < sends.size(); ++last) {
    while (sends[last] - sends[first] >= std::chrono::seconds(1)) ++first;
    most = std::max<long long>(most, static_cast<long long>(last - first + 1));
  }
  return most;
}

TEST(Limiter, OneProcessWithTheSharedBucketHoldsTheRate) {
  Clock::time_point now = kStart;
  FakeShared window(now);
  Limiter limiter(&window);
  long long sent = 0;
  for (; now < kStart + std::chrono::seconds(10); now += milliseconds(1)) {
    sent += limiter.acquire("whatsapp:+15550001", 80, 1000, now);
  }
  EXPECT_GE(sent, 800 * 95 / 100);
  EXPECT_LE(sent, 800 * 105 / 100);
}

TEST(Limiter, ThreeProcessesSharingTheBucketHoldTheRateTogether) {
  Clock::time_point now = kStart;
  FakeShared shared(now);
  Limiter first(&shared);
  Limiter second(&shared);
  Limiter third(&shared);
  std::vector<Clock::time_point> sends;
  for (; now < kStart + std::chrono::seconds(10); now += milliseconds(1)) {
    for (Limiter* limiter : {&first, &second, &third}) {
      for (long long n = limiter->acquire("whatsapp:+15550001", 80, 1000, now); n > 0; --n) sends.push_back(now);
    }
  }
  // Each process alone would send 800: together they still send 800, and
  // no one-second span anywhere holds more than 5% over the rate.
  const auto sent = static_cast<long long>(sends.size());
  EXPECT_GE(sent, 800 * 95 / 100);
  EXPECT_LE(sent, 800 * 105 / 100);
  EXPECT_LE(busiest_second(sends), 84);
}

TEST(Limiter, SendersAreLimitedEachOnItsOwn) {
  Clock::time_point now = kStart;
  FakeShared window(now);
  Limiter limiter(&window);
  long long a = 0;
  long long b = 0;
  for (; now < kStart + std::chrono::seconds(10); now += milliseconds(1)) {
    a += limiter.acquire("whatsapp:+15550001", 80, 1000, now);
    b += limiter.acquire("MG00000000000000000000000000000001", 20, 1000, now);
  }
  EXPECT_NEAR(static_cast<double>(a), 800, 40);
  EXPECT_NEAR(static_cast<double>(b), 200, 10);
}

TEST(Limiter, AnEmptySharedBucketBlocksUntilTheNextSendFits) {
  Clock::time_point now = kStart;
  FakeShared shared(now);
  Limiter other(&shared);
  Limiter limiter(&shared);
  // Another process keeps the shared bucket empty (10 per second).
  for (; now < kStart + milliseconds(950); now += milliseconds(1)) other.acquire("k", 10, 100, now);
  EXPECT_EQ(limiter.acquire("k", 10, 1, now), 0);
  const int calls = shared.calls();
  // Blocked until the next send fits: no round trips to Redis meanwhile.
  now += milliseconds(2);
  EXPECT_EQ(limiter.acquire("k", 10, 1, now), 0);
  EXPECT_EQ(shared.calls(), calls);
  const Clock::time_point next = limiter.next_time("k", now);
  EXPECT_GT(next, now);
  EXPECT_LE(next, now + milliseconds(100));
  EXPECT_EQ(limiter.acquire("k", 10, 1, next - milliseconds(1)), 0);
  now = next;  // the shared bucket's clock too
  EXPECT_EQ(limiter.acquire("k", 10, 1, now), 1);
}

TEST(Limiter, WithoutTheSharedBucketEachProcessKeepsItsOwnLimit) {
  test::LogCapture logs;
  Clock::time_point now = kStart;
  FakeShared window(now);
  window.fail(true);
  Limiter limiter(&window);
  long long sent = 0;
  for (; now < kStart + std::chrono::seconds(10); now += milliseconds(1)) {
    sent += limiter.acquire("whatsapp:+15550001", 80, 1000, now);
  }
  EXPECT_GE(sent, 800 * 95 / 100);
  EXPECT_LE(sent, 800 * 105 / 100);
  // Said once (a minute apart at most), not once per send.
  const std::string text = logs.text();
  size_t count = 0;
  for (size_t at = text.find("rate_bucket_unavailable"); at != std::string::npos;
       at = text.find("rate_bucket_unavailable", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1U);
}

TEST(Limiter, NothingWantedOrNoRateGrantsNothing) {
  Limiter limiter(nullptr);
  EXPECT_EQ(limiter.acquire("k", 80, 0, kStart), 0);
  EXPECT_EQ(limiter.acquire("k", 0, 5, kStart), 0);
  EXPECT_EQ(limiter.acquire("k", 80, 2, kStart), 2);
}

}  // namespace
}  // namespace wagate::rate_limiter
