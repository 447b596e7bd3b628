// metrics_test.cpp — Prometheus text rendering, label escaping, merging per-process files, retiring dead processes.
#include "wagate/metrics.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "temp_dir.hpp"
#include "test_context.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/router.hpp"

namespace wagate::metrics {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A pid that certainly ran and has exited (and was reaped).
long dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

class MetricsDirTest : public ::testing::Test {
 protected:
  [[nodiscard]] std::string file_of(long pid) const { return dir_ + "/wagate-status-" + std::to_string(pid) + ".prom"; }
  const test::TempDir temp_{"wagate-metrics"};
  const std::string dir_ = temp_.path();
};

// What one process writes: a counter, a histogram and a gauge.
std::string process_text(std::uint64_t requests, double seconds, double started) {
  Registry registry;
  registry.counter("wagate_http_requests_total", "Requests.", {"route", "status"})
      .with({"/api/v1/whatsapp/status", "200"})
      .inc(requests);
  registry.histogram("wagate_http_request_duration_seconds", "Latency.", {"route"}, {0.01, 0.1})
      .with({"/api/v1/whatsapp/status"})
      .observe(seconds);
  registry.gauge("wagate_process_start_time_seconds", "Start.").with().set(started);
  return registry.render("wagate-status");
}

// ---- rendering ----

TEST(MetricsRender, CounterHasHelpTypeAndProcessAsFirstLabel) {
  Registry registry;
  auto& requests = registry.counter("wagate_http_requests_total", "Requests answered.", {"route", "status"});
  requests.with({"/api/v1/health", "200"}).inc();
  requests.with({"/api/v1/health", "200"}).inc(2);
  requests.with({"/api/v1/health", "503"}).inc();
  EXPECT_EQ(registry.render("wagate-api"),
            "# HELP wagate_http_requests_total Requests answered.\n"
            "# TYPE wagate_http_requests_total counter\n"
            "wagate_http_requests_total{process=\"wagate-api\",route=\"/api/v1/health\",status=\"200\"} 3\n"
            "wagate_http_requests_total{process=\"wagate-api\",route=\"/api/v1/health\",status=\"503\"} 1\n");
}

TEST(MetricsRender, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& latency = registry.histogram("wagate_twilio_request_duration_seconds", "Latency.", {}, {0.1, 1});
  latency.with().observe(0.05);
  latency.with().observe(0.1);  // a bound is inclusive: le means "less or equal"
  latency.with().observe(0.5);
  latency.with().observe(7);
  EXPECT_EQ(registry.render(),
            "# HELP wagate_twilio_request_duration_seconds Latency.\n"
            "# TYPE wagate_twilio_request_duration_seconds histogram\n"
            "wagate_twilio_request_duration_seconds_bucket{le=\"0.1\"} 2\n"
            "wagate_twilio_request_duration_seconds_bucket{le=\"1\"} 3\n"
            "wagate_twilio_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
            "wagate_twilio_request_duration_seconds_sum 7.65\n"
            "wagate_twilio_request_duration_seconds_count 4\n");
}

TEST(MetricsRender, FamiliesWithoutSeriesAreLeftOut) {
  Registry registry;
  registry.counter("wagate_sends_total", "Sends.", {"outcome"});
  EXPECT_EQ(registry.render("wagate-sender"), "");
}

TEST(MetricsRender, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.counter("wagate_x_total", "Back\\slash and\nnewline.", {"reason"}).with({"a\"b\\c\nd"}).inc();
  const std::string text = registry.render();
  EXPECT_TRUE(contains(text, "# HELP wagate_x_total Back\\\\slash and\\nnewline.\n")) << text;
  EXPECT_TRUE(contains(text, "wagate_x_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n")) << text;
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("\"\\\n"), "\\\"\\\\\\n");
}

