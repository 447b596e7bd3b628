// process.hpp — what the main() of every wagate program shares: no core dumps, signals blocked, the config; a worker's start.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>

#include "wagate/config.hpp"

namespace wagate::process {

// The first call of every wagate program's main(), daemon or wagate-admin:
// they hold the master key and decrypted tenant tokens, so none may leave a
// core file (RLIMIT_CORE 0) or be read by ptrace or /proc/<pid>/mem from
// another process of the same user (PR_SET_DUMPABLE 0).
void protect_memory();

// The signals every daemon waits for: TERM and INT (stop), HUP (reload).
sigset_t daemon_signals();

// A daemon's start, before its first thread: protect_memory(), then
// daemon_signals() blocked in the calling thread (which every thread started
// later inherits, so none of them can meet a signal with its default action:
// the daemon takes them in one place, with sigwait) and SIGPIPE ignored.
// Returns the blocked set, for sigwait.
sigset_t start_daemon();

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
// start_daemon, load_config, libcurl initialised, a signal thread (the one
// place TERM/INT are counted and HUP requests a reload), metrics published
// under metrics_dir, then the worker. An exception out of any of it is
// logged as fatal and exits 1.
int run_worker(std::string_view name, int argc, char** argv, const Worker& worker);

}  // namespace wagate::process
