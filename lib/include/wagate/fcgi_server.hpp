// fcgi_server.hpp — the FastCGI request loop: accepting threads, parsing, error mapping, signals.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "wagate/config.hpp"
#include "wagate/context.hpp"
#include "wagate/http.hpp"
#include "wagate/router.hpp"

namespace wagate::fcgi {

struct ServerOptions {
  std::string name;              // process name for logs ("wagate-api")
  int threads = 0;               // 0: config key request_threads
  std::string listen;            // empty: fd 0 as spawn-fcgi passes it; else a unix path or ":port"
  std::function<void(Context&)> on_thread_start;  // e.g. prepare statements
  // Called once the config is loaded, before any request is accepted, and
  // once after the last request: process-wide services live in between.
  std::function<void(const config::Holder&)> on_start;
  std::function<void()> on_stop;
};

// Runs until SIGTERM or SIGINT (finishing requests in progress); SIGHUP
// reloads the config. The signals are taken by sigwait on the calling
// thread only: run_process blocks them (process::start_daemon) before
// on_start can start a thread, and serve() blocks them again for a caller
// that did not. Returns the process exit code.
int serve(const ServerOptions& options, config::Holder& holder, const http::Router& router);

// The one place that turns a handler's outcome into a response: ApiError to
// its status and JSON, DbError/RedisError to 503, anything else to 500, each
// with one log line that carries the request id. The body limit is not
// checked here but by serve()'s request loop, before this is called: a
// CONTENT_LENGTH over max_body_bytes, or a body that grows past it while
// being read (at most max_body_bytes + 1 bytes are read), is answered 413.
// A streaming route (Router::add_streaming) is not read first: it gets
// Request::read_body, bounded by max_upload_bytes, which throws ApiError 413
// past it. A response with a stream is written after its headers.
http::Response handle(const http::Router& router, http::Request& request, Context& context);

// Builds a Request from FastCGI parameters (name=value strings, as envp).
http::Request request_from_params(char** envp);

// "Status: 200 OK\r\nContent-Type: ...\r\n\r\nbody" as the FastCGI responder writes it
// (for a streamed response, the headers only, without Content-Length).
std::string serialize(const http::Response& response, std::string_view request_id);

}  // namespace wagate::fcgi

namespace wagate::fcgi {

// main() of a handler process: loads the config named by --config /
// $WAGATE_CONFIG (fatal on error, with the message naming key and line),
// takes --listen PATH|:PORT for running without spawn-fcgi, then serve().
int run_process(int argc, char** argv, ServerOptions options, const http::Router& router);

}  // namespace wagate::fcgi
