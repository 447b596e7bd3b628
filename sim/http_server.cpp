// http_server.cpp — the simulator's own small HTTP/1.1 server: keep-alive, Content-Length bodies, a thread per connection.
#include "http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/text.hpp"

namespace wagate::sim {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxContentLengthDigits = 18;  // fits in size_t with room to spare

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 408: return "Request Timeout";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return http::reason_phrase(status);
  }
}

// RFC 9110 token characters (method and header names).
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

// Visible ASCII, no blanks: what a request target may hold.
bool is_target(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f;
  });
}

// Field values may hold tab and any byte but the other control characters.
bool is_field_value(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
  });
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// True when the comma-separated list (Connection, Expect) holds token, in any case.
bool list_has(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (text::lower(trim_ows(list.substr(0, comma))) == token) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

RequestHead rejected(RequestHead head, int status, std::string error) {
  head.error_status = status;
  head.error = std::move(error);
  head.keep_alive = false;
  return head;
}

// Where the header block ends: the first blank line, CRLF or bare LF.
// found is false until a blank line has arrived. (Plain fields rather than
// an optional: GCC 12 at -O2 misreads the optional as maybe-uninitialized.)
struct HeadEnd {
  bool found = false;
  size_t head_size = 0;   // end of the head
  size_t body_start = 0;  // start of the body
};

HeadEnd find_head_end(std::string_view buffer) {
  const size_t crlf = buffer.find("\r\n\r\n");
  const size_t lf = buffer.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return {};
  if (lf != std::string_view::npos && (crlf == std::string_view::npos || lf < crlf)) return {true, lf, lf + 2};
  return {true, crlf, crlf + 4};
}


}  // namespace

RequestHead parse_request_head(std::string_view head, const ServerLimits& limits) {
  RequestHead result;
  std::vector<std::string_view> lines;
  while (true) {
    const size_t newline = head.find('\n');
    std::string_view line = head.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (newline == std::string_view::npos) break;
    head.remove_prefix(newline + 1);
  }

  // Request line: METHOD SP request-target SP HTTP-version, single spaces.
  const std::string_view request_line = lines.front();
  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return rejected(std::move(result), 400, "malformed request line");
  }
  const std::string_view method = request_line.substr(0, first_space);
  const std::string_view target = request_line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = request_line.substr(last_space + 1);
  if (!is_token(method)) return rejected(std::move(result), 400, "malformed method");
  if (!is_target(target) || target.front() != '/') {
    return rejected(std::move(result), 400, "request target must be a path (origin-form)");
  }
  if (version.substr(0, 5) != "HTTP/" || version.size() != 8 || version[6] != '.' ||
      std::isdigit(static_cast<unsigned char>(version[5])) == 0 ||
      std::isdigit(static_cast<unsigned char>(version[7])) == 0) {
    return rejected(std::move(result), 400, "malformed HTTP version");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return rejected(std::move(result), 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  const bool http10 = version == "HTTP/1.0";

  http::Request& request = result.request;
  request.method = std::string(method);
  request.request_uri = std::string(target);
  const std::string_view without_fragment = target.substr(0, target.find('#'));
  const size_t question = without_fragment.find('?');
  request.path = std::string(without_fragment.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(without_fragment.substr(question + 1));
  request.scheme = "http";

  bool seen_host = false;
  bool seen_length = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      return rejected(std::move(result), 400, "folded header lines are not accepted");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return rejected(std::move(result), 400, "malformed header line");
    }
    const std::string name = text::lower(line.substr(0, colon));
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return rejected(std::move(result), 400, "control character in header " + name);

    if (name == "host") {
      if (seen_host) return rejected(std::move(result), 400, "more than one Host header");
      seen_host = true;
    } else if (name == "content-length") {
      if (value.empty() || value.size() > kMaxContentLengthDigits ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return rejected(std::move(result), 400, "malformed Content-Length");
      }
      size_t length = 0;
      for (const char c : value) length = length * 10 + static_cast<size_t>(c - '0');
      if (seen_length && length != result.content_length) {
        return rejected(std::move(result), 400, "conflicting Content-Length headers");
      }
      seen_length = true;
      result.content_length = length;
    } else if (name == "transfer-encoding") {
      return rejected(std::move(result), 501, "Transfer-Encoding is not supported; send Content-Length");
    }
    auto [it, inserted] = request.headers.emplace(name, std::string(value));
    if (!inserted && name != "content-length") {
      it->second += ", ";
      it->second += value;
    }
  }

  if (!http10 && !seen_host) return rejected(std::move(result), 400, "HTTP/1.1 request without Host");
  if (const auto host = request.header("host")) request.host = std::string(*host);
  if (const auto type = request.header("content-type")) request.content_type = std::string(*type);

  const std::string_view connection = request.header("connection").value_or("");
  result.keep_alive = http10 ? list_has(connection, "keep-alive") : !list_has(connection, "close");
  if (const auto expect = request.header("expect")) {
    if (!http10 && text::lower(*expect) != "100-continue") {
      return rejected(std::move(result), 417, "only Expect: 100-continue is supported");
    }
    result.expect_continue = !http10;
  }
  if (result.content_length > limits.max_body_bytes) {
    return rejected(std::move(result), 413,
                    "body of " + std::to_string(result.content_length) + " bytes is over the limit of " +
                        std::to_string(limits.max_body_bytes));
  }
  return result;
}

