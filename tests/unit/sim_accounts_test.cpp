// sim_accounts_test.cpp — the simulator's accounts file: parsing, refusal of bad lines, reload on change.
#include "sim/accounts.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "log_capture.hpp"
#include "wagate/error.hpp"

namespace wagate::sim {
namespace {

constexpr char kSid[] = "AC0123456789abcdef0123456789ABCDEF";
constexpr char kOtherSid[] = "ACffffffffffffffffffffffffffffffff";

TEST(SimAccounts, AccountSidShape) {
  EXPECT_TRUE(valid_account_sid(kSid));
  EXPECT_FALSE(valid_account_sid("AC0123456789abcdef0123456789abcde"));    // 31 hex
  EXPECT_FALSE(valid_account_sid("AC0123456789abcdef0123456789abcdef0"));  // 33 hex
  EXPECT_FALSE(valid_account_sid("SK0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(valid_account_sid("AC0123456789abcdef0123456789abcdeg"));
}

TEST(SimAccounts, ParsesLinesSkippingCommentsAndBlanks) {
  const auto accounts = parse_accounts(std::string("# local stack\n\n") + kSid + "  token-one\r\n" + kOtherSid +
                                           "\ttoken-two\n",
                                       "accounts");
  ASSERT_EQ(accounts.size(), 2U);
  EXPECT_EQ(accounts.at(kSid).reveal(), "token-one");
  EXPECT_EQ(accounts.at(kOtherSid).reveal(), "token-two");
}

TEST(SimAccounts, BadLinesAreFatalAndNeverEchoTheToken) {
  for (const std::string& text : {std::string("ACnot-a-sid secret-token\n"), std::string(kSid) + "\n",
                                 std::string(kSid) + " secret-token extra\n",
                                 std::string(kSid) + " secret-token\n" + kSid + " secret-token\n"}) {
    try {
      static_cast<void>(parse_accounts(text, "accounts"));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& error) {
      EXPECT_EQ(std::string(error.what()).find("secret-token"), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("accounts:"), std::string::npos) << error.what();
    }
  }
}

TEST(SimAccounts, FileIsReReadWhenItChanges) {
  test::LogCapture capture;
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sim-accounts-" + std::to_string(::getpid()));
  std::ofstream(path) << "# empty until the tenant is provisioned\n";
  Accounts accounts(path.string());
  EXPECT_FALSE(accounts.token(kSid));
  EXPECT_FALSE(accounts.sole_account());

  std::ofstream(path) << kSid << " token-one\n";
  const auto token = accounts.token(kSid);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->reveal(), "token-one");
  EXPECT_EQ(accounts.sole_account(), std::string(kSid));

  // A broken rewrite keeps the accounts read before.
  std::ofstream(path) << "garbage line that is longer\n";
  EXPECT_TRUE(accounts.token(kSid));
  EXPECT_NE(capture.text().find("accounts_reload_failed"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(SimAccounts, MissingFileAtStartIsFatal) {
  EXPECT_THROW(Accounts("/nonexistent/sim-accounts"), ConfigError);
}

}  // namespace
}  // namespace wagate::sim
