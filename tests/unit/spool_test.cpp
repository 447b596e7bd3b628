// spool_test.cpp — the fsynced webhook spool: framing, replay order, torn tails, live-writer locks.
#include "wagate/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include "wagate/error.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace wagate::spool {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  const test::TempDir temp_{"wagate-spool"};
  const std::string dir_ = temp_.path();
};

std::vector<std::string> replay_all(Spool& spool) {
  std::vector<std::string> seen;
  spool.replay([&](const std::vector<std::string>& batch) {
    seen.insert(seen.end(), batch.begin(), batch.end());
    return std::vector<std::size_t>{};
  });
  return seen;
}

std::vector<std::string> files_starting(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with(prefix)) found.push_back(entry.path());
  }
  return found;
}

std::string only_spool_file(const std::string& dir) {
  const auto files = files_starting(dir, "spool-");
  std::string log;
  for (const auto& f : files) {
    if (f.ends_with(".log")) log = f;
  }
  return log;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The payloads of a file in the spool's framing, read independently of the
// code under test (length, CRC, payload; stops at the first inconsistency).
std::vector<std::string> framed(const std::string& path) {
  const std::string bytes = read_bytes(path);
  std::vector<std::string> out;
  std::size_t pos = 0;
  const auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    return v;
  };
  while (bytes.size() - pos >= 8) {
    const std::uint32_t length = u32(pos);
    if (bytes.size() - pos - 8 < length) break;
    const std::string payload = bytes.substr(pos + 8, length);
    if (crc32(payload) != u32(pos + 4)) break;
    out.push_back(payload);
    pos += 8 + length;
  }
  return out;
}

void append_raw(const std::string& path, std::string_view bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
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
  EXPECT_THROW(spool.replay([](const std::vector<std::string>&) -> std::vector<std::size_t> {
    throw std::runtime_error("db down");
  }),
               std::runtime_error);
  EXPECT_EQ(stats(dir_).records, 2U);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"x", "y"}));
}

TEST_F(SpoolTest, BatchesRespectBatchSize) {
  Spool spool(dir_);
  for (int i = 0; i < 7; ++i) spool.append(std::to_string(i));
  std::vector<size_t> sizes;
  spool.replay(
      [&](const std::vector<std::string>& batch) {
        sizes.push_back(batch.size());
        return std::vector<std::size_t>{};
      },
      3);
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
  // Simulate a crash in the middle of the next write: never acknowledged,
  // so dropped, not quarantined.
  const char partial[] = {20, 0, 0, 0, 1, 2, 3, 4, 'p', 'a'};
  append_raw(only_spool_file(dir_), std::string_view(partial, sizeof partial));
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"complete"}));
  EXPECT_TRUE(files_starting(dir_, "quarantine-").empty());
}

TEST_F(SpoolTest, ZeroedTailIsATornWriteNotARecord) {
  {
    Spool spool(dir_);
    spool.append("complete");
  }
  append_raw(only_spool_file(dir_), std::string(64, '\0'));  // allocated, never written
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"complete"}));
  EXPECT_TRUE(files_starting(dir_, "quarantine-").empty());
}

TEST_F(SpoolTest, EmptyRecordIsRefusedByTheWriter) {
  Spool spool(dir_);
  EXPECT_THROW(spool.append(""), SpoolError);
}

// A zero header is length 0 with CRC 0, and CRC-32 of "" is 0: it must not
// read as an empty record.
TEST_F(SpoolTest, AllZeroHeaderInTheMiddleIsQuarantinedNotReplayed) {
  {
    Spool spool(dir_);
    spool.append("first");
  }
  const std::string file = only_spool_file(dir_);
  append_raw(file, std::string(8, '\0'));
  std::string second;
  {
    char header[8];
    const std::uint32_t length = 6;
    const std::uint32_t crc = crc32("second");
    for (int i = 0; i < 4; ++i) {
      header[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
      header[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    }
    second = std::string(header, 8) + "second";
  }
  append_raw(file, second);
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"first", "second"}));
  const auto quarantined = files_starting(dir_, "quarantine-");
  ASSERT_EQ(quarantined.size(), 1U);
  EXPECT_EQ(framed(quarantined[0]), (std::vector<std::string>{std::string(8, '\0')}));
}

