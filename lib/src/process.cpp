// process.cpp — config loading for every daemon; signals, libcurl and metrics for the workers.
#include "wagate/process.hpp"

#include <curl/curl.h>
#include <signal.h>

#include <exception>
#include <string>

#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"

namespace wagate::process {

namespace {

std::atomic<int> g_stop_requests{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handlers must be async-signal-safe");

// One meaning per signal: TERM/INT ask the worker to stop (it decides what a
// second one means), HUP asks for a reload.
extern "C" void on_stop_signal(int) { g_stop_requests.fetch_add(1, std::memory_order_relaxed); }
extern "C" void on_reload_signal(int) { config::Holder::request_reload(); }

void install_signal_handlers() {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal must not turn a Redis or Postgres read into an error.
  action.sa_flags = SA_RESTART;
  action.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  action.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer that closed a connection must not kill the process
}

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
  const std::unique_ptr<config::Holder> holder = load_config(name, argc, argv);
  if (!holder) return 1;
  install_signal_handlers();
  try {
    const CurlGlobal curl;
    const metrics::Publisher publisher(std::string(name), holder->current()->str("metrics_dir"));
    return worker(*holder, g_stop_requests);
  } catch (const std::exception& e) {
    log::error("fatal").kv("process", name).kv("error", e.what());
    return 1;
  }
}

}  // namespace wagate::process
