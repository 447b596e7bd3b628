// metrics.cpp — Prometheus counters and histograms: counted in memory, published per process, merged at scrape.
#include "wagate/metrics.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "wagate/file_descriptor.hpp"
#include "wagate/log.hpp"
#include "wagate/message_status.hpp"

namespace wagate::metrics {
namespace {

constexpr std::string_view kRetiredFile = "retired.prom";
constexpr std::string_view kLockFile = ".lock";

// `{process="..",a="..",le=".."}`, or "" when there is no label at all.
std::string label_block(std::string_view process, const std::vector<std::string>& names,
                        const std::vector<std::string>& values, std::string_view extra_name = {},
                        std::string_view extra_value = {}) {
  std::string out;
  const auto add = [&](std::string_view name, std::string_view value) {
    out += out.empty() ? "{" : ",";
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  };
  if (!process.empty()) add("process", process);
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) add(names[i], values[i]);
  if (!extra_name.empty()) add(extra_name, extra_value);
  if (!out.empty()) out += '}';
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* type_name(Type type) {
  switch (type) {
    case Type::Counter: return "counter";
    case Type::Gauge: return "gauge";
    case Type::Histogram: return "histogram";
  }
  return "untyped";
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Replaces `path` with `content` at once: readers see the old file or the
// new one, never a part. No fsync: the directory is a tmpfs (/run), and a
// file lost with a crash of the machine only restarts the totals.
bool replace_file(const std::string& path, std::string_view content) {
  const std::filesystem::path target(path);
  const std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".tmp")).string();
  {
    const FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd.valid() || !write_all(fd.get(), content)) {
      ::unlink(tmp.c_str());
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// kill(pid, 0) succeeds, or fails only for want of permission: it runs.
bool running(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// An exclusive flock on <dir>/.lock for as long as it lives: folding a dead
// process's file into the retired totals must happen exactly once.
class DirLock {
 public:
  explicit DirLock(const std::string& dir)
      : fd_(::open((dir + "/" + std::string(kLockFile)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640)) {
    if (!fd_.valid()) return;
    while (::flock(fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return;
    }
    locked_ = true;
  }
  [[nodiscard]] bool locked() const { return locked_; }  // the fd closes, and unlocks, with this object

 private:
  FileDescriptor fd_;
  bool locked_ = false;
};

// Folds the files of processes that have exited into retired.prom, then
// removes them; false when retired.prom could not be written (nothing is
// removed then). In this order, a crash in between counts one process twice
// (a jump) rather than not at all (a decrease, which reads as a reset).
bool retire(const std::string& dir, const std::vector<std::string>& paths) {
  const std::string retired_path = dir + "/" + std::string(kRetiredFile);
  Exposition retired;
  retired.add(read_file(retired_path));
  for (const std::string& path : paths) retired.add(read_file(path), /*cumulative_only=*/true);
  if (!replace_file(retired_path, retired.render())) {
    log::warning("metrics_retire_failed").kv("dir", dir).kv("error", std::strerror(errno));
    return false;
  }
  for (const std::string& path : paths) ::unlink(path.c_str());
  return true;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

// ---- Histogram ----

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(bounds.size() + 1) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) throw std::logic_error("histogram bounds must ascend");
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

// ---- Family ----

template <class Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> values) {
  std::string key;
  for (const std::string_view value : values) {
    key += value;
    key += '\x1f';
  }
  const std::lock_guard lock(mutex_);
  if (const auto found = series_.find(key); found != series_.end()) return *found->second.metric;
  std::vector<std::string> stored(values.begin(), values.end());
  if (series_.size() >= kMaxSeries) {
    key.clear();
    for (std::string& value : stored) {
      value = "other";
      key += value + '\x1f';
    }
    if (const auto found = series_.find(key); found != series_.end()) return *found->second.metric;
    log::warning("metrics_series_limit").kv("metric", name_).kv("limit", static_cast<long long>(kMaxSeries));
  }
  std::unique_ptr<Metric> metric;
  if constexpr (std::is_same_v<Metric, Histogram>) {
    metric = std::make_unique<Histogram>(bounds_);
  } else {
    metric = std::make_unique<Metric>();
  }
  Metric& result = *metric;
  series_.emplace(std::move(key), Series{std::move(stored), std::move(metric)});
  return result;
}

template <class Metric>
void Family<Metric>::render(std::string& out, std::string_view process) const {
  const std::lock_guard lock(mutex_);
  if (series_.empty()) return;
  out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
  out += "# TYPE " + name_ + " " + type_name(type_) + "\n";
  for (const auto& [key, series] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      const Histogram::Snapshot snapshot = series.metric->snapshot();
      const std::span<const double> bounds = series.metric->bounds();
      for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
        out += name_ + "_bucket" + label_block(process, label_names_, series.values, "le", le) + " " +
               std::to_string(snapshot.cumulative[i]) + "\n";
      }
      const std::string labels = label_block(process, label_names_, series.values);
      out += name_ + "_sum" + labels + " " + format_value(snapshot.sum) + "\n";
      out += name_ + "_count" + labels + " " + std::to_string(snapshot.cumulative.back()) + "\n";
    } else if constexpr (std::is_same_v<Metric, Counter>) {
      out += name_ + label_block(process, label_names_, series.values) + " " +
             std::to_string(series.metric->value()) + "\n";
    } else {
      out += name_ + label_block(process, label_names_, series.values) + " " +
             format_value(series.metric->value()) + "\n";
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry ----

FamilyBase* Registry::find(const std::string& name, Type type) const {
  for (const auto& family : families_) {
    if (family->name() != name) continue;
    if (family->type() != type) throw std::logic_error("metric " + name + " registered with another type");
    return family.get();
  }
  return nullptr;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  const std::lock_guard lock(mutex_);
  if (FamilyBase* found = find(name, Type::Counter)) return static_cast<Family<Counter>&>(*found);
  auto family = std::make_unique<Family<Counter>>(std::move(name), std::move(help), Type::Counter,
                                                  std::move(label_names));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  const std::lock_guard lock(mutex_);
  if (FamilyBase* found = find(name, Type::Gauge)) return static_cast<Family<Gauge>&>(*found);
  auto family =
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), Type::Gauge, std::move(label_names));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  const std::lock_guard lock(mutex_);
  if (FamilyBase* found = find(name, Type::Histogram)) return static_cast<Family<Histogram>&>(*found);
  auto family = std::make_unique<Family<Histogram>>(std::move(name), std::move(help), Type::Histogram,
                                                    std::move(label_names), std::move(bounds));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

std::string Registry::render(std::string_view process) const {
  std::string out;
  const std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out, process);
  return out;
}

Registry& global() {
  static Registry registry;
  return registry;
}

// ---- the metrics every process records ----

namespace {

Family<Counter>& http_requests() {
  static auto& family = global().counter("wagate_http_requests_total",
                                         "Requests answered by a FastCGI handler, by route pattern and status code.",
                                         {"route", "status"});
  return family;
}

Family<Histogram>& http_duration() {
  static auto& family = global().histogram(
      "wagate_http_request_duration_seconds",
      "Time a FastCGI handler took from a parsed request to its response, by route pattern.", {"route"},
      {std::begin(kHttpBounds), std::end(kHttpBounds)});
  return family;
}

// The statuses wagate knows; anything else is "other", so that a caller
// cannot grow the label set.
std::string_view known_status(std::string_view status) {
  const message_status::Status* known = message_status::find(status);
  return known != nullptr ? known->name : std::string_view("other");
}

}  // namespace

void count_http_request(std::string_view route, int status, double seconds) {
  const std::string_view label = route.empty() ? std::string_view("unmatched") : route;
  http_requests().with({label, std::to_string(status)}).inc();
  http_duration().with({label}).observe(seconds);
}

void count_signature_failure(std::string_view reason) {
  static auto& family = global().counter(
      "wagate_signature_failures_total",
      "Twilio webhooks refused before being stored, by the error code they were answered with.", {"reason"});
  family.with({reason}).inc();
}

void count_status_callback(std::string_view record, std::string_view outcome) {
  static auto& family = global().counter(
      "wagate_callbacks_total",
      "Status callbacks handled, by MessageStatus and outcome (stored, duplicate, spooled, lost).",
      {"status", "outcome"});
  constexpr std::string_view kMember = "\"status\":\"";
  std::string_view status;
  if (const size_t at = record.find(kMember); at != std::string_view::npos) {
    const std::string_view rest = record.substr(at + kMember.size());
    status = rest.substr(0, rest.find('"'));
  }
  family.with({known_status(status), outcome}).inc();
}

void count_spool_append(std::string_view kind, std::size_t records) {
  static auto& family = global().counter(
      "wagate_spool_appends_total", "Webhook records appended to the local spool while Postgres was unreachable.",
      {"kind"});
  family.with({kind}).inc(records);
}

void count_spool_quarantine(std::string_view reason, std::size_t records) {
  static auto& family = global().counter(
      "wagate_spool_quarantined_total",
      "Spool records (or damaged byte ranges) moved to a quarantine file on replay instead of Postgres.", {"reason"});
  family.with({reason}).inc(records);
}

void count_send(std::string_view outcome) {
  static auto& family = global().counter(
      "wagate_sends_total",
      "Send attempts by recorded outcome (created, failed, retrying, unknown; canceled_opted_out: canceled at "
      "the claim, the recipient opted out after acceptance).",
      {"outcome"});
  family.with({outcome}).inc();
}

void observe_twilio_request(std::chrono::milliseconds duration) {
  static auto& histogram =
      global()
          .histogram("wagate_twilio_request_duration_seconds",
                     "Time from sending a request to Twilio's REST API to its answer (or the transfer's end).", {},
                     {std::begin(kTwilioBounds), std::end(kTwilioBounds)})
          .with();
  histogram.observe(std::chrono::duration<double>(duration).count());
}

// ---- the metrics directory ----

std::optional<long> pid_of_file(std::string_view file_name) {
  constexpr std::string_view kSuffix = ".prom";
  if (!file_name.ends_with(kSuffix)) return std::nullopt;
  file_name.remove_suffix(kSuffix.size());
  const size_t dash = file_name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == file_name.size()) return std::nullopt;
  long pid = 0;
  for (const char c : file_name.substr(dash + 1)) {
    if (c < '0' || c > '9' || pid > 100000000) return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

Publisher::Publisher(std::string process, std::string dir, std::chrono::milliseconds every)
    : process_(std::move(process)),
      dir_(std::move(dir)),
      path_(dir_ + "/" + process_ + "-" + std::to_string(::getpid()) + ".prom"),
      every_(every) {
  global()
      .gauge("wagate_process_start_time_seconds", "When the process started, in seconds since the Unix epoch.",
             {"pid"})
      .with({std::to_string(::getpid())})
      .set(unix_now());
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (::access(path_.c_str(), F_OK) == 0) {
    // Left by an earlier process that had our pid: its counts are retired,
    // not overwritten by ours (unless the directory will not take them).
    const DirLock lock(dir_);
    if (lock.locked()) retire(dir_, {path_});
  }
  publish();
  thread_ = std::thread([this] { run(); });
}

Publisher::~Publisher() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  publish();  // the last counts, for the retired totals
}

bool Publisher::publish() {
  if (replace_file(path_, global().render(process_))) {
    warned_ = false;
    return true;
  }
  if (!warned_) {
    // Once per failure streak: a missing directory must not flood the log.
    log::warning("metrics_publish_failed").kv("process", process_).kv("path", path_).kv("error", std::strerror(errno));
    warned_ = true;
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
  }
  return false;
}

void Publisher::run() {
  // Signals are for the threads that act on them (a sigwait loop, a flag
  // the main loop checks), never for this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, every_, [&] { return stopping_; })) {
    lock.unlock();
    publish();
    lock.lock();
  }
}

Exposition collect(const std::string& dir) {
  Exposition merged;
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return merged;
  const DirLock lock(dir);
  std::vector<std::string> live;
  std::vector<std::string> dead;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const auto pid = pid_of_file(name);
    if (!pid) continue;
    (running(*pid) ? live : dead).push_back(entry.path().string());
  }
  std::sort(live.begin(), live.end());  // a stable order of series across scrapes
  const bool folded = !dead.empty() && lock.locked() && retire(dir, dead);
  for (const std::string& path : live) merged.add(read_file(path));
  if (!dead.empty() && !folded) {
    // They cannot be folded now (the directory is not writable to us):
    // counted as they are, the totals at least do not drop.
    log::warning("metrics_fold_failed").kv("dir", dir).kv("dead_files", static_cast<long long>(dead.size()));
    for (const std::string& path : dead) merged.add(read_file(path), /*cumulative_only=*/true);
  }
  merged.add(read_file(dir + "/" + std::string(kRetiredFile)));
  return merged;
}

}  // namespace wagate::metrics
