// config_test.cpp — the key table, file and environment parsing, secrets, reload, and the shipped example.
#include "wagate/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "log_capture.hpp"
#include "wagate/error.hpp"

namespace wagate::config {
namespace {

constexpr std::string_view kOrigin = "/etc/wagate/wagate.conf";

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

Config parse(std::string_view text, const std::map<std::string, std::string>& env = {}) {
  return Config::parse(text, kOrigin, env);
}

std::string parse_error(std::string_view text, const std::map<std::string, std::string>& env = {}) {
  return error_of([&] { (void)parse(text, env); });
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "wagate-config-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { std::filesystem::remove_all(path_); }

  std::string write(const std::string& name, std::string_view content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::trunc) << content;
    return file;
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value != nullptr) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// ---- the table ----

TEST(ConfigKeys, TableIsConsistent) {
  std::set<std::string_view> names;
  for (const KeySpec& spec : keys()) {
    EXPECT_TRUE(names.insert(spec.name).second) << "duplicate key " << spec.name;
    EXPECT_TRUE(std::regex_match(std::string(spec.name), std::regex("[a-z][a-z0-9_]*"))) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_EQ(check_value(spec, spec.default_value), "") << spec.name << ": the default must be valid";
    if (spec.type == Type::Int) {
      EXPECT_LT(spec.min, spec.max) << spec.name;
    }
    EXPECT_EQ(find_key(spec.name), &spec);
  }
  EXPECT_EQ(find_key("no_such_key"), nullptr);
}

// ---- parsing ----

TEST(Config, DefaultsComeFromTheTable) {
  const Config config = Config::defaults();
  for (const KeySpec& spec : keys()) EXPECT_EQ(config.str(spec.name), spec.default_value) << spec.name;
  EXPECT_EQ(config.str("pg_dsn"), "host=/var/run/postgresql dbname=wagate");
  EXPECT_EQ(config.integer("max_body_bytes"), 65536);
  EXPECT_EQ(config.integer("request_threads"), 16);
  EXPECT_EQ(config.list("opt_out_keywords"),
            (std::vector<std::string>{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}));
  EXPECT_TRUE(config.secret("master_key_file").empty());
}

TEST(Config, FileValuesReplaceDefaults) {
  const Config config = parse(
      "# a comment = not a setting\n"
      "\n"
      "   max_body_bytes   =   2048   \n"
      "log_level = \"debug\"\r\n"
      "public_base_url = https://wa.example.com:8443\n"
      "opt_in_keywords = START , YES,,  GO \n"
      "spool_dir = /srv/spool # not a comment\n"
      "status_callback_url =\n");
  EXPECT_EQ(config.integer("max_body_bytes"), 2048);
  EXPECT_EQ(config.str("log_level"), "debug");
  EXPECT_EQ(config.str("public_base_url"), "https://wa.example.com:8443");
  EXPECT_EQ(config.list("opt_in_keywords"), (std::vector<std::string>{"START", "YES", "GO"}));
  EXPECT_EQ(config.str("spool_dir"), "/srv/spool # not a comment");
  EXPECT_EQ(config.str("status_callback_url"), "");
  EXPECT_EQ(config.integer("sender_mps"), 80);  // untouched keys keep their default
}

TEST(Config, EnvironmentWinsOverTheFile) {
  const Config config = parse("max_body_bytes = 2048\npg_dsn = dbname=file\n",
                              {{"WAGATE_MAX_BODY_BYTES", "4096"},
                               {"WAGATE_PG_DSN", "dbname=env"},
                               {"WAGATE_URL", "https://not-a-key"},
                               {"WAGATE_CONFIG", "/elsewhere"}});
  EXPECT_EQ(config.integer("max_body_bytes"), 4096);
  EXPECT_EQ(config.str("pg_dsn"), "dbname=env");
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
  EXPECT_EQ(parse_error("", {{"WAGATE_SENDER_MPS", "fast"}}),
            "environment variable WAGATE_SENDER_MPS: bad value for 'sender_mps': "
            "expected an integer from 1 to 1000, got 'fast'");
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(parse_error("log_level = info\n\nfoo = 1\n"), "/etc/wagate/wagate.conf:3: unknown key 'foo'");
  // Keys are exact: the environment spelling is not a file key.
  EXPECT_EQ(parse_error("MAX_BODY_BYTES = 2048\n"), "/etc/wagate/wagate.conf:1: unknown key 'MAX_BODY_BYTES'");
}

TEST(Config, BadValuesNameKeyLineAndExpectation) {
  EXPECT_EQ(parse_error("\n\n\n\n\n\nmax_body_bytes = abc\n"),
            "/etc/wagate/wagate.conf:7: bad value for 'max_body_bytes': "
            "expected an integer from 1024 to 10485760, got 'abc'");
  EXPECT_EQ(parse_error("max_body_bytes = 1023\n"),
            "/etc/wagate/wagate.conf:1: bad value for 'max_body_bytes': "
            "expected an integer from 1024 to 10485760, got '1023'");
  EXPECT_TRUE(contains(parse_error("request_threads = 257\n"), ":1: bad value for 'request_threads'"));
  EXPECT_TRUE(contains(parse_error("request_threads = 16k\n"), "got '16k'"));
  EXPECT_TRUE(contains(parse_error("request_threads = 0x10\n"), "got '0x10'"));
  EXPECT_TRUE(contains(parse_error("request_threads = 99999999999999999999\n"), "request_threads"));
  EXPECT_EQ(parse_error("log_level = verbose\n"),
            "/etc/wagate/wagate.conf:1: bad value for 'log_level': "
            "expected debug, info, warning or error, got 'verbose'");
}

TEST(Config, UrlsAreChecked) {
  EXPECT_TRUE(contains(parse_error("public_base_url = https://wa.example.com/\n"),
                       ":1: bad value for 'public_base_url'"));
  EXPECT_TRUE(contains(parse_error("public_base_url = wa.example.com\n"), "'public_base_url'"));
  EXPECT_TRUE(contains(parse_error("public_base_url = ftp://wa.example.com\n"), "'public_base_url'"));
  EXPECT_TRUE(contains(parse_error("public_base_url = https://\n"), "'public_base_url'"));
  EXPECT_EQ(parse("public_base_url = https://example.com/wagate\n").str("public_base_url"),
            "https://example.com/wagate");
  EXPECT_TRUE(contains(parse_error("twilio_api_base =\n"), "'twilio_api_base'"));
  EXPECT_TRUE(contains(parse_error("twilio_api_base = api.twilio.com\n"), "'twilio_api_base'"));
  EXPECT_EQ(parse("twilio_api_base = http://127.0.0.1:18080\n").str("twilio_api_base"), "http://127.0.0.1:18080");
  EXPECT_TRUE(contains(parse_error("status_callback_url = https://my_host/status\n"), "'status_callback_url'"));
}

TEST(Config, CheckValueCoversEveryType) {
  const KeySpec flag{.name = "flag", .type = Type::Bool, .default_value = "false", .reloadable = true,
                     .secret = false, .help = "a flag"};
  for (const char* good : {"true", "false", "yes", "no", "on", "off", "1", "0", "TRUE", "Off"}) {
    EXPECT_EQ(check_value(flag, good), "") << good;
  }
  EXPECT_EQ(check_value(flag, "maybe"), "expected true or false (yes/no, on/off, 1/0), got 'maybe'");
  EXPECT_NE(check_value(flag, ""), "");

  const KeySpec secret_number{.name = "pin", .type = Type::Int, .default_value = "1", .reloadable = false,
                              .secret = true, .help = "a pin", .min = 1, .max = 9};
  const std::string problem = check_value(secret_number, "hunter2");
  EXPECT_FALSE(contains(problem, "hunter2")) << problem;
  EXPECT_TRUE(contains(problem, "(redacted)")) << problem;
}

TEST(Config, DuplicateKeyIsAnErrorThatDoesNotEchoValues) {
  const std::string error = parse_error("pg_dsn = dbname=a password=first\nsender_mps = 5\npg_dsn = password=second\n");
  EXPECT_EQ(error, "/etc/wagate/wagate.conf:3: duplicate key 'pg_dsn' (first set at /etc/wagate/wagate.conf:1)");
}

TEST(Config, MalformedLineIsAnErrorThatDoesNotEchoTheLine) {
  EXPECT_EQ(parse_error("log_level = info\nhunter2\n"), "/etc/wagate/wagate.conf:2: expected 'key = value'");
  EXPECT_EQ(parse_error("= value\n"), "/etc/wagate/wagate.conf:1: expected 'key = value'");
  EXPECT_EQ(parse_error("log level = info\n"), "/etc/wagate/wagate.conf:1: expected 'key = value'");
}

TEST(Config, AccessorsRejectWrongKeysAndTypes) {
  const Config config = Config::defaults();
  EXPECT_THROW((void)config.str("no_such_key"), ConfigError);
  EXPECT_THROW((void)config.integer("log_level"), ConfigError);
  EXPECT_THROW((void)config.list("max_body_bytes"), ConfigError);
  EXPECT_THROW((void)config.secret("log_level"), ConfigError);
}

// ---- secrets ----

TEST(Config, SecretFileIsReadAndTrailingNewlinesTrimmed) {
  const TempDir dir;
  const std::string key = std::string(64, 'a');
  const std::string path = dir.write("master.key", key + "\n\n");
  const Config config = parse("master_key_file = " + path + "\n");
  EXPECT_EQ(config.secret("master_key_file").reveal(), key);
  EXPECT_EQ(config.str("master_key_file"), path);  // the path is not the secret
}

TEST(Config, RelativeSecretFileResolvesAgainstCredentialsDirectory) {
  const TempDir dir;
  dir.write("master.key", "0123456789abcdef\r\n");
  const Config from_file = parse("master_key_file = master.key\n", {{"CREDENTIALS_DIRECTORY", dir.path()}});
  EXPECT_EQ(from_file.secret("master_key_file").reveal(), "0123456789abcdef");
  const Config from_env =
      parse("", {{"CREDENTIALS_DIRECTORY", dir.path()}, {"WAGATE_MASTER_KEY_FILE", "master.key"}});
  EXPECT_EQ(from_env.secret("master_key_file").reveal(), "0123456789abcdef");
}

TEST(Config, UnreadableSecretFileNamesKeyAndPathOnly) {
  const TempDir dir;
  const std::string missing = dir.path() + "/missing.key";
  const std::string error = parse_error("\nmaster_key_file = " + missing + "\n");
  EXPECT_EQ(error, "/etc/wagate/wagate.conf:2: cannot read master_key_file '" + missing +
                       "': No such file or directory");

  // A directory where the file should be: the error still names key and path,
  // and nothing else that lives there.
  dir.write("neighbour", "s3cr3t-neighbour");
  const std::string not_file = parse_error("master_key_file = " + dir.path() + "\n");
  EXPECT_TRUE(contains(not_file, "master_key_file")) << not_file;
  EXPECT_TRUE(contains(not_file, dir.path())) << not_file;
  EXPECT_FALSE(contains(not_file, "s3cr3t")) << not_file;

  const std::string from_env = parse_error("", {{"WAGATE_MASTER_KEY_FILE", missing}});
  EXPECT_TRUE(contains(from_env, "environment variable WAGATE_MASTER_KEY_FILE")) << from_env;
}

TEST(Config, DumpShowsEveryKeyAndRedactsSecrets) {
  const TempDir dir;
  const std::string path = dir.write("master.key", "feedfacecafebeef");
  const Config config = parse("pg_dsn = host=db password=hunter2\nmax_body_bytes = 2048\nmaster_key_file = " +
                              path + "\n");
  const std::string dump = config.dump();
  EXPECT_FALSE(contains(dump, "hunter2")) << dump;
  EXPECT_FALSE(contains(dump, "feedfacecafebeef")) << dump;
  EXPECT_TRUE(contains(dump, "pg_dsn = (redacted)\n")) << dump;
  EXPECT_TRUE(contains(dump, "max_body_bytes = 2048\n")) << dump;
  EXPECT_TRUE(contains(dump, "master_key_file = " + path + "\n")) << dump;
  for (const KeySpec& spec : keys()) EXPECT_TRUE(contains(dump, std::string(spec.name) + " = ")) << spec.name;
  // The code that connects still gets the real string.
  EXPECT_EQ(config.str("pg_dsn"), "host=db password=hunter2");
  EXPECT_EQ(config.secret("pg_dsn").reveal(), "host=db password=hunter2");
}

TEST(Config, RedisUrlPasswordIsNeverShown) {
  // redis://:password@host/db carries Redis's AUTH password.
  const Config config = parse("redis_url = redis://:hunter2@cache:6379/0\n");
  const std::string dump = config.dump();
  EXPECT_TRUE(contains(dump, "redis_url = (redacted)\n")) << dump;
  EXPECT_FALSE(contains(dump, "hunter2")) << dump;
  EXPECT_EQ(config.str("redis_url"), "redis://:hunter2@cache:6379/0");
}

// ---- loading from disk and the process environment ----

TEST(Config, LoadReadsTheFileAndTheProcessEnvironment) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "sender_mps = 10\nretention_days = 30\n");
  const ScopedEnv env("WAGATE_RETENTION_DAYS", "7");
  const Config config = Config::load(path);
  EXPECT_EQ(config.integer("sender_mps"), 10);
  EXPECT_EQ(config.integer("retention_days"), 7);
  EXPECT_TRUE(contains(error_of([&] { (void)Config::load(dir.path() + "/none.conf"); }),
                       dir.path() + "/none.conf"));
  const std::string bad = dir.write("bad.conf", "sender_mps = 0\n");
  EXPECT_TRUE(contains(error_of([&] { (void)Config::load(bad); }), bad + ":1: bad value for 'sender_mps'"));
}