std::string serialize_response(const http::Response& response, bool keep_alive) {
  std::string out;
  out.reserve(256 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reason(response.status);
  out += "\r\n";
  if (!response.content_type.empty()) {
    out += "Content-Type: ";
    out += response.content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  out += response.body;
  return out;
}

http::Response protocol_error(int status, std::string_view message) {
  const json::Value body = json::object();
  json::set(body.get(), "message", json::string(message));
  json::set(body.get(), "status", json::integer(status));
  return http::Response::json(status, json::dump(body.get()));
}

HttpServer::HttpServer(std::string_view listen, Handler handler, ServerLimits limits)
    : handler_(std::move(handler)), limits_(limits) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == listen.size()) {
    throw ConfigError("--listen: expected HOST:PORT, got '" + std::string(listen) + "'");
  }
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string service(listen.substr(colon + 1));

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw ConfigError("--listen " + std::string(listen) + ": " + ::gai_strerror(rc));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);

  listen_fd_.reset(::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol));
  if (!listen_fd_) throw Error(std::string("socket: ") + std::strerror(errno));
  const int on = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(listen_fd_.get(), found->ai_addr, found->ai_addrlen) != 0 || ::listen(listen_fd_.get(), SOMAXCONN) != 0) {
    const std::string reason_text = std::strerror(errno);
    throw Error("cannot listen on " + std::string(listen) + ": " + reason_text);
  }
  sockaddr_storage bound{};
  socklen_t bound_size = sizeof bound;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &bound_size);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int pipe_fds[2] = {-1, -1};
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  stop_read_.reset(pipe_fds[0]);
  stop_write_.reset(pipe_fds[1]);
}

HttpServer::~HttpServer() {
  stop(milliseconds(0));
}

void HttpServer::start() { accept_thread_ = std::thread([this] { accept_loop(); }); }

void HttpServer::stop(milliseconds grace) {
  if (!stopping_.exchange(true)) {
    const char byte = 0;
    // The pipe is never drained, so every poll() on it wakes, now and later.
    [[maybe_unused]] const ssize_t written = ::write(stop_write_.get(), &byte, 1);
    const std::lock_guard lock(mutex_);
    changed_.notify_all();
  }
  if (accept_thread_.joinable()) accept_thread_.join();

  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, grace, [this] { return connections_.empty(); })) {
    log::warning("http_stop_forced").kv("connections", connections_.size());
    for (const int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  changed_.wait(lock, [this] { return connections_.empty(); });
}

bool HttpServer::sleep_unless_stopping(milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void HttpServer::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("http_poll_failed").kv("error", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;

    sockaddr_storage peer{};
    socklen_t peer_size = sizeof peer;
    const int fd = ::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_size, SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE and friends: back off a little instead of spinning.
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        log::warning("http_accept_failed").kv("error", std::strerror(errno));
        sleep_unless_stopping(milliseconds(50));
      }
      continue;
    }
    char address[INET6_ADDRSTRLEN] = "";
    if (peer.ss_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, address, sizeof address);
    } else if (peer.ss_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, address, sizeof address);
    }
    {
      const std::lock_guard lock(mutex_);
      if (connections_.size() >= limits_.max_connections) {
        log::warning("http_too_many_connections").kv("limit", limits_.max_connections);
        ::close(fd);
        continue;
      }
      connections_.insert(fd);
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    timeval send_timeout{};
    send_timeout.tv_sec = static_cast<time_t>(limits_.send_timeout.count() / 1000);
    send_timeout.tv_usec = static_cast<suseconds_t>((limits_.send_timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    try {
      std::thread([this, fd, remote = std::string(address)]() mutable { serve(fd, std::move(remote)); }).detach();
    } catch (const std::system_error& error) {
      log::warning("http_thread_failed").kv("error", error.what());
      const std::lock_guard lock(mutex_);
      connections_.erase(fd);
      ::close(fd);
    }
  }
}

void HttpServer::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return;  // the client went away or stopped reading: nothing more to do for it
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
}

