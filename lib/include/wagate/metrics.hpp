// metrics.hpp — Prometheus counters and histograms: counted in memory, published per process, merged at scrape.
//
// Every process type runs as several processes (handler children, senders,
// maintenance runs) and a scrape reaches only one of them. So each process
// counts in memory (one relaxed atomic add per event), a Publisher writes
// its snapshot once a second to <metrics_dir>/<process>-<pid>.prom, and the
// /metrics handler merges the files with collect(): the same series of
// different processes are summed. The counters of a process that has exited
// are folded into retired.prom, so that a total never goes down (a decrease
// reads as a counter reset to Prometheus, and rate() would spike).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace wagate::metrics {

// A total that only goes up.
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that is set, not accumulated (a start time, a queue length).
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets by upper bound (ascending; +Inf is
// implicit), with their sum. The count is the sum of the buckets, so a
// snapshot's _count always equals its +Inf bucket.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);  // NaN is ignored

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;
  [[nodiscard]] std::span<const double> bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // not cumulative: bounds_.size() + 1, zeroed
  std::atomic<double> sum_{0};
};

enum class Type { Counter, Gauge, Histogram };

// Most series one family holds. Label values come from small fixed sets;
// should a bug feed it an unbounded one, further label sets are counted
// under the value "other" instead of growing memory and the scrape.
inline constexpr std::size_t kMaxSeries = 256;

// The series of one metric name, one per combination of label values.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual ~FamilyBase() = default;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] Type type() const { return type_; }
  // Appends HELP, TYPE and every series in text format 0.0.4. A non-empty
  // `process` becomes the first label of every series.
  virtual void render(std::string& out, std::string_view process) const = 0;

 protected:
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
};

template <class Metric>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), bounds_(std::move(bounds)) {}

  // The series with these label values, in the order of the label names;
  // created on first use. The reference stays valid for the registry's life,
  // so a hot path may look it up once and keep it.
  Metric& with(std::initializer_list<std::string_view> values = {});
  void render(std::string& out, std::string_view process) const override;

 private:
  struct Series {
    std::vector<std::string> values;
    std::unique_ptr<Metric> metric;
  };
  std::vector<double> bounds_;  // Histogram only
  mutable std::mutex mutex_;
  std::map<std::string, Series> series_;  // by joined label values: rendered in a stable order
};

class Registry {
 public:
  // Registering a name again returns the family registered first (its help,
  // labels and bounds stay); a different type under the same name throws
  // std::logic_error.
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> bounds);

  // Text format 0.0.4, families in registration order. A non-empty
  // `process` is added as the first label of every series.
  [[nodiscard]] std::string render(std::string_view process = {}) const;

 private:
  FamilyBase* find(const std::string& name, Type type) const;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// The registry of this process, which the Publisher writes out.
Registry& global();

// ---- the metrics every process records (all in global()) ----

// Bucket bounds, in seconds.
inline constexpr double kHttpBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
inline constexpr double kTwilioBounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// One request answered by a FastCGI handler. `route` is the pattern of the
// route that matched ("/api/v1/whatsapp/messages/{id}"), never the raw path;
// empty (no route matched) counts as "unmatched".
void count_http_request(std::string_view route, int status, double seconds);
// A webhook refused before it was stored; `reason` is the error code it was
// answered with (invalid_signature, unknown_account, missing_signature, ...).
void count_signature_failure(std::string_view reason);
// A status callback made durable: `record` is the JSON record the status
// handler built ({"kind":"status",...,"status":"delivered",...}); its status
// is found by a scan, not a parse, and a status Twilio does not document
// counts as "other". outcome: stored, duplicate, spooled or lost.
void count_status_callback(std::string_view record, std::string_view outcome);
// Records appended to the local spool because Postgres was unreachable.
void count_spool_append(std::string_view kind, std::size_t records);
// Spool contents moved to a quarantine file on replay instead of Postgres:
// reason "refused" (a record the database refuses, or not a record at all)
// or "damaged" (bytes between intact records that fail the framing).
void count_spool_quarantine(std::string_view reason, std::size_t records);
// One send attempt's recorded outcome: created, failed, retrying or unknown;
// or canceled_opted_out, a message canceled at its claim (no request made).
void count_send(std::string_view outcome);
// One request to Twilio's REST API, from the first byte sent to the answer.
void observe_twilio_request(std::chrono::milliseconds duration);

// ---- text format ----

// Label value escaping of the text format: backslash, double quote, newline.
std::string escape_label_value(std::string_view value);
// A sample value or bound as Prometheus reads it back: "3", "0.005", "+Inf".
std::string format_value(double value);

// A parsed exposition that sums what is added to it: the merge of the
// per-process files. Only text as Registry::render writes it is expected
// (series spelled the same way by every process); a line that does not
// parse is skipped, so one damaged file cannot break the scrape.
class Exposition {
 public:
  // Adds every family of `text`; a series already present is summed.
  // cumulative_only skips gauges: what a process that has exited last set
  // means nothing now, while its counts still belong to the totals.
  void add(std::string_view text, bool cumulative_only = false);
  [[nodiscard]] std::string render() const;
  [[nodiscard]] bool empty() const { return families_.empty(); }
  // One series' value by its text ("name{a=\"b\"}", labels as rendered).
  [[nodiscard]] std::optional<double> value(std::string_view series) const;

 private:
  struct Family {
    std::string name;
    std::string help;  // escaped, as in the text
    std::string type;
    std::vector<std::pair<std::string, double>> series;  // first-seen order
    std::unordered_map<std::string, std::size_t> index;
  };
  Family* family(std::string_view name);

  std::vector<Family> families_;
  std::unordered_map<std::string, std::size_t> index_;
};

// ---- the metrics directory ----

// Writes global() to <dir>/<process>-<pid>.prom every `every` and once more
// when destroyed, through a temporary file and rename(), so a reader never
// sees half a file. A file of the same name left by an earlier process that
// had this pid is folded into the retired totals first. A directory that
// cannot be written is logged once and tried again: metrics never stop the
// process. Also sets wagate_process_start_time_seconds{pid}.
class Publisher {
 public:
  Publisher(std::string process, std::string dir, std::chrono::milliseconds every = std::chrono::seconds(1));
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  ~Publisher();

  bool publish();  // now; false when the file could not be written

 private:
  void run();

  std::string process_;
  std::string dir_;
  std::string path_;
  std::chrono::milliseconds every_;
  bool warned_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The merged metrics of every process publishing into `dir`: the files of
// live processes summed series by series, plus retired.prom. Files of
// processes that no longer run are folded into retired.prom (counters and
// histograms only) and removed, under an flock on <dir>/.lock so concurrent
// scrapes fold each file once. A missing directory is empty.
Exposition collect(const std::string& dir);

// "<process>-<pid>.prom" -> pid; nullopt for any other name.
std::optional<long> pid_of_file(std::string_view file_name);

}  // namespace wagate::metrics
