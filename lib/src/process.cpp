// process.cpp — what every daemon starts with (no core dumps, signals blocked, config); a worker's signal thread, libcurl, metrics.
#include "wagate/process.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <exception>
#include <string>
#include <thread>

#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"

namespace wagate::process {

namespace {

std::atomic<int> g_stop_requests{0};

// The one place a worker takes its signals (all threads block them): TERM
// and INT are counted for the worker to read (it decides what a second one
// means), HUP asks for a reload. Stopped by stop(), which sends this thread
// a signal of the set after setting done_.
class SignalThread {
 public:
  explicit SignalThread(const sigset_t& signals)
      : signals_(signals), thread_([this] { run(); }) {}
  ~SignalThread() {
    done_.store(true);
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  void run() {
    while (true) {
      int signal_number = 0;
      if (sigwait(&signals_, &signal_number) != 0) continue;
      if (done_.load()) return;
      if (signal_number == SIGHUP) {
        config::Holder::request_reload();
      } else {
        g_stop_requests.fetch_add(1);
      }
    }
  }

  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// curl_global_init once, before any thread or handle; cleanup at exit.
struct CurlGlobal {
  CurlGlobal() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw HttpError("libcurl: global init failed");
  }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace

void protect_memory() {
  // Both are best effort by design: neither can fail for an unprivileged
  // process lowering its own limits, and a failure must not stop a daemon.
  const struct rlimit no_core {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

sigset_t daemon_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

sigset_t start_daemon() {
  protect_memory();
  const sigset_t signals = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer that closed a connection must not kill the process
  return signals;
}

std::unique_ptr<config::Holder> load_config(std::string_view name, int argc, char** argv) {
  try {
    auto holder = std::make_unique<config::Holder>(config::path_from(argc, argv));
    log::set_level(log::parse_level(holder->current()->str("log_level")));
    return holder;
  } catch (const Error& e) {
    log::error("config_invalid").kv("process", name).kv("error", e.what());
    return nullptr;
  }
}

int run_worker(std::string_view name, int argc, char** argv, const Worker& worker) {
  const sigset_t signals = start_daemon();
  const std::unique_ptr<config::Holder> holder = load_config(name, argc, argv);
  if (!holder) return 1;
  try {
    // curl_global_init before any thread, as libcurl asks.
    const CurlGlobal curl;
    const SignalThread signal_thread(signals);
    const metrics::Publisher publisher(std::string(name), holder->current()->str("metrics_dir"));
    return worker(*holder, g_stop_requests);
  } catch (const std::exception& e) {
    log::error("fatal").kv("process", name).kv("error", e.what());
    return 1;
  }
}

}  // namespace wagate::process
