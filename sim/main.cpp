// main.cpp — wagate-twilio-sim: a Twilio stand-in (Messages API, status callbacks, inbound webhooks) for tests and the demo.
#include <curl/curl.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "accounts.hpp"
#include "callbacks.hpp"
#include "control_api.hpp"
#include "http_server.hpp"
#include "ledger.hpp"
#include "messages_api.hpp"
#include "scenarios.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/process.hpp"

namespace {

using namespace wagate;
using std::chrono::milliseconds;

constexpr std::string_view kUsage =
    "usage: wagate-twilio-sim --listen HOST:PORT --accounts FILE [--ca-file PEM] [--latency-ms N]\n"
    "                         [--callback-delay-ms N] [--default-scenario NAME] [--webhook-url URL]\n"
    "                         [--price-delay-ms N] [--log-level error|warning|info|debug]\n"
    "  FILE holds lines 'ACxxxxxxxx... auth_token'; it is re-read when it changes.\n"
    "  Scenarios, recording endpoints and the number table: docs/simulator.md.\n";

// How long a stop waits for requests and callbacks already in progress.
constexpr milliseconds kStopGrace{5'000};
constexpr long long kMaxMilliseconds = 3'600'000;

struct Options {
  std::string listen;
  std::string accounts;
  std::string ca_file;
  std::string webhook_url;
  milliseconds latency{0};
  milliseconds callback_delay{20};
  milliseconds price_delay = sim::kDefaultPriceDelay;
  const sim::Scenario* default_scenario = &sim::default_scenario();
  log::Level log_level = log::Level::Info;
};

milliseconds parse_ms(std::string_view flag, std::string_view text) {
  long long value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > kMaxMilliseconds) {
    throw ConfigError(std::string(flag) + ": expected milliseconds from 0 to " + std::to_string(kMaxMilliseconds) +
                      ", got '" + std::string(text) + "'");
  }
  return milliseconds(value);
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return std::nullopt;
    if (i + 1 >= argc) throw ConfigError(std::string(flag) + ": missing value (see --help)");
    const std::string_view value = argv[++i];
    if (flag == "--listen") {
      options.listen = value;
    } else if (flag == "--accounts") {
      options.accounts = value;
    } else if (flag == "--ca-file") {
      options.ca_file = value;
    } else if (flag == "--webhook-url") {
      if (!sim::valid_callback_url(value)) throw ConfigError("--webhook-url: expected an absolute http(s) URL");
      options.webhook_url = value;
    } else if (flag == "--latency-ms") {
      options.latency = parse_ms(flag, value);
    } else if (flag == "--callback-delay-ms") {
      options.callback_delay = parse_ms(flag, value);
    } else if (flag == "--price-delay-ms") {
      options.price_delay = parse_ms(flag, value);
    } else if (flag == "--default-scenario") {
      options.default_scenario = sim::find_scenario(value);
      if (options.default_scenario == nullptr) {
        throw ConfigError("--default-scenario: unknown scenario '" + std::string(value) + "'");
      }
    } else if (flag == "--log-level") {
      options.log_level = log::parse_level(value);
    } else {
      throw ConfigError("unknown option '" + std::string(flag) + "' (see --help)");
    }
  }
  // libcurl ignores OpenSSL's SSL_CERT_FILE (it has its own bundle path);
  // honour it so that an environment which trusts a certificate that way
  // trusts it for callbacks too.
  if (const char* cert_file = std::getenv("SSL_CERT_FILE"); options.ca_file.empty() && cert_file != nullptr) {
    options.ca_file = cert_file;
  }
  if (options.listen.empty()) throw ConfigError("--listen HOST:PORT is required");
  if (options.accounts.empty()) throw ConfigError("--accounts FILE is required");
  return options;
}

int run(const Options& options, const sigset_t& signals) {
  sim::Accounts accounts(options.accounts);
  sim::Ledger ledger;
  sim::PostOptions post;
  post.ca_file = options.ca_file;
  sim::Dispatcher dispatcher(ledger, sim::Dispatcher::Options{post, options.callback_delay, 256});
  sim::MessagesApi messages(accounts, ledger, dispatcher,
                            sim::MessagesApi::Options{options.latency, milliseconds(30'000), options.default_scenario,
                                                                     options.price_delay});
  sim::ControlApi control(accounts, ledger, dispatcher, sim::ControlApi::Options{options.webhook_url, post});

  sim::HttpServer server(options.listen, [&](const http::Request& request) -> sim::Reply {
    const std::string_view path = request.path;
    if (path.substr(0, 12) == "/2010-04-01/") return messages.handle(request);
    if (path.substr(0, 5) == "/sim/") return sim::Reply{control.handle(request), {}, {}};
    return sim::Reply{sim::twilio_error(sim::TwilioError{404, 20404, "The requested resource " +
                                                                          std::string(path) + " was not found"}),
                      {}, {}};
  });

  dispatcher.start();
  server.start();
  log::info("sim_listening")
      .kv("listen", options.listen)
      .kv("port", static_cast<long long>(server.port()))
      .kv("default_scenario", options.default_scenario->name)
      .kv("latency_ms", static_cast<long long>(options.latency.count()))
      .kv("callback_delay_ms", static_cast<long long>(options.callback_delay.count()))
      .kv("price_delay_ms", static_cast<long long>(options.price_delay.count()));

  // HUP, which every wagate daemon takes as "reload", has nothing to reload
  // here (the accounts file is re-read when it changes): it is logged and
  // otherwise ignored, never fatal.
  int signal_number = 0;
  while (true) {
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number != SIGHUP) break;
    log::debug("sim_hup_ignored");
  }
  log::info("sim_stopping").kv("signal", signal_number == SIGINT ? "INT" : "TERM");
  server.stop(kStopGrace);
  dispatcher.stop(kStopGrace);
  const sim::LedgerStats stats = ledger.stats();
  log::info("sim_stopped")
      .kv("creates", stats.creates)
      .kv("messages", stats.messages)
      .kv("callbacks_sent", stats.callbacks_sent)
      .kv("callbacks_failed", stats.callbacks_failed);
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> options;
  try {
    options = parse_options(argc, argv);
  } catch (const Error& error) {
    log::error("bad_command_line").kv("error", error.what());
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  if (!options) {
    std::fputs(kUsage.data(), stdout);
    return EXIT_SUCCESS;
  }
  log::set_level(options->log_level);

  // Before any thread: every thread inherits the mask, so TERM, INT and HUP
  // reach only sigwait() in run(); SIGPIPE from a client that went away is
  // ignored.
  const sigset_t signals = process::start_daemon();

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    log::error("curl_init_failed");
    return EXIT_FAILURE;
  }
  int status = EXIT_FAILURE;
  try {
    status = run(*options, signals);
  } catch (const std::exception& error) {
    log::error("sim_failed").kv("error", error.what());
  }
  curl_global_cleanup();
  return status;
}
