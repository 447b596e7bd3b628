// migrate_test.cpp — migration files: naming, numeric order, checksums, and the shipped sql/ directory.
#include "wagate/migrate.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include "temp_dir.hpp"


namespace wagate::migrate {
namespace {

class MigrateListTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  const test::TempDir temp_{"wagate-migrate"};
  const std::string dir_ = temp_.path();
};

TEST_F(MigrateListTest, NumericOrderNamesAndChecksums) {
  write("10_later.sql", "SELECT 10;");
  write("9_earlier.sql", "SELECT 9;");
  write("002_abc.sql", "abc");
  write("README.md", "not a migration");
  write(".#002_abc.sql", "editor lock file");
  const auto migrations = list(dir_);
  ASSERT_EQ(migrations.size(), 3U);
  EXPECT_EQ(migrations[0].version, 2);
  EXPECT_EQ(migrations[1].version, 9);
  EXPECT_EQ(migrations[2].version, 10);  // not lexical order: "10_" < "9_"
  EXPECT_EQ(migrations[0].name, "abc");
  EXPECT_EQ(migrations[0].file, "002_abc.sql");
  EXPECT_EQ(migrations[0].path, dir_ + "/002_abc.sql");
  EXPECT_EQ(migrations[0].sql, "abc");
  // SHA-256("abc"), the FIPS 180-2 example.
  EXPECT_EQ(migrations[0].checksum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(migrations[2].sql, "SELECT 10;");
}

TEST_F(MigrateListTest, ChecksumCoversEveryByte) {
  write("001_a.sql", "SELECT 1;\n");
  const std::string before = list(dir_)[0].checksum;
  write("001_a.sql", "SELECT 1; \n");
  EXPECT_NE(list(dir_)[0].checksum, before);
}

TEST_F(MigrateListTest, MisnamedSqlFileIsRefused) {
  write("001_ok.sql", "");
  for (const char* bad : {"initial.sql", "001-initial.sql", "0_zero.sql", "001_.sql", "001_sp ace.sql"}) {
    write(bad, "");
    try {
      (void)list(dir_);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const MigrationError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
    std::filesystem::remove(dir_ + "/" + bad);
  }
}

TEST_F(MigrateListTest, TwoFilesWithOneVersionAreRefused) {
  write("001_a.sql", "");
  write("1_b.sql", "");
  try {
    (void)list(dir_);
    ADD_FAILURE() << "accepted two version-1 files";
  } catch (const MigrationError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("001_a.sql"), std::string::npos) << message;
    EXPECT_NE(message.find("1_b.sql"), std::string::npos) << message;
  }
}

TEST_F(MigrateListTest, MissingDirectoryIsAnError) {
  EXPECT_THROW((void)list(dir_ + "/nope"), MigrationError);
}

// The shipped migrations themselves: correctly named, 001 first, no gaps.
TEST(ShippedMigrations, NumberedFromOneWithoutGaps) {
  const auto migrations = list(std::string(WAGATE_SOURCE_DIR) + "/sql");
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations[0].file, "001_initial.sql");
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1)) << migrations[i].file;
  }
}

}  // namespace
}  // namespace wagate::migrate