TEST(Config, PathFromFlagThenEnvironmentThenDefault) {
  const ScopedEnv unset("WAGATE_CONFIG", nullptr);
  std::string prog = "wagate-api", flag = "--config", value = "/a.conf", joined = "--config=/b.conf";
  {
    char* argv[] = {prog.data(), flag.data(), value.data()};
    EXPECT_EQ(path_from(3, argv), "/a.conf");
  }
  {
    char* argv[] = {prog.data(), joined.data()};
    EXPECT_EQ(path_from(2, argv), "/b.conf");
  }
  char* argv[] = {prog.data()};
  EXPECT_EQ(path_from(1, argv), kDefaultPath);
  const ScopedEnv env("WAGATE_CONFIG", "/c.conf");
  EXPECT_EQ(path_from(1, argv), "/c.conf");
  {
    char* flag_argv[] = {prog.data(), flag.data(), value.data()};
    EXPECT_EQ(path_from(3, flag_argv), "/a.conf");  // the flag wins over the environment
  }
  char* dangling[] = {prog.data(), flag.data()};
  EXPECT_THROW((void)path_from(2, dangling), ConfigError);
}

// ---- reload ----

TEST(ConfigHolder, ReloadAppliesReloadableKeys) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "sender_mps = 10\n");
  Holder holder(path);
  const auto before = holder.current();
  dir.write("wagate.conf", "sender_mps = 20\nlog_level = debug\n");
  test::LogCapture capture;
  EXPECT_TRUE(holder.reload());
  EXPECT_EQ(holder.current()->integer("sender_mps"), 20);
  EXPECT_EQ(holder.current()->str("log_level"), "debug");
  EXPECT_EQ(before->integer("sender_mps"), 10);  // a snapshot taken earlier does not change under a reader
  EXPECT_EQ(capture.text(), "");
}

