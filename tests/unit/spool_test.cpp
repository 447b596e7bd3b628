// spool_test.cpp — the fsynced webhook spool: framing, replay order, torn tails, live-writer locks.
#include "wagate/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace wagate::spool {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wagate-spool-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

std::vector<std::string> replay_all(Spool& spool) {
  std::vector<std::string> seen;
  spool.replay([&](const std::vector<std::string>& batch) { seen.insert(seen.end(), batch.begin(), batch.end()); });
  return seen;
}

TEST(SpoolCrc, KnownAnswer) { EXPECT_EQ(crc32("123456789"), 0xCBF43926U); }

TEST_F(SpoolTest, ReplaysInOrderThenDeletes) {
  Spool spool(dir_);
  for (int i = 0; i < 5; ++i) spool.append("record-" + std::to_string(i));
  EXPECT_EQ(stats(dir_).records, 5U);
  const auto seen = replay_all(spool);
  ASSERT_EQ(seen.size(), 5U);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], "record-" + std::to_string(i));
  EXPECT_EQ(stats(dir_).files, 0U);
  EXPECT_TRUE(replay_all(spool).empty());
}

TEST_F(SpoolTest, AppendAfterReplayGoesToANewFile) {
  Spool spool(dir_);
  spool.append("a");
  EXPECT_EQ(replay_all(spool).size(), 1U);
  spool.append("b");
  const auto seen = replay_all(spool);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], "b");
}

TEST_F(SpoolTest, FailedApplyKeepsRecordsForTheNextAttempt) {
  Spool spool(dir_);
  spool.append("x");
  spool.append("y");
  EXPECT_THROW(spool.replay([](const std::vector<std::string>&) { throw std::runtime_error("db down"); }),
               std::runtime_error);
  EXPECT_EQ(stats(dir_).records, 2U);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"x", "y"}));
}

TEST_F(SpoolTest, BatchesRespectBatchSize) {
  Spool spool(dir_);
  for (int i = 0; i < 7; ++i) spool.append(std::to_string(i));
  std::vector<size_t> sizes;
  spool.replay([&](const std::vector<std::string>& batch) { sizes.push_back(batch.size()); }, 3);
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
}

TEST_F(SpoolTest, LiveWriterFileIsNotReplayedByAnotherSpool) {
  Spool writer(dir_);
  writer.append("held");
  Spool other(dir_);  // stands for another process: a separate open file description
  EXPECT_TRUE(replay_all(other).empty());
  EXPECT_EQ(stats(dir_).records, 1U);
  EXPECT_EQ(replay_all(writer).size(), 1U);
}

TEST_F(SpoolTest, TornTailIsDroppedAndEarlierRecordsSurvive) {
  {
    Spool spool(dir_);
    spool.append("complete");
  }
  // Simulate a crash in the middle of the next write.
  const auto file = std::filesystem::directory_iterator(dir_)->path();
  const int fd = open(file.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const char partial[] = {20, 0, 0, 0, 1, 2, 3, 4, 'p', 'a'};
  ASSERT_EQ(write(fd, partial, sizeof partial), static_cast<ssize_t>(sizeof partial));
  close(fd);
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"complete"}));
}

TEST_F(SpoolTest, CorruptRecordStopsTheFileThere) {
  {
    Spool spool(dir_);
    spool.append("first");
    spool.append("second");
  }
  const auto file = std::filesystem::directory_iterator(dir_)->path();
  const int fd = open(file.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "X", 1, 8 + 5 + 8), 1);  // first byte of "second"
  close(fd);
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"first"}));
}

TEST_F(SpoolTest, UnwritableDirectoryThrowsSpoolError) {
  Spool spool("/proc/wagate-cannot-exist/spool");
  EXPECT_ANY_THROW(spool.append("x"));
}

}  // namespace
}  // namespace wagate::spool
