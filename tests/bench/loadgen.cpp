// loadgen.cpp — wagate-loadgen: signed Twilio webhooks at a gateway, counted exactly.
//
// Unlike a general HTTP benchmark tool, this one stops sending at the
// deadline and then waits for every request in flight, so the number of 200s
// it reports can be compared exactly with the rows in Postgres. Each
// connection is a blocking keep-alive HTTP/1.1 client on its own thread.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wagate/crypto.hpp"
#include "wagate/form.hpp"
#include "wagate/twilio_signature.hpp"

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/api/v1/whatsapp/status";
  std::string account_sid;
  std::string token;
  int connections = 32;
  double duration_s = 20;
  int statuses_per_sid = 3;
  std::string sid_prefix = "SM";
  bool tls = false;
  std::string ca_file;
  // "status" (signed status callbacks) or "send" (POST /api/v1/whatsapp/send
  // with a Bearer key, a template so no session window is needed).
  std::string kind = "status";
  std::string api_key;
};

// One keep-alive connection, plain or TLS.
class Connection {
 public:
  Connection(const Options& options, SSL_CTX* ctx) {
    fd_ = connect_to(options);
    if (fd_ < 0 || ctx == nullptr) return;
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) close_now();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { close_now(); }
  [[nodiscard]] bool ok() const { return fd_ >= 0; }

  bool send_all(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent))
                                        : send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  ssize_t receive(char* buffer, size_t size) {
    return ssl_ != nullptr ? SSL_read(ssl_, buffer, static_cast<int>(size)) : recv(fd_, buffer, size, 0);
  }

 private:
  static int connect_to(const Options& options);
  void close_now() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

const char* kStatuses[] = {"sent", "delivered", "read", "failed", "undelivered"};

struct Totals {
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::map<int, long long> by_status;
  long long errors = 0;
};

