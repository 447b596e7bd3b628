// twilio_transport_test.cpp — the libcurl transport against a loopback HTTP/1.1 server: kept-alive connections, timeouts, refusals, aborts.
#include "wagate/twilio_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "twilio_fixtures.hpp"
#include "wagate/crypto.hpp"
#include "wagate/twilio_client.hpp"

namespace wagate::twilio {
namespace {

using std::chrono::milliseconds;

struct Captured {
  std::string request_line;
  std::string authorization;
  std::string content_type;
  std::string body;
};

// Answers each request with what the handler returns (raw HTTP), or never
// answers when it returns nullopt. Keeps connections alive; counts them.
class LoopbackServer {
 public:
  using Handler = std::function<std::optional<std::string>(const Captured&)>;

  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t length = sizeof addr;
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    thread_ = std::thread([this] { serve(); });
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  [[nodiscard]] std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<Captured> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] int connections() const { return connections_; }

 private:
  bool readable(int fd) {
    while (!stop_) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (readable(listen_fd_)) {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      handle(fd);
      close(fd);
    }
  }

  void handle(int fd) {
    std::string buffer;
    while (true) {
      size_t header_end = std::string::npos;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(fd, buffer)) return;
      }
      Captured request;
      std::string head = buffer.substr(0, header_end);
      buffer.erase(0, header_end + 4);
      request.request_line = head.substr(0, head.find("\r\n"));
      size_t content_length = 0;
      for (size_t at = head.find("\r\n"); at != std::string::npos;) {
        const size_t next = head.find("\r\n", at + 2);
        const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
        const size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
        if (name == "authorization") request.authorization = value;
        if (name == "content-type") request.content_type = value;
        if (name == "content-length") content_length = std::stoul(value);
        at = next;
      }
      while (buffer.size() < content_length) {
        if (!read_more(fd, buffer)) return;
      }
      request.body = buffer.substr(0, content_length);
      buffer.erase(0, content_length);
      {
        const std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const std::optional<std::string> response = handler_(request);
      if (!response) {
        // Never answer: wait until the client gives up and closes.
        while (read_more(fd, buffer)) {
        }
        return;
      }
      if (::send(fd, response->data(), response->size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  bool read_more(int fd, std::string& buffer) {
    if (!readable(fd)) return false;
    char chunk[4096];
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(got));
    return true;
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<Captured> requests_;
  std::thread thread_;
};

std::string http_response(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

std::vector<Multi::Finished> run_until_done(Multi& multi, size_t expected) {
  std::vector<Multi::Finished> finished;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (finished.size() < expected && std::chrono::steady_clock::now() < deadline) {
    for (auto& item : multi.poll(milliseconds(50))) finished.push_back(std::move(item));
  }
  return finished;
}

TransportOptions fast_options() {
  TransportOptions options;
  options.timeout = milliseconds(2000);
  options.connect_timeout = milliseconds(1000);
  return options;
}

TEST(TwilioTransport, CreateReachesTheServerAsTwilioExpectsIt) {
  LoopbackServer server([](const Captured&) { return http_response(201, "Created", kCreated); });
  Multi multi(fast_options(), 4);
  multi.start(create_message(server.base(), credentials(), text_message()), 7);
  const auto finished = run_until_done(multi, 1);
  ASSERT_EQ(finished.size(), 1U);
  EXPECT_EQ(finished[0].tag, 7U);
  EXPECT_EQ(finished[0].response.http_status, 201);
  EXPECT_TRUE(finished[0].response.request_sent);
  const SendResult result = classify_create(finished[0].response);
  EXPECT_EQ(result.outcome, Outcome::Created);
  EXPECT_EQ(result.sid, "SM0123456789abcdef0123456789abcdef");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].request_line,
            "POST /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json HTTP/1.1");
  EXPECT_EQ(requests[0].authorization,
            "Basic " + crypto::base64("AC0123456789abcdef0123456789abcdef:tok3n-secret"));
  EXPECT_EQ(requests[0].content_type, "application/x-www-form-urlencoded");
  const auto body = form::parse(requests[0].body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body.params.first("To"), "whatsapp:+15550001111");
  EXPECT_EQ(body.params.first("From"), "whatsapp:+15559990000");
  EXPECT_EQ(body.params.first("Body"), "Hello + welcome & more");
  EXPECT_EQ(body.params.first("StatusCallback"), "https://wa.example.com/api/v1/whatsapp/status");
}

TEST(TwilioTransport, ManyTransfersInFlightShareKeptAliveConnections) {
  LoopbackServer server([](const Captured&) { return http_response(201, "Created", kCreated); });
  Multi multi(fast_options(), 4);
  for (unsigned long long round = 0; round < 5; ++round) {
    multi.start(create_message(server.base(), credentials(), text_message()), round);
    const auto finished = run_until_done(multi, 1);
    ASSERT_EQ(finished.size(), 1U);
    EXPECT_EQ(classify_create(finished[0].response).outcome, Outcome::Created);
  }
  EXPECT_EQ(server.requests().size(), 5U);
  EXPECT_EQ(server.connections(), 1) << "each request after the first must reuse the kept-alive connection";
}

TEST(TwilioTransport, TimeoutAfterTheRequestLeftIsUnknown) {
  LoopbackServer server([](const Captured&) { return std::nullopt; });
  TransportOptions options = fast_options();
  options.timeout = milliseconds(300);
  Multi multi(options, 4);
  multi.start(create_message(server.base(), credentials(), text_message()), 1);
  const auto finished = run_until_done(multi, 1);
  ASSERT_EQ(finished.size(), 1U);
  EXPECT_EQ(finished[0].response.failure, Failure::Timeout);
  EXPECT_TRUE(finished[0].response.request_sent);
  EXPECT_EQ(classify_create(finished[0].response).outcome, Outcome::Unknown);
  // It did reach the server: sending it again could duplicate it.
  EXPECT_EQ(server.requests().size(), 1U);
}

TEST(TwilioTransport, RefusedConnectionIsRetryable) {
  int port = 0;
  {
    LoopbackServer closed([](const Captured&) { return std::nullopt; });
    port = std::stoi(closed.base().substr(closed.base().rfind(':') + 1));
  }
  const Response response =
      perform(create_message("http://127.0.0.1:" + std::to_string(port), credentials(), text_message()), fast_options());
  EXPECT_EQ(response.failure, Failure::Connect);
  EXPECT_FALSE(response.request_sent);
  EXPECT_FALSE(response.error.empty());
  EXPECT_EQ(classify_create(response).outcome, Outcome::Retryable);
}

TEST(TwilioTransport, BlockingPerformReadsErrorAnswers) {
  LoopbackServer server([](const Captured&) {
    return http_response(400, "Bad Request", R"({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})");
  });
  const Response response = perform(create_message(server.base(), credentials(), text_message()), fast_options());
  EXPECT_EQ(response.http_status, 400);
  const SendResult result = classify_create(response);
  EXPECT_EQ(result.outcome, Outcome::Rejected);
  EXPECT_EQ(result.error_code, 21211);
}

TEST(TwilioTransport, AbortedTransfersSayWhetherTheRequestLeft) {
  LoopbackServer server([](const Captured&) { return std::nullopt; });
  Multi multi(fast_options(), 4);
  multi.start(create_message(server.base(), credentials(), text_message()), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.requests().empty() && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(multi.poll(milliseconds(20)).empty());
  }
  ASSERT_EQ(server.requests().size(), 1U);
  const auto aborted = multi.abort_all();
  ASSERT_EQ(aborted.size(), 1U);
  EXPECT_EQ(multi.in_flight(), 0U);
  EXPECT_EQ(aborted[0].response.failure, Failure::Aborted);
  EXPECT_TRUE(aborted[0].response.request_sent);
  EXPECT_EQ(classify_create(aborted[0].response).outcome, Outcome::Unknown);
}

}  // namespace
}  // namespace wagate::twilio
