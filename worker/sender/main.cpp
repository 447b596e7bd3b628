// main.cpp — wagate-sender: sends queued messages through Twilio's REST API and records every outcome.
#include <curl/curl.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>

#include "sender.hpp"
#include "wagate/config.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"

namespace {

std::atomic<int> g_stop_requests{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handlers must be async-signal-safe");

// One meaning per signal: TERM/INT drain (a second one stops at once), HUP reloads.
extern "C" void on_stop_signal(int) { g_stop_requests.fetch_add(1, std::memory_order_relaxed); }
extern "C" void on_reload_signal(int) { wagate::config::Holder::request_reload(); }

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
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw wagate::HttpError("libcurl: global init failed");
  }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace wagate;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << "usage: wagate-sender [--config PATH]\n"
                   "Sends the messages of the Redis send queue through Twilio. SIGTERM drains, SIGHUP reloads.\n";
      return 0;
    }
  }
  std::unique_ptr<config::Holder> holder;
  try {
    holder = std::make_unique<config::Holder>(config::path_from(argc, argv));
    log::set_level(log::parse_level(holder->current()->str("log_level")));
  } catch (const Error& e) {
    log::error("config_invalid").kv("process", "wagate-sender").kv("error", e.what());
    return 1;
  }
  install_signal_handlers();
  try {
    const CurlGlobal curl;
    const metrics::Publisher publisher("wagate-sender", holder->current()->str("metrics_dir"));
    sender::Sender sender(*holder, g_stop_requests);
    return sender.run();
  } catch (const std::exception& e) {
    log::error("fatal").kv("process", "wagate-sender").kv("error", e.what());
    return 1;
  }
}