void HttpServer::serve(int fd, std::string remote_addr) {
  std::string buffer;
  bool open = true;
  while (open) {
    // Wait for a complete head: the idle timeout applies until the first
    // byte of a request, the request timeout from then on.
    std::optional<SteadyClock::time_point> request_deadline;
    if (!buffer.empty()) request_deadline = SteadyClock::now() + limits_.request_timeout;
    const SteadyClock::time_point idle_deadline = SteadyClock::now() + limits_.idle_timeout;
    HeadEnd head_end = find_head_end(buffer);
    size_t body_needed = 0;
    size_t body_start = 0;
    RequestHead head;
    bool have_head = false;

    while (true) {
      if (!have_head && head_end.found) {
        head = parse_request_head(std::string_view(buffer).substr(0, head_end.head_size), limits_);
        body_start = head_end.body_start;
        have_head = true;
        if (!head.ok()) break;
        if (head.expect_continue && buffer.size() < body_start + head.content_length) {
          write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
        }
        body_needed = head.content_length;
      }
      if (have_head && buffer.size() >= body_start + body_needed) break;
      if (!have_head && buffer.size() > limits_.max_head_bytes) break;

      const SteadyClock::time_point deadline = request_deadline.value_or(idle_deadline);
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) break;
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      // Once stopping, a connection between requests closes at once; one in
      // the middle of a request gets to finish it.
      const int nfds = buffer.empty() ? 2 : 1;
      const int ready = ::poll(fds, static_cast<nfds_t>(nfds), static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;  // the deadline check above ends it
      if (nfds == 2 && fds[1].revents != 0) break;

      char chunk[kReadChunk];
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // closed by the client, or reset
      if (buffer.empty()) request_deadline = SteadyClock::now() + limits_.request_timeout;
      buffer.append(chunk, static_cast<size_t>(got));
      if (!have_head) head_end = find_head_end(buffer);
    }

    if (!have_head) {
      if (buffer.size() > limits_.max_head_bytes) {
        write_all(fd, serialize_response(protocol_error(431, "request head over the size limit"), false));
      } else if (!buffer.empty() && request_deadline && SteadyClock::now() >= *request_deadline) {
        write_all(fd, serialize_response(protocol_error(408, "request not received in time"), false));
      }
      break;
    }
    if (!head.ok()) {
      log::debug("http_rejected").kv("remote", remote_addr).kv("status", head.error_status).kv("error", head.error);
      write_all(fd, serialize_response(protocol_error(head.error_status, head.error), false));
      break;
    }
    if (buffer.size() < body_start + body_needed) {
      if (request_deadline && SteadyClock::now() >= *request_deadline) {
        write_all(fd, serialize_response(protocol_error(408, "request body not received in time"), false));
      }
      break;
    }

    http::Request& request = head.request;
    request.body = buffer.substr(body_start, body_needed);
    request.remote_addr = remote_addr;
    buffer.erase(0, body_start + body_needed);

    Reply reply;
    try {
      reply = handler_(request);
    } catch (const std::exception& error) {
      log::error("http_handler_failed").kv("method", request.method).kv("path", request.path).kv("error", error.what());
      reply = Reply{protocol_error(500, "internal error"), {}, {}};
    }
    if (reply.delay.count() > 0) sleep_unless_stopping(reply.delay);
    open = head.keep_alive && !stopping_;
    write_all(fd, serialize_response(reply.response, open));
    if (reply.after_write) reply.after_write();
  }

  // Closed under the lock: stop() must never shut down a number that has
  // already been reused by another socket.
  const std::lock_guard lock(mutex_);
  ::close(fd);
  connections_.erase(fd);
  changed_.notify_all();
}

}  // namespace wagate::sim