// Reads one response; returns its status or -1. Keeps leftover bytes in buffer.
int read_response(Connection& conn, std::string& buffer) {
  while (true) {
    const size_t head_end = buffer.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const int status = std::atoi(buffer.c_str() + 9);
      size_t length = 0;
      const auto cl = buffer.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::strtoul(buffer.c_str() + cl + 16, nullptr, 10);
      const size_t total = head_end + 4 + length;
      if (buffer.size() >= total) {
        buffer.erase(0, total);
        return status;
      }
    }
    char chunk[8192];
    const ssize_t n = conn.receive(chunk, sizeof chunk);
    if (n <= 0) return -1;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

int Connection::connect_to(const Options& options) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options.port));
  inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::string build_send_request(const Options& options, const std::string& ref) {
  const std::string body = R"({"to":"+12125550115","content_sid":"HX00000000000000000000000000000000",)"
                           R"("content_variables":{"1":"bench"},"client_ref":")" + ref + "\"}";
  return "POST /api/v1/whatsapp/send HTTP/1.1\r\nHost: " + options.host + ":" + std::to_string(options.port) +
         "\r\nContent-Type: application/json\r\nAuthorization: Bearer " + options.api_key +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string build_request(const Options& options, const std::string& url, const std::string& sid,
                          const char* status) {
  if (options.kind == "send") return build_send_request(options, sid);
  wagate::form::Params params;
  params.add("AccountSid", options.account_sid);
  params.add("ApiVersion", "2010-04-01");
  params.add("ChannelPrefix", "whatsapp");
  params.add("From", "whatsapp:+14155238886");
  params.add("MessageSid", sid);
  params.add("MessageStatus", status);
  params.add("SmsSid", sid);
  params.add("SmsStatus", status);
  params.add("To", "whatsapp:+15005550006");
  const std::string body = wagate::form::build(params);
  const std::string signature = wagate::twilio::compute_signature(url, params, options.token);
  return "POST " + options.path + " HTTP/1.1\r\nHost: " + options.host + ":" + std::to_string(options.port) +
         "\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: " + signature +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void run_connection(const Options& options, SSL_CTX* ctx, int index,
                    std::chrono::steady_clock::time_point deadline, Totals& totals) {
  const std::string url = std::string(options.tls ? "https://" : "http://") + options.host + ":" +
                          std::to_string(options.port) + options.path;
  std::vector<double> latencies;
  std::map<int, long long> by_status;
  long long errors = 0;
  auto conn = std::make_unique<Connection>(options, ctx);
  std::string buffer;
  long long n = 0;
  while (conn->ok() && std::chrono::steady_clock::now() < deadline) {
    // Unique SIDs per connection; several statuses per SID, as a message gets.
    const long long message = n / options.statuses_per_sid;
    const char* status = kStatuses[n % options.statuses_per_sid];
    // 34 characters like a real MessageSid: prefix, connection, message counter.
    char tail[64];
    const int width = 34 - static_cast<int>(options.sid_prefix.size()) - 4;
    std::snprintf(tail, sizeof tail, "%04x%0*llx", static_cast<unsigned>(index), width, message);
    const std::string sid = options.sid_prefix + tail;
    const std::string request = build_request(options, url, sid, status);
    const auto start = std::chrono::steady_clock::now();
    int code = -1;
    if (conn->send_all(request)) code = read_response(*conn, buffer);
    const auto end = std::chrono::steady_clock::now();
    if (code < 0) {
      ++errors;
      buffer.clear();
      conn = std::make_unique<Connection>(options, ctx);
      continue;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    ++by_status[code];
    ++n;
  }
  conn.reset();
  const std::lock_guard lock(totals.mutex);
  totals.latencies_ms.insert(totals.latencies_ms.end(), latencies.begin(), latencies.end());
  for (const auto& [code, count] : by_status) totals.by_status[code] += count;
  totals.errors += errors;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string token_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port") options.port = std::atoi(value.c_str());
    else if (flag == "--host") options.host = value;
    else if (flag == "--path") options.path = value;
    else if (flag == "--account-sid") options.account_sid = value;
    else if (flag == "--token-file") token_file = value;
    else if (flag == "--connections") options.connections = std::atoi(value.c_str());
    else if (flag == "--duration") options.duration_s = std::atof(value.c_str());
    else if (flag == "--statuses-per-sid") options.statuses_per_sid = std::clamp(std::atoi(value.c_str()), 1, 5);
    else if (flag == "--sid-prefix") options.sid_prefix = value;
    else if (flag == "--tls") options.tls = value == "1" || value == "true";
    else if (flag == "--ca-file") options.ca_file = value;
    else if (flag == "--kind") options.kind = value;
    else {
      std::fprintf(stderr, "wagate-loadgen: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (options.sid_prefix.size() < 2 || options.sid_prefix.size() > 14) {
    std::fprintf(stderr, "wagate-loadgen: --sid-prefix must be 2 to 14 characters\n");
    return 2;
  }
  if (options.port <= 0 || options.account_sid.empty() || token_file.empty()) {
    std::fprintf(stderr,
                 "usage: wagate-loadgen --port P --account-sid AC... --token-file F [--kind status|send] [--connections 32] "
                 "[--duration 20] [--statuses-per-sid 3] [--path /api/v1/whatsapp/status] [--tls 1 --ca-file PEM]\n");
    return 2;
  }
  std::ifstream in(token_file);
  std::getline(in, options.token);
  options.api_key = options.token;  // --kind send: the file holds the API key
  if (options.token.empty()) {
    std::fprintf(stderr, "wagate-loadgen: empty token file %s\n", token_file.c_str());
    return 2;
  }

  SSL_CTX* ctx = nullptr;
  if (options.tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!options.ca_file.empty()) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
        std::fprintf(stderr, "wagate-loadgen: cannot load CA file %s\n", options.ca_file.c_str());
        return 2;
      }
    }
  }
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(options.duration_s));
  std::vector<std::thread> threads;
  for (int i = 0; i < options.connections; ++i) {
    threads.emplace_back(run_connection, std::cref(options), ctx, i, deadline, std::ref(totals));
  }
  for (auto& thread : threads) thread.join();
  if (ctx != nullptr) SSL_CTX_free(ctx);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::sort(totals.latencies_ms.begin(), totals.latencies_ms.end());
  long long total = 0;
  for (const auto& [code, count] : totals.by_status) total += count;
  const auto count_of = [&](int code) {
    const auto it = totals.by_status.find(code);
    return it == totals.by_status.end() ? 0LL : it->second;
  };
  std::printf("{\"elapsed_s\": %.3f, \"requests\": %lld, \"ok\": %lld, \"errors\": %lld, \"rps\": %.1f, "
              "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"by_status\": {",
              elapsed, total, count_of(200) + count_of(202), totals.errors, static_cast<double>(total) / elapsed,
              percentile(totals.latencies_ms, 0.50), percentile(totals.latencies_ms, 0.90),
              percentile(totals.latencies_ms, 0.99), totals.latencies_ms.empty() ? 0 : totals.latencies_ms.back());
  bool first = true;
  for (const auto& [code, count] : totals.by_status) {
    std::printf("%s\"%d\": %lld", first ? "" : ", ", code, count);
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