TEST_F(SpoolTest, CorruptRecordInTheMiddleIsQuarantinedAndTheRestReplayed) {
  {
    Spool spool(dir_);
    spool.append("first");
    spool.append("second");
    spool.append("third");
  }
  const std::string file = only_spool_file(dir_);
  const int fd = open(file.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "X", 1, 8 + 5 + 8), 1);  // first byte of "second"
  close(fd);
  Spool spool(dir_);
  EXPECT_EQ(replay_all(spool), (std::vector<std::string>{"first", "third"}));
  EXPECT_TRUE(files_starting(dir_, "spool-").empty());
  const auto quarantined = files_starting(dir_, "quarantine-");
  ASSERT_EQ(quarantined.size(), 1U);
  const auto kept = framed(quarantined[0]);
  ASSERT_EQ(kept.size(), 1U);
  EXPECT_EQ(kept[0].substr(8), "Xecond");  // the damaged bytes, header and all
  // Quarantine is for an operator: replay never takes it up again.
  EXPECT_TRUE(replay_all(spool).empty());
  EXPECT_EQ(files_starting(dir_, "quarantine-").size(), 1U);
}

TEST_F(SpoolTest, RefusedRecordsAreQuarantinedAndTheOthersApplied) {
  Spool spool(dir_);
  for (const char* r : {"a", "poison", "b", "c"}) spool.append(r);
  std::vector<std::string> applied;
  const std::size_t count = spool.replay([&](const std::vector<std::string>& batch) {
    std::vector<std::size_t> refused;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i] == "poison") {
        refused.push_back(i);
      } else {
        applied.push_back(batch[i]);
      }
    }
    return refused;
  });
  EXPECT_EQ(count, 3U);
  EXPECT_EQ(applied, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(files_starting(dir_, "spool-").empty());
  const auto quarantined = files_starting(dir_, "quarantine-");
  ASSERT_EQ(quarantined.size(), 1U);
  EXPECT_EQ(framed(quarantined[0]), (std::vector<std::string>{"poison"}));
  const Stats after = stats(dir_);
  EXPECT_EQ(after.records, 0U);
  EXPECT_EQ(after.quarantine_files, 1U);
}

// stats() is what unauthenticated health calls: it must not read what the
// writer has already counted (here: damage it would have noticed).
TEST_F(SpoolTest, StatsTrustsTheWritersCountInsteadOfReadingTheFile) {
  Spool spool(dir_);
  spool.append("first");
  spool.append_batch({"second", "third"});
  const std::string file = only_spool_file(dir_);
  const int fd = open(file.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "X", 1, 8), 1);
  close(fd);
  EXPECT_EQ(stats(dir_).records, 3U);
}

TEST_F(SpoolTest, StatsStayExactAcrossAppendsReplaysRestartsAndCrashes) {
  {
    Spool spool(dir_);
    spool.append("a");
    spool.append_batch({"b", "c"});
    EXPECT_EQ(stats(dir_).records, 3U);
  }
  EXPECT_EQ(stats(dir_).records, 3U);  // the writer has gone; its count stays
  // A writer that died between its fsync and the sidecar update: the
  // uncovered bytes are counted by reading just them.
  const std::string file = only_spool_file(dir_);
  {
    Spool other(dir_ + "/elsewhere");
    other.append("d");
    append_raw(file, read_bytes(only_spool_file(dir_ + "/elsewhere")));
  }
  EXPECT_EQ(stats(dir_).records, 4U);
  // No sidecar at all (a file of an older version): counted the slow way.
  std::filesystem::remove(file.substr(0, file.size() - 4) + ".count");
  EXPECT_EQ(stats(dir_).records, 4U);
  Spool spool(dir_);
  spool.append("e");
  EXPECT_EQ(stats(dir_).records, 5U);
  EXPECT_EQ(replay_all(spool).size(), 5U);
  const Stats after = stats(dir_);
  EXPECT_EQ(after.records, 0U);
  EXPECT_EQ(after.files, 0U);
}

TEST_F(SpoolTest, UnwritableDirectoryThrowsSpoolError) {
  Spool spool("/proc/wagate-cannot-exist/spool");
  EXPECT_ANY_THROW(spool.append("x"));
}

}  // namespace
}  // namespace wagate::spool
