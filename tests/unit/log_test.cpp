// log_test.cpp — line format, quoting, escaping against log injection, level filtering, redaction.
#include "wagate/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "log_capture.hpp"
#include "wagate/error.hpp"

namespace wagate::log {
namespace {

using test::LogCapture;

TEST(Log, FormatsLevelEventAndPairsOnOneLine) {
  LogCapture capture;
  info("request").kv("req_id", "abc").kv("status", 200).kv("ok", true).kv("dur_ms", 3.5).kv("n", 12L);
  EXPECT_EQ(capture.text(), "<6>event=request req_id=abc status=200 ok=true dur_ms=3.5 n=12\n");
}

TEST(Log, PrefixesEachLevelForJournald) {
  LogCapture capture;
  set_level(Level::Debug);
  error("a");
  warning("b");
  info("c");
  debug("d");
  EXPECT_EQ(capture.text(), "<3>event=a\n<4>event=b\n<6>event=c\n<7>event=d\n");
}

TEST(Log, QuotesValuesWithBlanksQuotesOrEquals) {
  LogCapture capture;
  info("e")
      .kv("error", "no route to host")
      .kv("quote", "say \"hi\"")
      .kv("dsn", "a=b")
      .kv("empty", "")
      .kv("path", "C:\\dir x")
      .kv("plain", "/api/v1/whatsapp/status");
  EXPECT_EQ(capture.text(),
            "<6>event=e error=\"no route to host\" quote=\"say \\\"hi\\\"\" dsn=\"a=b\" empty=\"\" "
            "path=\"C:\\\\dir x\" plain=/api/v1/whatsapp/status\n");
}

TEST(Log, EscapesControlCharactersSoAValueCannotStartANewLine) {
  LogCapture capture;
  info("inbound").kv("body", "hi\n<3>event=admin_login user=root").kv("t", "a\tb\rc\x01\x7f");
  const std::string text = capture.text();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(text,
            "<6>event=inbound body=\"hi\\n<3>event=admin_login user=root\" t=\"a\\tb\\rc\\x01\\x7f\"\n");
}

TEST(Log, KeysAndEventNamesCannotBreakTheFormat) {
  LogCapture capture;
  info("bad event\n").kv("a key=\n", "v");
  EXPECT_EQ(capture.text(), "<6>event=\"bad event\\n\" a_key__=v\n");
}

TEST(Log, CutsVeryLongValues) {
  LogCapture capture;
  info("e").kv("body", std::string(100000, 'x'));
  const std::string text = capture.text();
  EXPECT_LT(text.size(), 4096u);
  EXPECT_TRUE(text.ends_with("...(truncated)\"\n")) << text.substr(text.size() - 40);
}

TEST(Log, LevelFiltersLessSevereLines) {
  LogCapture capture;
  set_level(Level::Warning);
  debug("d").kv("k", 1);
  info("i");
  warning("w");
  error("e");
  EXPECT_EQ(capture.text(), "<4>event=w\n<3>event=e\n");
  set_level(Level::Error);
  warning("w2");
  EXPECT_EQ(capture.text(), "<4>event=w\n<3>event=e\n");
}

TEST(Log, SecretIsNeverPrinted) {
  LogCapture capture;
  const Secret token("tok-7f3a9c1e5b");
  error("twilio_auth_failed").kv("auth_token", token).kv("tenant", "acme");
  const std::string text = capture.text();
  EXPECT_EQ(text.find("tok-7f3a9c1e5b"), std::string::npos);
  EXPECT_EQ(text, "<3>event=twilio_auth_failed auth_token=(redacted) tenant=acme\n");
}

TEST(Log, ParseLevelAcceptsTheConfiguredNames) {
  EXPECT_EQ(parse_level("error"), Level::Error);
  EXPECT_EQ(parse_level("warning"), Level::Warning);
  EXPECT_EQ(parse_level("info"), Level::Info);
  EXPECT_EQ(parse_level("debug"), Level::Debug);
  EXPECT_THROW((void)parse_level("verbose"), ConfigError);
  EXPECT_THROW((void)parse_level(""), ConfigError);
}

// The default sink writes each line with one write(2), so lines from many
// request threads never interleave in the journal.
TEST(Log, DefaultSinkKeepsLinesFromManyThreadsWhole) {
  char path[] = "/tmp/wagate-log-test-XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  ASSERT_EQ(fcntl(file, F_SETFL, O_APPEND), 0);
  const int saved_stderr = dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ASSERT_EQ(dup2(file, STDERR_FILENO), STDERR_FILENO);

  constexpr int kThreads = 8;
  constexpr int kLines = 200;
  const std::string payload(300, 'p');
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) info("tick").kv("thread", t).kv("i", i).kv("payload", payload);
    });
  }
  for (auto& thread : threads) thread.join();

  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(file);
  std::ifstream in(path);
  std::remove(path);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    ++count;
    EXPECT_TRUE(line.starts_with("<6>event=tick thread=")) << line.substr(0, 60);
    EXPECT_TRUE(line.ends_with(" payload=" + payload)) << line.substr(0, 60);
  }
  EXPECT_EQ(count, kThreads * kLines);
}

}  // namespace
}  // namespace wagate::log