TEST(ConfigHolder, BadFileKeepsTheOldConfigAndLogsWhy) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "sender_mps = 10\n");
  Holder holder(path);
  dir.write("wagate.conf", "sender_mps = 20\nfoo = bar\n");
  test::LogCapture capture;
  EXPECT_FALSE(holder.reload());
  EXPECT_EQ(holder.current()->integer("sender_mps"), 10);
  const std::string text = capture.text();
  EXPECT_TRUE(text.starts_with("<3>event=config_reload_failed ")) << text;
  EXPECT_TRUE(contains(text, "error=\"" + path + ":2: unknown key 'foo'\"")) << text;
}

TEST(ConfigHolder, NonReloadableChangeIsLoggedAndIgnored) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "request_threads = 4\npg_dsn = password=old\nsender_mps = 10\n");
  Holder holder(path);
  dir.write("wagate.conf", "request_threads = 8\npg_dsn = password=new\nsender_mps = 30\n");
  test::LogCapture capture;
  EXPECT_TRUE(holder.reload());
  EXPECT_EQ(holder.current()->integer("request_threads"), 4);
  EXPECT_EQ(holder.current()->str("pg_dsn"), "password=old");
  EXPECT_EQ(holder.current()->integer("sender_mps"), 30);
  const std::string text = capture.text();
  EXPECT_TRUE(contains(text, "<4>event=config_key_needs_restart key=request_threads running=4 configured=8\n"))
      << text;
  EXPECT_TRUE(contains(text, "<4>event=config_key_needs_restart key=pg_dsn\n")) << text;
  EXPECT_FALSE(contains(text, "password=")) << text;
}