TEST(MetricsRender, ValuesReadBackExactly) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(MetricsRegistry, SameNameIsOneFamilyAndAnotherTypeIsRefused) {
  Registry registry;
  auto& a = registry.counter("wagate_sends_total", "Sends.", {"outcome"});
  auto& b = registry.counter("wagate_sends_total", "Other help.", {"outcome"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(registry.gauge("wagate_sends_total", "A gauge."), std::logic_error);
}

TEST(MetricsRegistry, UnboundedLabelValuesAreCappedUnderOther) {
  Registry registry;
  auto& family = registry.counter("wagate_x_total", "X.", {"route"});
  for (std::size_t i = 0; i < kMaxSeries + 50; ++i) family.with({"/path/" + std::to_string(i)}).inc();
  Exposition parsed;
  parsed.add(registry.render());
  EXPECT_EQ(parsed.value("wagate_x_total{route=\"other\"}"), 50.0);
  EXPECT_EQ(parsed.value("wagate_x_total{route=\"/path/0\"}"), 1.0);
  EXPECT_FALSE(parsed.value("wagate_x_total{route=\"/path/" + std::to_string(kMaxSeries + 10) + "\"}"));
}

TEST(MetricsRegistry, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  auto& family = registry.counter("wagate_x_total", "X.", {"status"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) family.with({i % 2 == 0 ? "200" : "403"}).inc();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(family.with({"200"}).value() + family.with({"403"}).value(), 40000U);
}

// ---- the well-known metrics ----

TEST(MetricsKnown, StatusCallbackIsCountedByTheRecordsStatus) {
  const auto count = [](const std::string& series) {
    Exposition parsed;
    parsed.add(global().render());
    return parsed.value(series).value_or(0);
  };
  const std::string delivered = R"(wagate_callbacks_total{status="delivered",outcome="stored"})";
  const std::string other = R"(wagate_callbacks_total{status="other",outcome="duplicate"})";
  const double delivered_before = count(delivered);
  const double other_before = count(other);
  count_status_callback(R"({"kind":"status","tenant_id":1,"sid":"SMx","status":"delivered","error_code":""})",
                        "stored");
  count_status_callback(R"({"kind":"status","tenant_id":1,"sid":"SMx","status":"made_up_status"})", "duplicate");
  count_status_callback(R"({"kind":"status"})", "duplicate");
  EXPECT_EQ(count(delivered), delivered_before + 1);
  EXPECT_EQ(count(other), other_before + 2);
}

// The registry is process-wide and other tests count requests too: each
// series is read before and after, and must move by exactly this test's share.
TEST(MetricsKnown, HttpRequestsAreCountedByRoutePatternAndStatus) {
  const auto value = [](const std::string& series) {
    Exposition parsed;
    parsed.add(global().render());
    return parsed.value(series).value_or(0);
  };
  const std::string by_route = R"(wagate_http_requests_total{route="/api/v1/whatsapp/messages/{id}",status="404"})";
  const std::string unmatched = R"(wagate_http_requests_total{route="unmatched",status="404"})";
  const std::string fast_bucket = R"(wagate_http_request_duration_seconds_bucket{route="unmatched",le="0.001"})";
  const std::string all_bucket = R"(wagate_http_request_duration_seconds_bucket{route="unmatched",le="+Inf"})";
  const std::string sum = R"(wagate_http_request_duration_seconds_sum{route="unmatched"})";
  const double by_route_before = value(by_route);
  const double unmatched_before = value(unmatched);
  const double fast_before = value(fast_bucket);
  const double all_before = value(all_bucket);
  const double sum_before = value(sum);

  count_http_request("/api/v1/whatsapp/messages/{id}", 404, 0.002);
  count_http_request("", 404, 0.001);
  count_http_request("", 404, 0.5);

  EXPECT_EQ(value(by_route), by_route_before + 1);
  EXPECT_EQ(value(unmatched), unmatched_before + 2);  // an empty route is counted as "unmatched"
  EXPECT_EQ(value(fast_bucket), fast_before + 1);     // 0.001 s falls in le="0.001", 0.5 s does not
  EXPECT_EQ(value(all_bucket), all_before + 2);
  EXPECT_NEAR(value(sum), sum_before + 0.501, 1e-9);
}

TEST(MetricsKnown, HandledRequestsCarryTheRoutePatternNeverThePath) {
  http::Router router;
  router.add("GET", "/api/v1/whatsapp/delivery-status/{sid}",
             [](http::Request&, Context&) { return http::Response::json(200, "{}"); });
  auto context = test::make_context();
  http::Request request;
  request.method = "GET";
  request.path = "/api/v1/whatsapp/delivery-status/SMroutelabel00000000000000000000";
  const std::string series =
      R"(wagate_http_requests_total{route="/api/v1/whatsapp/delivery-status/{sid}",status="200"})";
  Exposition before;
  before.add(global().render());
  EXPECT_EQ(fcgi::handle(router, request, *context).status, 200);
  const std::string text = global().render();
  Exposition after;
  after.add(text);
  EXPECT_EQ(after.value(series).value_or(0), before.value(series).value_or(0) + 1);
  EXPECT_FALSE(contains(text, "SMroutelabel")) << "a raw path must never become a label";
}

// ---- merging ----

TEST(MetricsMerge, TwoProcessFilesSumSeriesBySeries) {
  Exposition merged;
  merged.add(process_text(3, 0.005, 100));
  merged.add(process_text(4, 0.05, 200));
  const std::string text = merged.render();
  EXPECT_EQ(merged.value(R"(wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="200"})"),
            7.0);
  const std::string series = R"(wagate_http_request_duration_seconds_bucket{process="wagate-status",route="/api/v1/whatsapp/status",le=)";
  EXPECT_EQ(merged.value(series + "\"0.01\"}"), 1.0);
  EXPECT_EQ(merged.value(series + "\"0.1\"}"), 2.0);
  EXPECT_EQ(merged.value(series + "\"+Inf\"}"), 2.0);
  EXPECT_EQ(merged.value(R"(wagate_http_request_duration_seconds_count{process="wagate-status",route="/api/v1/whatsapp/status"})"),
            2.0);
  // Each family once, with its HELP and TYPE, even though two files had it.
  EXPECT_EQ(text.find("# TYPE wagate_http_requests_total counter"),
            text.rfind("# TYPE wagate_http_requests_total counter"));
  EXPECT_TRUE(contains(text, "# HELP wagate_http_requests_total Requests.\n"));
}

TEST(MetricsMerge, SeriesOfOneProcessOnlyAreKept) {
  Registry api;
  api.counter("wagate_http_requests_total", "Requests.", {"route", "status"}).with({"/api/v1/health", "200"}).inc();
  Exposition merged;
  merged.add(process_text(1, 0.001, 1));
  merged.add(api.render("wagate-api"));
  EXPECT_EQ(merged.value(R"(wagate_http_requests_total{process="wagate-api",route="/api/v1/health",status="200"})"),
            1.0);
  EXPECT_EQ(merged.value(R"(wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="200"})"),
            1.0);
}

TEST(MetricsMerge, CumulativeOnlyDropsGauges) {
  Exposition merged;
  merged.add(process_text(2, 0.001, 1234), /*cumulative_only=*/true);
  EXPECT_FALSE(merged.value(R"(wagate_process_start_time_seconds{process="wagate-status"})"));
  EXPECT_FALSE(contains(merged.render(), "wagate_process_start_time_seconds"));
  EXPECT_EQ(merged.value(R"(wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="200"})"),
            2.0);
}

TEST(MetricsMerge, EscapedLabelsSurviveARoundTrip) {
  Registry registry;
  registry.counter("wagate_x_total", "X.", {"reason"}).with({"with space \"quoted\" and\nnewline"}).inc(5);
  Exposition merged;
  merged.add(registry.render("p"));
  merged.add(registry.render("p"));
  EXPECT_EQ(merged.render(), "# HELP wagate_x_total X.\n# TYPE wagate_x_total counter\n"
                             "wagate_x_total{process=\"p\",reason=\"with space \\\"quoted\\\" and\\nnewline\"} 10\n");
}

TEST(MetricsMerge, DamagedLinesAreSkipped) {
  Exposition merged;
  merged.add("# HELP wagate_x_total X.\n# TYPE wagate_x_total counter\nwagate_x_total 2\n"
             "wagate_x_total{a=\"b\"} not-a-number\nwagate_other_total 5\ngarbage\nwagate_x_total{a=\"c\"} 1");
  EXPECT_EQ(merged.value("wagate_x_total"), 2.0);
  EXPECT_EQ(merged.value("wagate_x_total{a=\"c\"}"), 1.0);  // the last line needs no newline
  EXPECT_FALSE(merged.value("wagate_other_total"));        // a sample outside its family's TYPE
  EXPECT_FALSE(merged.value("wagate_x_total{a=\"b\"}"));
}

// ---- the metrics directory ----

TEST(MetricsDir, FileNamesGiveThePid) {
  EXPECT_EQ(pid_of_file("wagate-api-1234.prom"), 1234);
  EXPECT_EQ(pid_of_file("wagate-sender-7.prom"), 7);
  EXPECT_FALSE(pid_of_file("retired.prom"));
  EXPECT_FALSE(pid_of_file(".wagate-api-12.prom.tmp"));
  EXPECT_FALSE(pid_of_file("wagate-api-12x.prom"));
  EXPECT_FALSE(pid_of_file("wagate-api-.prom"));
}

TEST_F(MetricsDirTest, LiveFilesAreSummedAndADeadProcessIsRetiredWithoutLosingCounts) {
  const long dead = dead_pid();
  write(file_of(getpid()), process_text(3, 0.005, 100));
  write(file_of(dead), process_text(4, 0.05, 200));
  const std::string requests =
      R"(wagate_http_requests_total{process="wagate-status",route="/api/v1/whatsapp/status",status="200"})";

  const Exposition first = collect(dir_);
  EXPECT_EQ(first.value(requests), 7.0);
  EXPECT_FALSE(std::filesystem::exists(file_of(dead)));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/retired.prom"));
  EXPECT_TRUE(std::filesystem::exists(file_of(getpid())));
  // The dead process's start time went with it; the live one's stays.
  EXPECT_EQ(first.value(R"(wagate_process_start_time_seconds{process="wagate-status"})"), 100.0);

  // Scraped again: the total does not go down (that would read as a reset).
  EXPECT_EQ(collect(dir_).value(requests), 7.0);

  // Another process exits later: its counts join the retired ones.
  const long dead_too = dead_pid();
  write(file_of(dead_too), process_text(10, 0.5, 300));
  EXPECT_EQ(collect(dir_).value(requests), 17.0);
  EXPECT_EQ(collect(dir_).value(
                R"(wagate_http_request_duration_seconds_count{process="wagate-status",route="/api/v1/whatsapp/status"})"),
            3.0);
}

TEST_F(MetricsDirTest, AMissingDirectoryIsEmpty) { EXPECT_TRUE(collect(dir_ + "/none").empty()); }

TEST_F(MetricsDirTest, PublisherWritesThisProcessWithItsNameAndStartTime) {
  count_send("created");
  const std::string path = dir_ + "/sub/wagate-sender-" + std::to_string(getpid()) + ".prom";
  {
    const Publisher publisher("wagate-sender", dir_ + "/sub", std::chrono::milliseconds(20));
    ASSERT_TRUE(std::filesystem::exists(path)) << "the directory is made and the first snapshot written at once";
    const std::string text = read(path);
    EXPECT_TRUE(contains(text, "# TYPE wagate_sends_total counter\n")) << text;
    EXPECT_TRUE(contains(text, "wagate_sends_total{process=\"wagate-sender\",outcome=\"created\"} ")) << text;
    EXPECT_TRUE(contains(text, "wagate_process_start_time_seconds{process=\"wagate-sender\",pid=\"" +
                                   std::to_string(getpid()) + "\"} "))
        << text;
    count_send("unknown");
    // Published again within a few periods.
    for (int i = 0; i < 100 && !contains(read(path), "outcome=\"unknown\""); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(contains(read(path), "wagate_sends_total{process=\"wagate-sender\",outcome=\"unknown\"} "));
  }
  EXPECT_TRUE(std::filesystem::exists(path)) << "the last snapshot stays for the retired totals";
}

TEST_F(MetricsDirTest, PublisherRetiresAFileAnEarlierProcessWithTheSamePidLeft) {
  const std::string own = dir_ + "/wagate-maint-" + std::to_string(getpid()) + ".prom";
  Registry earlier;
  earlier.counter("wagate_retention_dropped_partitions_total", "Dropped.").with().inc(3);
  write(own, earlier.render("wagate-maint"));
  {
    const Publisher publisher("wagate-maint", dir_, std::chrono::seconds(60));
    EXPECT_FALSE(contains(read(own), "wagate_retention_dropped_partitions_total")) << "our file starts from our counts";
  }
  EXPECT_EQ(collect(dir_).value(R"(wagate_retention_dropped_partitions_total{process="wagate-maint"})"), 3.0);
}

}  // namespace
}  // namespace wagate::metrics
