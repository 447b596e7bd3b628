// fcgi_process.cpp — main() of a handler process: config, flags, then the request loop.
#include <cstring>
#include <exception>
#include <memory>

#include "wagate/fcgi_server.hpp"
#include "wagate/log.hpp"
#include "wagate/process.hpp"

namespace wagate::fcgi {

int run_process(int argc, char** argv, ServerOptions options, const http::Router& router) {
  // Before on_start's threads (committers, spool replay): they inherit the
  // blocked signals, so only serve()'s sigwait ever takes one.
  process::start_daemon();
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      options.listen = argv[++i];
    } else if (std::strncmp(argv[i], "--listen=", 9) == 0) {
      options.listen = argv[i] + 9;
    }
  }
  const std::unique_ptr<config::Holder> holder = process::load_config(options.name, argc, argv);
  if (!holder) return 1;
  try {
    if (options.on_start) options.on_start(*holder);
    const int code = serve(options, *holder, router);
    if (options.on_stop) options.on_stop();
    return code;
  } catch (const std::exception& e) {
    log::error("fatal").kv("process", options.name).kv("error", e.what());
    return 1;
  }
}

}  // namespace wagate::fcgi
