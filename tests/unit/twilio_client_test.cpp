// twilio_client_test.cpp — Messages requests as Twilio expects them, answers classified, and the libcurl transport against a loopback server.
#include "wagate/twilio_client.hpp"

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

#include "wagate/crypto.hpp"
#include "wagate/form.hpp"

namespace wagate::twilio {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kAccountSid = "AC0123456789abcdef0123456789abcdef";
constexpr std::string_view kCreated =
    R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "account_sid": "AC0123456789abcdef0123456789abcdef",)"
    R"( "to": "whatsapp:+15550001111", "from": "whatsapp:+15559990000", "direction": "outbound-api",)"
    R"( "date_created": "Tue, 21 Nov 2023 04:35:00 +0000", "error_code": null, "error_message": null})";

Credentials credentials() { return Credentials{std::string(kAccountSid), Secret("tok3n-secret")}; }

OutboundMessage text_message() {
  OutboundMessage message;
  message.to = "whatsapp:+15550001111";
  message.from = "whatsapp:+15559990000";
  message.body = "Hello + welcome & more";
  message.status_callback = "https://wa.example.com/api/v1/whatsapp/status";
  return message;
}

std::vector<std::pair<std::string, std::string>> pairs(const form::Params& params) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& param : params.items()) out.emplace_back(param.name, param.value);
  return out;
}

// ---- requests ----

TEST(TwilioRequest, CreateGoesToTheAccountsMessagesResource) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  // A configured base with a trailing slash must not double it.
  EXPECT_EQ(messages_url("http://127.0.0.1:8080/", kAccountSid),
            "http://127.0.0.1:8080/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
}

TEST(TwilioRequest, BasicAuthIsAccountSidColonToken) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  EXPECT_EQ(request.authorization.reveal(),
            "Basic " + crypto::base64("AC0123456789abcdef0123456789abcdef:tok3n-secret"));
  EXPECT_EQ(request.url.find("tok3n"), std::string::npos);
  EXPECT_EQ(request.body.find("tok3n"), std::string::npos);
}

TEST(TwilioRequest, TextMessageFields) {
  const auto params = create_params(text_message());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"To", "whatsapp:+15550001111"},
      {"From", "whatsapp:+15559990000"},
      {"Body", "Hello + welcome & more"},
      {"StatusCallback", "https://wa.example.com/api/v1/whatsapp/status"},
  };
  EXPECT_EQ(pairs(params), expected);
}

TEST(TwilioRequest, BodyIsFormEncodedSoPlusAndAmpersandSurvive) {
  const Request request = create_message("https://api.twilio.com", credentials(), text_message());
  const auto parsed = form::parse(request.body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.params.first("To"), "whatsapp:+15550001111");
  EXPECT_EQ(parsed.params.first("Body"), "Hello + welcome & more");
  EXPECT_NE(request.body.find("To=whatsapp%3A%2B15550001111"), std::string::npos) << request.body;
}

TEST(TwilioRequest, WhatsappPrefixIsAddedWhenMissing) {
  OutboundMessage message = text_message();
  message.to = "+15550001111";
  message.from = "+15559990000";
  const auto params = create_params(message);
  EXPECT_EQ(params.first("To"), "whatsapp:+15550001111");
  EXPECT_EQ(params.first("From"), "whatsapp:+15559990000");
}

