// distribution_funnel_test.cpp — the funnel's arithmetic: stages count everyone who got that far, outcomes count endings.
#include "api/distribution_funnel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace wagate::api {
namespace {

FunnelGroup group(std::string recipient, std::optional<std::string> message, long long n, bool was_sent = false,
                  bool clicked = false, bool replied = false) {
  return {std::move(recipient), std::move(message), was_sent, clicked, replied, n};
}

TEST(DistributionFunnel, AReadMessageCountsAsEveryStageBeforeIt) {
  const std::vector<FunnelGroup> groups = {group("queued", "read", 3, true, true, true)};
  const FunnelCounts c = count_funnel(groups);
  EXPECT_EQ(c.planned, 3);
  EXPECT_EQ(c.queued, 3);
  EXPECT_EQ(c.sent, 3);
  EXPECT_EQ(c.delivered, 3);
  EXPECT_EQ(c.read, 3);
  EXPECT_EQ(c.clicked, 3);
  EXPECT_EQ(c.replied, 3);
  EXPECT_EQ(c.failed + c.undelivered + c.skipped + c.canceled, 0);
}

TEST(DistributionFunnel, RecipientsWithoutAMessageAreOnlyPlanned) {
  const std::vector<FunnelGroup> groups = {group("planned", std::nullopt, 5), group("skipped", std::nullopt, 2),
                                           group("canceled", std::nullopt, 1)};
  FunnelCounts want;
  want.planned = 8;
  want.skipped = 2;
  want.canceled = 1;
  want.done = 3;
  EXPECT_EQ(count_funnel(groups), want);
  EXPECT_DOUBLE_EQ(funnel_progress(want), 3.0 / 8.0);
}

TEST(DistributionFunnel, OutcomesAndStagesFromEveryMessageStatus) {
  const std::vector<FunnelGroup> groups = {
      group("queued", "accepted", 1),          // queued only
      group("queued", "sent", 2, true),        // sent
      group("queued", "delivered", 4),         // delivered without a sent callback: still sent
      group("queued", "undelivered", 8, true), // sent, not delivered
      group("queued", "failed", 16),           // never sent
      group("queued", "failed", 32, true),     // failed after a sent callback
      group("queued", "canceled", 64),
  };
  const FunnelCounts c = count_funnel(groups);
  EXPECT_EQ(c.planned, 127);
  EXPECT_EQ(c.queued, 127);
  EXPECT_EQ(c.sent, 2 + 4 + 8 + 32);
  EXPECT_EQ(c.delivered, 4);
  EXPECT_EQ(c.read, 0);
  EXPECT_EQ(c.undelivered, 8);
  EXPECT_EQ(c.failed, 16 + 32);
  EXPECT_EQ(c.canceled, 64);
  // All but the accepted one are done; the failure after sent is done once.
  EXPECT_EQ(c.done, 126);
}

TEST(DistributionFunnel, NoRecipientsIsComplete) {
  EXPECT_DOUBLE_EQ(funnel_progress(count_funnel({})), 1.0);
}

}  // namespace
}  // namespace wagate::api
