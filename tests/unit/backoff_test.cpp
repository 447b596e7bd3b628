// backoff_test.cpp — retry delays: exponential ceiling with a cap, full jitter inside [0, ceiling].
#include "wagate/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

namespace wagate::backoff {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CeilingDoublesFromOneSecondUpToFiveMinutes) {
  const Policy policy;  // base 1 s, cap 5 min: the sender's policy
  EXPECT_EQ(ceiling(policy, 1), milliseconds(1000));
  EXPECT_EQ(ceiling(policy, 2), milliseconds(2000));
  EXPECT_EQ(ceiling(policy, 3), milliseconds(4000));
  EXPECT_EQ(ceiling(policy, 9), milliseconds(256000));
  EXPECT_EQ(ceiling(policy, 10), milliseconds(300000));
  EXPECT_EQ(ceiling(policy, 11), milliseconds(300000));
}

TEST(Backoff, HugeAttemptCountsStayAtTheCapWithoutOverflow) {
  const Policy policy;
  EXPECT_EQ(ceiling(policy, 64), milliseconds(300000));
  EXPECT_EQ(ceiling(policy, 1000000), milliseconds(300000));
}

TEST(Backoff, AttemptBelowOneMeansTheBase) {
  const Policy policy;
  EXPECT_EQ(ceiling(policy, 0), milliseconds(1000));
  EXPECT_EQ(ceiling(policy, -5), milliseconds(1000));
}

TEST(Backoff, JitterMapsTheDrawOntoZeroToCeiling) {
  const Policy policy;
  EXPECT_EQ(full_jitter(policy, 3, 0.0), milliseconds(0));
  EXPECT_EQ(full_jitter(policy, 3, 1.0), milliseconds(4000));
  EXPECT_EQ(full_jitter(policy, 3, 0.5), milliseconds(2000));
  // A draw outside [0, 1] (or NaN) never leaves the bounds.
  EXPECT_EQ(full_jitter(policy, 3, -1.0), milliseconds(0));
  EXPECT_EQ(full_jitter(policy, 3, 7.0), milliseconds(4000));
  EXPECT_EQ(full_jitter(policy, 3, std::numeric_limits<double>::quiet_NaN()), milliseconds(0));
}

TEST(Backoff, RandomJitterIsSpreadOverTheWholeRange) {
  const Policy policy;
  milliseconds low = milliseconds::max();
  milliseconds high = milliseconds::min();
  for (int i = 0; i < 2000; ++i) {
    const milliseconds drawn = full_jitter(policy, 4);
    ASSERT_GE(drawn, milliseconds(0));
    ASSERT_LE(drawn, milliseconds(8000));
    low = std::min(low, drawn);
    high = std::max(high, drawn);
  }
  // Senders that failed together must not come back together: the draws
  // cover most of [0, 8 s], not one point.
  EXPECT_LT(low, milliseconds(800));
  EXPECT_GT(high, milliseconds(7200));
}

}  // namespace
}  // namespace wagate::backoff