TEST(TwilioRequest, MessagingServiceReplacesFrom) {
  OutboundMessage message = text_message();
  message.from.clear();
  message.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  const auto params = create_params(message);
  EXPECT_EQ(params.first("MessagingServiceSid"), "MG0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(params.first("From").has_value());
}

TEST(TwilioRequest, TemplateAndMediaFields) {
  OutboundMessage message;
  message.to = "whatsapp:+15550001111";
  message.from = "whatsapp:+15559990000";
  message.content_sid = "HX0123456789abcdef0123456789abcdef";
  message.content_variables = R"({"1":"Ada","2":"12:00"})";
  message.media_urls = {"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.pdf"};
  const auto params = create_params(message);
  EXPECT_FALSE(params.first("Body").has_value());
  EXPECT_EQ(params.first("ContentSid"), "HX0123456789abcdef0123456789abcdef");
  EXPECT_EQ(params.first("ContentVariables"), R"({"1":"Ada","2":"12:00"})");
  const auto media = params.all("MediaUrl");
  ASSERT_EQ(media.size(), 2U);
  EXPECT_EQ(media[0], "https://cdn.example.com/a.jpg");
  EXPECT_EQ(media[1], "https://cdn.example.com/b.pdf");
  // No callback configured: the parameter is left out, not sent empty.
  EXPECT_FALSE(params.first("StatusCallback").has_value());
}

TEST(TwilioRequest, StatusCallbackFromConfigElsePublicBaseElseNone) {
  EXPECT_EQ(status_callback_url("https://cb.example.com/s", "https://wa.example.com"), "https://cb.example.com/s");
  EXPECT_EQ(status_callback_url("", "https://wa.example.com"), "https://wa.example.com/api/v1/whatsapp/status");
  EXPECT_EQ(status_callback_url("", ""), "");
}

TEST(TwilioRequest, FetchAndListForReconciliation) {
  const Request fetch = fetch_message("https://api.twilio.com", credentials(), "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(fetch.method, "GET");
  EXPECT_EQ(fetch.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/"
                       "SM0123456789abcdef0123456789abcdef.json");

  ListFilter filter;
  filter.to = "+15550001111";
  filter.from = "whatsapp:+15559990000";
  filter.date_sent_after = std::chrono::system_clock::from_time_t(1700541300);  // 2023-11-21 04:35:00 UTC
  const Request list = list_messages("https://api.twilio.com", credentials(), filter);
  EXPECT_EQ(list.url,
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
            "?To=whatsapp%3A%2B15550001111&From=whatsapp%3A%2B15559990000&DateSent%3E=2023-11-21T04%3A35%3A00Z"
            "&PageSize=50");
  EXPECT_FALSE(list.authorization.empty());
}

TEST(TwilioRequest, NextPageStaysOnTheAccountsPath) {
  const auto next = next_page("https://api.twilio.com/", credentials(),
                              "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1&PageToken=PA1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
                       "Messages.json?Page=1&PageToken=PA1");
  // Credentials are never sent to a path (or host) the page names otherwise.
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(), "https://evil.example/x").has_value());
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(),
                         "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json")
                   .has_value());
  EXPECT_FALSE(next_page("https://api.twilio.com", credentials(),
                         "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/../../x")
                   .has_value());
}

// ---- answers ----

Response answer(long status, std::string body) {
  Response response;
  response.http_status = status;
  response.body = std::move(body);
  response.request_sent = true;
  return response;
}

Response transport_failure(Failure failure, bool sent) {
  Response response;
  response.failure = failure;
  response.error = "what libcurl said";
  response.request_sent = sent;
  return response;
}

TEST(TwilioClassify, CreatedCarriesTheSid) {
  const SendResult result = classify_create(answer(201, std::string(kCreated)));
  EXPECT_EQ(result.outcome, Outcome::Created);
  EXPECT_EQ(result.sid, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(result.twilio_status, "queued");
}

TEST(TwilioClassify, ValidationErrorIsRejectedWithTwiliosCode) {
  const SendResult result = classify_create(answer(
      400, R"({"code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})"));
  EXPECT_EQ(result.outcome, Outcome::Rejected);
  EXPECT_EQ(result.error_code, 21211);
  EXPECT_EQ(result.error_message, "The 'To' number is not a valid phone number.");
}

TEST(TwilioClassify, AuthenticationFailureIsRejectedNotRetried) {
  const SendResult result =
      classify_create(answer(401, R"({"code": 20003, "message": "Authenticate", "status": 401})"));
  EXPECT_EQ(result.outcome, Outcome::Rejected);
  EXPECT_EQ(result.error_code, 20003);
}

TEST(TwilioClassify, TooManyRequestsAndUnavailableAreRetryable) {
  const SendResult too_many =
      classify_create(answer(429, R"({"code": 20429, "message": "Too Many Requests", "status": 429})"));
  EXPECT_EQ(too_many.outcome, Outcome::Retryable);
  EXPECT_EQ(too_many.error_code, 20429);
  EXPECT_EQ(classify_create(answer(429, "")).outcome, Outcome::Retryable);
  // A 4xx whose code the error table calls retryable (a rate limit) is
  // retried with backoff; one it does not know, or knows as final, is not.
  EXPECT_EQ(classify_create(answer(400, R"({"code": 63017, "message": "Rate limit", "status": 400})")).outcome,
            Outcome::Retryable);
  EXPECT_EQ(classify_create(answer(400, R"({"code": 21211, "message": "Invalid To", "status": 400})")).outcome,
            Outcome::Rejected);
  EXPECT_EQ(classify_create(answer(400, R"({"code": 99999, "message": "New", "status": 400})")).outcome,
            Outcome::Rejected);
  EXPECT_EQ(classify_create(answer(503, R"({"code": 20503, "message": "Service Unavailable"})")).outcome,
            Outcome::Retryable);
  EXPECT_EQ(classify_create(answer(503, "<html>upstream down</html>")).outcome, Outcome::Retryable);
}

TEST(TwilioClassify, OtherServerErrorsMayHaveCreatedTheMessage) {
  EXPECT_EQ(classify_create(answer(500, R"({"code": 20500, "message": "Internal Server Error"})")).outcome,
            Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(502, "")).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(504, "")).outcome, Outcome::Unknown);
}

TEST(TwilioClassify, SuccessWithoutASidIsUnknown) {
  EXPECT_EQ(classify_create(answer(201, "not json")).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(answer(200, "{}")).outcome, Outcome::Unknown);
}

