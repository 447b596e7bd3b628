// fcgi_server.cpp — the FastCGI request loop: accepting threads, parsing, error mapping, signals.
#include "wagate/fcgi_server.hpp"

#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"
#include "wagate/process.hpp"
#include "wagate/text.hpp"

namespace wagate::fcgi {
namespace {

std::atomic<bool> g_stopping{false};

std::string header_name_from_param(std::string_view param) {
  // HTTP_X_TWILIO_SIGNATURE -> x-twilio-signature
  std::string name(param.substr(5));
  for (char& c : name) c = c == '_' ? '-' : text::lower(c);
  return name;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Reads at most limit + 1 bytes so an oversize body is detected without
// buffering all of it.
bool read_body(FCGX_Stream* in, size_t limit, std::string& body) {
  char buffer[16384];
  while (true) {
    const int got = FCGX_GetStr(buffer, sizeof buffer, in);
    if (got <= 0) return true;
    body.append(buffer, static_cast<size_t>(got));
    if (body.size() > limit) return false;
  }
}

void write_response(FCGX_Request& raw, std::string_view bytes) {
  FCGX_PutStr(bytes.data(), static_cast<int>(bytes.size()), raw.out);
}

http::Response too_large(const http::Request& request, size_t limit, std::string_view key) {
  log::info("request_rejected").kv("req_id", request.request_id).kv("path", request.path).kv("status", 413);
  return http::Response::error(413, "body_too_large",
                               "request body exceeds " + std::to_string(limit) + " bytes (" + std::string(key) + ")");
}

// The body of a streaming route, read as the handler asks for it; past the
// limit the handler's work is abandoned by an ApiError, so its transaction
// rolls back and nothing of a too-large upload stays.
std::function<size_t(char*, size_t)> body_reader(FCGX_Stream* in, size_t limit) {
  return [in, limit, read = size_t{0}](char* buffer, size_t size) mutable -> size_t {
    const int got = FCGX_GetStr(buffer, static_cast<int>(std::min<size_t>(size, 1 << 20)), in);
    if (got <= 0) return 0;
    read += static_cast<size_t>(got);
    if (read > limit) {
      throw ApiError(413, "body_too_large",
                     "request body exceeds " + std::to_string(limit) + " bytes (max_upload_bytes)");
    }
    return static_cast<size_t>(got);
  };
}

// A streamed body, after the headers are out: a failure can only end it.
void write_stream(FCGX_Request& raw, const http::Response& response, const http::Request& request,
                  Context& context) {
  try {
    response.stream([&raw](std::string_view piece) { write_response(raw, piece); });
  } catch (const DbError& e) {
    context.drop_db();
    log::error("stream_failed").kv("req_id", request.request_id).kv("path", request.path).kv("error", e.what());
  } catch (const std::exception& e) {
    log::error("stream_failed").kv("req_id", request.request_id).kv("path", request.path).kv("error", e.what());
  }
}

void accept_loop(const ServerOptions& options, const config::Holder& holder, const http::Router& router,
                 int listen_fd) {
  Context context(holder);
  if (options.on_thread_start) {
    try {
      options.on_thread_start(context);
    } catch (const std::exception& e) {
      // A dependency that is down at start must not stop the handler: the
      // webhooks still have the spool, and the next request retries.
      log::warning("thread_start_failed").kv("process", options.name).kv("error", e.what());
    }
  }
  sigset_t wake_signal;
  sigemptyset(&wake_signal);
  sigaddset(&wake_signal, SIGUSR1);
  FCGX_Request raw;
  // FCGI_FAIL_ACCEPT_ON_INTR: a signal sent to this thread at shutdown makes
  // a blocked accept return, so the thread can exit between requests.
  FCGX_InitRequest(&raw, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
  while (!g_stopping.load()) {
    if (FCGX_Accept_r(&raw) < 0) {
      if (g_stopping.load()) break;
      continue;  // interrupted or a client that went away before being accepted
    }
    // The request is served with the wake-up signal blocked: arriving in the
    // middle, it would interrupt the read of the body (libfcgi takes EINTR
    // for its end, and the handler would see half a body) or the write of
    // the answer. One sent meanwhile waits, and is taken once the request is
    // finished, harmlessly, before the next accept().
    pthread_sigmask(SIG_BLOCK, &wake_signal, nullptr);
    context.refresh();
    http::Request request = request_from_params(raw.envp);
    http::Response response;
    const char* length = FCGX_GetParam("CONTENT_LENGTH", raw.envp);
    const long long declared = length != nullptr ? std::atoll(length) : 0;
    if (router.streams_body(request.method, request.path)) {
      const auto max_upload = static_cast<size_t>(context.config().integer("max_upload_bytes"));
      if (declared > static_cast<long long>(max_upload)) {
        response = too_large(request, max_upload, "max_upload_bytes");
      } else {
        request.read_body = body_reader(raw.in, max_upload);
        response = handle(router, request, context);
      }
    } else {
      const auto max_body = static_cast<size_t>(context.config().integer("max_body_bytes"));
      if (declared > static_cast<long long>(max_body) || !read_body(raw.in, max_body, request.body)) {
        response = too_large(request, max_body, "max_body_bytes");
      } else {
        response = handle(router, request, context);
      }
    }
    write_response(raw, serialize(response, request.request_id));
    if (response.stream) write_stream(raw, response, request, context);
    FCGX_Finish_r(&raw);
    pthread_sigmask(SIG_UNBLOCK, &wake_signal, nullptr);
  }
  FCGX_Free(&raw, 1);
}

}  // namespace

http::Request request_from_params(char** envp) {
  http::Request request;
  for (char** p = envp; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = entry.substr(0, eq);
    const std::string_view value = entry.substr(eq + 1);
    if (name.starts_with("HTTP_")) {
      request.headers[header_name_from_param(name)] = std::string(value);
    } else if (name == "REQUEST_METHOD") {
      request.method = value;
    } else if (name == "REQUEST_URI") {
      request.request_uri = value;
    } else if (name == "QUERY_STRING") {
      request.query = value;
    } else if (name == "CONTENT_TYPE") {
      request.content_type = value;
    } else if (name == "REQUEST_SCHEME") {
      request.scheme = value;
    } else if (name == "REQUEST_ID") {
      request.request_id = value;
    } else if (name == "REMOTE_ADDR") {
      request.remote_addr = value;
    }
  }
  // The path for routing comes from the raw request target, not from
  // DOCUMENT_URI, so a route sees exactly what the client asked for.
  const std::string_view target = request.request_uri;
  request.path = target.substr(0, target.find('?'));
  if (const auto host = request.header("host")) request.host = *host;
  if (request.scheme.empty()) request.scheme = "http";
  return request;
}

http::Response handle(const http::Router& router, http::Request& request, Context& context) {
  const auto start = std::chrono::steady_clock::now();
  http::Response response;
  std::string failure;
  try {
    response = router.dispatch(request, context);
  } catch (const ApiError& e) {
    response = http::Response::error(e.status(), e.code(), e.what(), e.field());
  } catch (const pg::QueryError& e) {
    failure = e.what();
    if (e.sqlstate() == pg::kQueryCanceled) {
      // statement_timeout: the session is fine, the query was too slow.
      response = http::Response::error(503, "query_timeout",
                                       "the query took longer than the database allows; narrow it or retry later");
    } else {
      context.drop_db();
      response = http::Response::error(503, "database_unavailable", "the database is unavailable; retry later");
    }
  } catch (const DbError& e) {
    context.drop_db();
    failure = e.what();
    response = http::Response::error(503, "database_unavailable", "the database is unavailable; retry later");
  } catch (const RedisError& e) {
    failure = e.what();
    response = http::Response::error(503, "queue_unavailable", "the queue is unavailable; retry later");
  } catch (const std::exception& e) {
    failure = e.what();
    response = http::Response::error(500, "internal_error", "internal error; the request id identifies it in the logs");
  }
  const double dur_ms = ms_since(start);
  metrics::count_http_request(request.route, response.status, dur_ms / 1000);
  if (response.status >= 500) {
    log::error("request").kv("req_id", request.request_id).kv("method", request.method).kv("path", request.path)
        .kv("status", response.status).kv("dur_ms", dur_ms).kv("error", failure);
  } else if (response.status >= 400) {
    log::info("request").kv("req_id", request.request_id).kv("method", request.method).kv("path", request.path)
        .kv("status", response.status).kv("dur_ms", dur_ms);
  } else {
    log::debug("request").kv("req_id", request.request_id).kv("method", request.method).kv("path", request.path)
        .kv("status", response.status).kv("dur_ms", dur_ms);
  }
  return response;
}

std::string serialize(const http::Response& response, std::string_view request_id) {
  std::string out;
  out.reserve(response.body.size() + 160);
  out += "Status: ";
  out += std::to_string(response.status);
  out += ' ';
  out += http::reason_phrase(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  if (response.content_type.starts_with("application/json") || response.content_type.starts_with("text/")) {
    out += "; charset=utf-8";
  }
  if (!response.stream) {
    out += "\r\nContent-Length: ";
    out += std::to_string(response.body.size());
  }
  out += "\r\nCache-Control: no-store";
  if (!request_id.empty()) {
    out += "\r\nX-Request-Id: ";
    out += request_id;
  }
  for (const auto& [name, value] : response.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += "\r\n\r\n";
  out += response.body;
  return out;
}

int serve(const ServerOptions& options, config::Holder& holder, const http::Router& router) {
  // run_process blocked these before any thread started (this repeats it for
  // a caller that did not); every thread inherits the mask, and only the
  // sigwait below takes them.
  const sigset_t signals = process::start_daemon();

  if (FCGX_Init() != 0) {
    log::error("fcgi_init_failed").kv("process", options.name);
    return 1;
  }
  int listen_fd = 0;
  if (!options.listen.empty()) {
    listen_fd = FCGX_OpenSocket(options.listen.c_str(), 1024);
    if (listen_fd < 0) {
      log::error("listen_failed").kv("process", options.name).kv("listen", options.listen);
      return 1;
    }
  }
  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(holder.current()->integer("request_threads"));
  const metrics::Publisher publisher(options.name, holder.current()->str("metrics_dir"));
  log::info("started").kv("process", options.name).kv("threads", threads);

  // SIGUSR1 only interrupts a blocked accept(): no SA_RESTART, no action.
  struct sigaction wake{};
  wake.sa_handler = [](int) {};
  sigemptyset(&wake.sa_mask);
  sigaction(SIGUSR1, &wake, nullptr);

  std::vector<std::thread> workers;
  std::vector<std::unique_ptr<std::atomic<bool>>> finished;
  workers.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    finished.push_back(std::make_unique<std::atomic<bool>>(false));
    std::atomic<bool>* done = finished.back().get();
    workers.emplace_back([&options, &holder, &router, listen_fd, done] {
      accept_loop(options, holder, router, listen_fd);
      done->store(true);
    });
  }

  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      if (holder.reload()) {
        log::set_level(log::parse_level(holder.current()->str("log_level")));
        log::info("config_reloaded").kv("process", options.name);
      }
      continue;
    }
    log::info("stopping").kv("process", options.name).kv("signal", signal_number);
    break;
  }
  g_stopping.store(true);
  FCGX_ShutdownPending();
  // The listening socket is shared with sibling processes (multiwatch,
  // systemd socket activation): shutting it down would refuse their
  // connections too. Instead each idle thread is woken out of accept() by a
  // signal, repeated until it has left (one sent just before it entered
  // accept() wakes nothing); a thread in the middle of a request has it
  // blocked, finishes the request first, then leaves.
  if (!options.listen.empty()) shutdown(listen_fd, SHUT_RDWR);
  for (size_t i = 0; i < workers.size(); ++i) {
    while (!finished[i]->load()) {
      pthread_kill(workers[i].native_handle(), SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    workers[i].join();
  }
  log::info("stopped").kv("process", options.name);
  return 0;
}

}  // namespace wagate::fcgi