TEST(ConfigHolder, ReloadOfAChangedRedisUrlLogsNoPassword) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "redis_url = redis://:old-pass@cache:6379/0\n");
  Holder holder(path);
  dir.write("wagate.conf", "redis_url = redis://:new-pass@cache:6379/0\n");
  test::LogCapture capture;
  EXPECT_TRUE(holder.reload());
  EXPECT_EQ(holder.current()->str("redis_url"), "redis://:old-pass@cache:6379/0");
  const std::string text = capture.text();
  EXPECT_TRUE(contains(text, "<4>event=config_key_needs_restart key=redis_url\n")) << text;
  EXPECT_FALSE(contains(text, "pass@")) << text;
}

TEST(ConfigHolder, ChangedNonReloadableSecretFileKeepsTheRunningKey) {
  const TempDir dir;
  const std::string key_path = dir.write("master.key", "old-key");
  const std::string path = dir.write("wagate.conf", "master_key_file = " + key_path + "\n");
  Holder holder(path);
  dir.write("master.key", "new-key");
  test::LogCapture capture;
  EXPECT_TRUE(holder.reload());
  EXPECT_EQ(holder.current()->secret("master_key_file").reveal(), "old-key");
  EXPECT_TRUE(contains(capture.text(), "key=master_key_file")) << capture.text();
  EXPECT_FALSE(contains(capture.text(), "old-key")) << capture.text();
  EXPECT_FALSE(contains(capture.text(), "new-key")) << capture.text();
}