TEST(TwilioClassify, FailuresBeforeTheRequestLeftAreRetryable) {
  EXPECT_EQ(classify_create(transport_failure(Failure::Connect, false)).outcome, Outcome::Retryable);
  // A connect timeout: curl never got past connecting.
  EXPECT_EQ(classify_create(transport_failure(Failure::Timeout, false)).outcome, Outcome::Retryable);
  EXPECT_EQ(classify_create(transport_failure(Failure::Aborted, false)).outcome, Outcome::Retryable);
}

TEST(TwilioClassify, FailuresAfterTheRequestLeftAreUnknown) {
  EXPECT_EQ(classify_create(transport_failure(Failure::Timeout, true)).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(transport_failure(Failure::Other, true)).outcome, Outcome::Unknown);
  EXPECT_EQ(classify_create(transport_failure(Failure::Aborted, true)).outcome, Outcome::Unknown);
  const SendResult result = classify_create(transport_failure(Failure::Timeout, true));
  EXPECT_NE(result.error_message.find("transport"), std::string::npos);
}

TEST(TwilioParse, MessagePageWithNextPage) {
  const auto page = parse_message_page(
      R"({"messages": [)" + std::string(kCreated) +
      R"(, {"sid": "SMffffffffffffffffffffffffffffffff", "status": "failed", "error_code": 63016,
            "error_message": "outside the window", "date_created": "Mon, 20 Nov 2023 23:59:59 -0500"}],
          "next_page_uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1"})");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->messages.size(), 2U);
  EXPECT_EQ(page->messages[0].sid, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(page->messages[0].direction, "outbound-api");
  EXPECT_FALSE(page->messages[0].error_code.has_value());
  EXPECT_EQ(page->messages[1].error_code, 63016);
  EXPECT_EQ(page->messages[1].date_created, std::chrono::system_clock::from_time_t(1700542799));
  EXPECT_EQ(page->next_page_uri,
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json?Page=1");
  EXPECT_FALSE(parse_message_page(R"({"messages": 5})").has_value());
  EXPECT_FALSE(parse_message_page("<html>").has_value());
}

// ---- finding a lost send in Twilio's list ----

MessageResource listed(std::string sid, std::string to, std::string from, std::string body, time_t created) {
  MessageResource message;
  message.sid = std::move(sid);
  message.to = std::move(to);
  message.from = std::move(from);
  message.body = std::move(body);
  message.direction = "outbound-api";
  message.status = "delivered";
  message.date_created = std::chrono::system_clock::from_time_t(created);
  return message;
}

TEST(TwilioLostSend, FindsTheEarliestMatchingMessageNotHeldByAnother) {
  LostSend send;
  send.to = "+15550001111";
  send.from = "whatsapp:+15559990000";
  send.body = "Your code is 1234";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  const std::vector<MessageResource> page = {
      listed("SM4", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 1300),
      listed("SM3", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 1200),
      listed("SM2", "whatsapp:+15550001111", "whatsapp:+15559990000", "Other text", 1100),
      listed("SM1", "whatsapp:+15550001111", "whatsapp:+15559990000", "Your code is 1234", 900),
  };
  const MessageResource* found = find_lost_send(send, page, {});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sid, "SM3");  // SM1 is older than the send, SM2 another text
  // SM3 is already another message's SID: the next candidate is this one.
  found = find_lost_send(send, page, {"SM3"});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->sid, "SM4");
  EXPECT_EQ(find_lost_send(send, page, {"SM3", "SM4"}), nullptr);
}

TEST(TwilioLostSend, OtherRecipientsSendersAndInboundDoNotMatch) {
  LostSend send;
  send.to = "whatsapp:+15550001111";
  send.from = "whatsapp:+15559990000";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  std::vector<MessageResource> page = {
      listed("SM1", "whatsapp:+15550002222", "whatsapp:+15559990000", "", 1100),
      listed("SM2", "whatsapp:+15550001111", "whatsapp:+15558880000", "", 1100),
      listed("SM3", "whatsapp:+15550001111", "whatsapp:+15559990000", "", 1100),
  };
  page[2].direction = "inbound";
  EXPECT_EQ(find_lost_send(send, page, {}), nullptr);
}

TEST(TwilioLostSend, MessagingServiceSendsMatchOnTheService) {
  LostSend send;
  send.to = "whatsapp:+15550001111";
  send.messaging_service_sid = "MG01";
  send.not_before = std::chrono::system_clock::from_time_t(1000);
  std::vector<MessageResource> page = {listed("SM1", "whatsapp:+15550001111", "whatsapp:+15559990000", "x", 1100)};
  EXPECT_EQ(find_lost_send(send, page, {}), nullptr);
  page[0].messaging_service_sid = "MG01";
  EXPECT_NE(find_lost_send(send, page, {}), nullptr);
}

// ---- the transport, against a loopback HTTP/1.1 server ----

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
