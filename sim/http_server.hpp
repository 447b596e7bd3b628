// http_server.hpp — the simulator's own small HTTP/1.1 server: keep-alive, Content-Length bodies, a thread per connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "wagate/file_descriptor.hpp"
#include "wagate/http.hpp"

namespace wagate::sim {

// What a handler answers, and when.
struct Reply {
  http::Response response;
  std::chrono::milliseconds delay{0};  // the answer is held back this long (cut short when the server stops)
  std::function<void()> after_write;   // runs once the answer has been written (or the client went away)
};

using Handler = std::function<Reply(const http::Request&)>;

struct ServerLimits {
  size_t max_head_bytes = 16 * 1024;     // request line + headers; more: 431
  size_t max_body_bytes = 1024 * 1024;   // more: 413
  std::chrono::milliseconds idle_timeout{60'000};     // a kept-alive connection with no request
  std::chrono::milliseconds request_timeout{10'000};  // first byte to last byte of one request; then 408
  std::chrono::milliseconds send_timeout{10'000};     // a client that does not read its answer
  size_t max_connections = 4096;
};

// A parsed request line and header block (everything before the blank line).
struct RequestHead {
  http::Request request;  // method, path, query, request_uri, host, content_type, headers
  size_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  int error_status = 0;  // 0 when acceptable, else the status to answer before closing
  std::string error;     // why, for the answer and the log
  [[nodiscard]] bool ok() const { return error_status == 0; }
};

// Strict enough that garbage gets a 400 and never reaches a handler:
// origin-form targets only, HTTP/1.0 or 1.1, token header names, no folded
// lines, one Host, one Content-Length, no Transfer-Encoding (501).
[[nodiscard]] RequestHead parse_request_head(std::string_view head, const ServerLimits& limits);

// Status line, Content-Type, Content-Length, Connection, extra headers, body.
[[nodiscard]] std::string serialize_response(const http::Response& response, bool keep_alive);

// The simulator's answers about the HTTP exchange itself: {"message": ..., "status": N}.
[[nodiscard]] http::Response protocol_error(int status, std::string_view message);

class HttpServer {
 public:
  // Binds and listens on "host:port" (port 0: any free port). Throws Error.
  HttpServer(std::string_view listen, Handler handler, ServerLimits limits = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  [[nodiscard]] uint16_t port() const { return port_; }

  // Starts the accepting thread.
  void start();
  // Stops accepting; idle connections close, requests being handled finish
  // (held answers are released at once) and are answered with
  // Connection: close. After grace, the remaining connections are shut down.
  void stop(std::chrono::milliseconds grace);

  // Sleeps for delay, or less when the server begins to stop. False when stopping.
  bool sleep_unless_stopping(std::chrono::milliseconds delay);

 private:
  void accept_loop();
  void serve(int fd, std::string remote_addr);
  void write_all(int fd, std::string_view data);

  Handler handler_;
  ServerLimits limits_;
  FileDescriptor listen_fd_;
  // Written once at stop: wakes every poll() at the same time.
  FileDescriptor stop_read_;
  FileDescriptor stop_write_;
  uint16_t port_ = 0;
  std::thread accept_thread_;

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;  // connection closed, or stopping
  std::set<int> connections_;        // open client sockets
};

}  // namespace wagate::sim
