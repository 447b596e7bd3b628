// process.hpp — what the main() of every wagate daemon shares: loading the config; the startup of a worker.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>

#include "wagate/config.hpp"

namespace wagate::process {

// Loads the config named by --config / $WAGATE_CONFIG and applies its
// log_level. On error logs config_invalid (the message names key and line)
// and returns null: the caller exits 1, since a daemon must not run on a
// config it cannot read.
std::unique_ptr<config::Holder> load_config(std::string_view name, int argc, char** argv);

// What a worker does once started, until stop_requests (the SIGTERM and
// SIGINT received so far) tells it to stop; returns the exit code. A SIGHUP
// is a request the worker applies with holder.reload_if_requested().
using Worker = std::function<int(config::Holder& holder, const std::atomic<int>& stop_requests)>;

// main() of a worker daemon (sender, maintenance) after its own arguments:
// load_config, signal handlers (TERM/INT counted, HUP reload, PIPE ignored),
// libcurl initialised, metrics published under metrics_dir, then the worker.
// An exception out of any of it is logged as fatal and exits 1.
int run_worker(std::string_view name, int argc, char** argv, const Worker& worker);

}  // namespace wagate::process
