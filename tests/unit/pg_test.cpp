// pg_test.cpp — libpq wrapper without a server: typed result access, connection errors that hide the password.
#include "wagate/pg.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "silent_server.hpp"

namespace wagate::pg {
namespace {

using namespace std::chrono_literals;

// A loopback port nothing listens on: bound to get a free number, then closed.
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

using test::SilentServer;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string connection_error(const std::string& dsn) {
  try {
    Connection conn(dsn);
  } catch (const DbError& e) {
    return e.what();
  }
  ADD_FAILURE() << "connected with " << dsn.size() << "-byte DSN that should fail";
  return {};
}

TEST(PgConnection, RefusedConnectionNamesTheServerButNotThePassword) {
  const std::string port = std::to_string(closed_port());
  const std::string message = connection_error("host=127.0.0.1 port=" + port +
                                               " user=wagate password=hunter2 dbname=wagate connect_timeout=2");
  EXPECT_TRUE(message.starts_with("postgres: connection failed: ")) << message;
  EXPECT_NE(message.find(port), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

// The bounds below (2 s) are the webhook path's contract, not a speed test:
// without a deadline libpq waits connect_timeout (10 s) or for ever.
TEST(PgDeadline, ConnectingToAServerThatNeverAnswersGivesUpAtTheLimit) {
  const SilentServer server;
  const auto start = std::chrono::steady_clock::now();
  try {
    Connection conn(server.pg_dsn(), Limits{.connect = 300ms});
    FAIL() << "connected to a server that never answers";
  } catch (const Timeout& e) {
    EXPECT_NE(std::string(e.what()).find("no answer in time"), std::string::npos) << e.what();
  }
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(PgDeadline, ARequestDeadlineBoundsConnectingWithoutALimit) {
  const SilentServer server;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(Connection(server.pg_dsn(), Limits{}, std::chrono::steady_clock::now() + 300ms), Timeout);
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(PgDeadline, APassedDeadlineFailsAtOnceWithoutConnecting) {
  const SilentServer server;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(Connection(server.pg_dsn(), Limits{.connect = 5000ms}, std::chrono::steady_clock::now() - 1ms), Timeout);
  EXPECT_LT(seconds_since(start), 0.5);
}

TEST(PgConnection, UriDsnPasswordIsNotShown) {
  const std::string port = std::to_string(closed_port());
  const std::string message =
      connection_error("postgresql://wagate:hunter2@127.0.0.1:" + port + "/wagate?connect_timeout=2");
  EXPECT_TRUE(message.starts_with("postgres: connection failed: ")) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
}

// libpq quotes the whole URI when it cannot parse it.
TEST(PgConnection, UnparsableDsnPasswordIsNotShown) {
  for (const std::string dsn : {"postgresql://wagate:hunter2@[::1/wagate", "host=127.0.0.1 password=hunter2 bogus",
                                "host=127.0.0.1 password = 'hunter2' nonsense_option=1"}) {
    const std::string message = connection_error(dsn);
    EXPECT_TRUE(message.starts_with("postgres: connection failed: ")) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

TEST(PgConnection, ScrubCoversQuotedAndPercentEncodedPasswords) {
  EXPECT_EQ(scrub_connection_message("bad: a b'c\n\tHint: retry\n", "host=x password='a b\\'c'"),
            "bad: (redacted); Hint: retry");
  EXPECT_EQ(scrub_connection_message("in \"postgres://u:p%40ss@h/d\" and p@ss", "postgres://u:p%40ss@h/d"),
            "in \"postgres://u:(redacted)@h/d\" and (redacted)");
  EXPECT_EQ(scrub_connection_message("x=s3cret&y", "postgresql://h/d?password=s3cret&sslmode=disable"),
            "x=(redacted)&y");
  EXPECT_EQ(scrub_connection_message("nothing secret here", "host=h dbname=d"), "nothing secret here");
}

// A result built by hand, as libpq would deliver one: columns "id", "Name", "n".
class PgResultTest : public ::testing::Test {
 protected:
  static Result make(const std::vector<std::vector<const char*>>& rows) {
    PGresult* raw = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
    char id[] = "id", name[] = "Name", n[] = "n";
    PGresAttDesc columns[3] = {};
    columns[0].name = id;
    columns[1].name = name;
    columns[2].name = n;
    EXPECT_EQ(PQsetResultAttrs(raw, 3, columns), 1);
    for (int row = 0; row < static_cast<int>(rows.size()); ++row) {
      for (int col = 0; col < 3; ++col) {
        const char* value = rows[static_cast<size_t>(row)][static_cast<size_t>(col)];
        std::string copy = value != nullptr ? value : "";
        EXPECT_EQ(PQsetvalue(raw, row, col, value != nullptr ? copy.data() : nullptr,
                             value != nullptr ? static_cast<int>(copy.size()) : -1),
                  1);
      }
    }
    return Result(raw);
  }
};

TEST_F(PgResultTest, TextValuesAndNulls) {
  const Result result = make({{"1", "alice", "-42"}, {"2", nullptr, ""}});
  EXPECT_EQ(result.rows(), 2);
  EXPECT_EQ(result.columns(), 3);
  EXPECT_EQ(result.get(0, 1), "alice");
  EXPECT_FALSE(result.is_null(0, 1));
  EXPECT_TRUE(result.is_null(1, 1));
  EXPECT_EQ(result.get(1, 1), "");
  EXPECT_EQ(result.optional(1, 1), std::nullopt);
  // An empty string is a value, not NULL.
  EXPECT_EQ(result.optional(1, 2), std::optional<std::string>(""));
  EXPECT_EQ(result.get_int(0, 2), -42);
}

TEST_F(PgResultTest, GetIntRefusesWhatIsNotAnInteger) {
  const Result result = make({{"12abc", nullptr, "99999999999999999999"}, {"", "3.5", " 7"}});
  EXPECT_THROW((void)result.get_int(0, 0), DbError);
  EXPECT_THROW((void)result.get_int(0, 1), DbError);  // NULL
  EXPECT_THROW((void)result.get_int(0, 2), DbError);  // overflows long long
  EXPECT_THROW((void)result.get_int(1, 0), DbError);
  EXPECT_THROW((void)result.get_int(1, 1), DbError);
  EXPECT_THROW((void)result.get_int(1, 2), DbError);
}

TEST_F(PgResultTest, ColumnLookupIsExactAndOutOfRangeThrows) {
  const Result result = make({{"1", "a", "2"}});
  EXPECT_EQ(result.column("id"), 0);
  EXPECT_EQ(result.column("Name"), 1);
  EXPECT_THROW((void)result.column("name"), DbError);  // no case folding
  EXPECT_THROW((void)result.column("missing"), DbError);
  EXPECT_THROW((void)result.get(1, 0), DbError);
  EXPECT_THROW((void)result.get(0, 3), DbError);
  EXPECT_THROW((void)result.is_null(-1, 0), DbError);
}

}  // namespace
}  // namespace wagate::pg
