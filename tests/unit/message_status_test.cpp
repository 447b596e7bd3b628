// message_status_test.cpp — the C++ list of statuses and ranks equals wagate_status_rank() in the migrations.
#include "wagate/message_status.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

namespace wagate::message_status {
namespace {

// The WHEN 'status' THEN rank pairs of the last definition of
// wagate_status_rank() in sql/, the migrations in the order they apply.
std::map<std::string, int> ranks_in_sql() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(WAGATE_SOURCE_DIR) + "/sql")) {
    if (entry.path().extension() == ".sql") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, int> ranks;
  const std::regex function(R"(FUNCTION\s+wagate_status_rank\s*\([^$]*\$\$([\s\S]*?)\$\$)");
  const std::regex pair(R"(WHEN\s+'([a-z_]+)'\s+THEN\s+(\d+))");
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const std::string sql = text.str();
    for (std::sregex_iterator it(sql.begin(), sql.end(), function), end; it != end; ++it) {
      ranks.clear();
      const std::string body = (*it)[1];
      for (std::sregex_iterator p(body.begin(), body.end(), pair); p != end; ++p) {
        ranks[(*p)[1]] = std::stoi((*p)[2]);
      }
    }
  }
  return ranks;
}

TEST(MessageStatus, EqualsTheSqlRankFunction) {
  const std::map<std::string, int> sql = ranks_in_sql();
  ASSERT_FALSE(sql.empty()) << "no wagate_status_rank() found in sql/";
  std::map<std::string, int> cpp;
  for (const Status& status : kAll) cpp[std::string(status.name)] = status.rank;
  EXPECT_EQ(cpp, sql);
}

TEST(MessageStatus, OutboundStatusesComeFirstInRankOrder) {
  for (size_t i = 0; i < kAll.size(); ++i) {
    EXPECT_EQ(kAll[i].direction == Direction::Outbound, i < kOutboundCount) << kAll[i].name;
    if (i > 0 && i < kOutboundCount) {
      EXPECT_LT(kAll[i - 1].rank, kAll[i].rank) << kAll[i].name;
    }
  }
  EXPECT_EQ(outbound_index("accepted"), 0U);
  EXPECT_EQ(outbound_index("read"), kOutboundCount - 1);
  EXPECT_FALSE(outbound_index("received").has_value());
}

TEST(MessageStatus, ForwardOnlyConsequences) {
  // The ones a reviewer checks against sql/002: a late sent never undoes
  // delivered or a failure; read follows delivered; delivered after a
  // failure wins.
  EXPECT_LT(rank("sent"), rank("delivered"));
  EXPECT_LT(rank("sent"), rank("failed"));
  EXPECT_LT(rank("delivered"), rank("read"));
  EXPECT_LT(rank("undelivered"), rank("failed"));
  EXPECT_LT(rank("failed"), rank("delivered"));
  EXPECT_FALSE(rank("bogus").has_value());
  EXPECT_TRUE(known("canceled"));
  EXPECT_TRUE(is_failure("undelivered"));
  EXPECT_FALSE(is_failure("canceled"));
}

}  // namespace
}  // namespace wagate::message_status