TEST(ConfigHolder, ReloadHappensOnlyWhenRequested) {
  const TempDir dir;
  const std::string path = dir.write("wagate.conf", "sender_mps = 10\n");
  Holder holder(path);
  dir.write("wagate.conf", "sender_mps = 40\n");
  EXPECT_FALSE(holder.reload_if_requested());
  EXPECT_EQ(holder.current()->integer("sender_mps"), 10);
  Holder::request_reload();
  EXPECT_TRUE(holder.reload_if_requested());
  EXPECT_EQ(holder.current()->integer("sender_mps"), 40);
  EXPECT_FALSE(holder.reload_if_requested());  // one request, one reload
}

TEST(ConfigHolder, StartsOnlyWithAValidFile) {
  const TempDir dir;
  EXPECT_THROW(Holder(dir.path() + "/missing.conf"), ConfigError);
  EXPECT_THROW(Holder(dir.write("bad.conf", "max_body_bytes = 1\n")), ConfigError);
}

// ---- the shipped example ----

struct ExampleSetting {
  std::string key;
  std::string value;
  std::string paragraph;  // the comment lines above it, joined by blanks
};

const std::regex kSettingLine(R"(# ([a-z][a-z0-9_]*) =(?: (.*))?)");

std::string example_text() {
  std::ifstream in(std::string(WAGATE_SOURCE_DIR) + "/etc/wagate.conf.example");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<ExampleSetting> example_settings(const std::string& text) {
  std::vector<ExampleSetting> settings;
  std::istringstream in(text);
  std::string line, paragraph;
  std::smatch match;
  while (std::getline(in, line)) {
    if (line.empty()) {
      paragraph.clear();
    } else if (std::regex_match(line, match, kSettingLine)) {
      settings.push_back({match[1], match[2], paragraph});
    } else if (line.starts_with("# ")) {
      paragraph += (paragraph.empty() ? "" : " ") + line.substr(2);
    }
  }
  return settings;
}

TEST(ConfigExample, ListsEveryKeyInTableOrderWithItsDefault) {
  const std::string text = example_text();
  ASSERT_FALSE(text.empty()) << "etc/wagate.conf.example not found";
  const auto settings = example_settings(text);
  const auto table = keys();
  ASSERT_EQ(settings.size(), table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(settings[i].key, table[i].name);
    EXPECT_EQ(settings[i].value, table[i].default_value) << table[i].name;
  }
}

TEST(ConfigExample, EachKeyHasAParagraphWithHelpDefaultReloadAndSecrecy) {
  for (const ExampleSetting& setting : example_settings(example_text())) {
    const KeySpec* spec = find_key(setting.key);
    ASSERT_NE(spec, nullptr) << setting.key;
    const std::string& text = setting.paragraph;
    EXPECT_TRUE(contains(text, spec->help)) << setting.key << ": help differs from the table";
    const std::string default_text = spec->default_value.empty() ? "empty" : std::string(spec->default_value);
    EXPECT_TRUE(contains(text, "Default: " + default_text + ".")) << setting.key;
    EXPECT_EQ(contains(text, "Reload: SIGHUP applies a change."), spec->reloadable) << setting.key;
    EXPECT_EQ(contains(text, "Reload: needs a restart"), !spec->reloadable) << setting.key;
    EXPECT_EQ(contains(text, "Secret: "), spec->secret) << setting.key;
    if (spec->type == Type::Int) {
      EXPECT_TRUE(contains(text, "Range: " + std::to_string(spec->min) + " to " + std::to_string(spec->max) + "."))
          << setting.key;
    }
  }
}

TEST(ConfigExample, UncommentedExampleParsesToTheDefaults) {
  std::istringstream in(example_text());
  std::string line, uncommented;
  int settings = 0;
  while (std::getline(in, line)) {
    if (std::regex_match(line, kSettingLine)) {
      line = line.substr(2);
      ++settings;
    }
    uncommented += line + "\n";
  }
  ASSERT_GT(settings, 0);
  const Config config = Config::parse(uncommented, "wagate.conf.example", {});
  const Config defaults = Config::defaults();
  EXPECT_EQ(config.dump(), defaults.dump());
  for (const KeySpec& spec : keys()) EXPECT_EQ(config.str(spec.name), spec.default_value) << spec.name;
}

}  // namespace
}  // namespace wagate::config
