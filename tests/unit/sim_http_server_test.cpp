// sim_http_server_test.cpp — the simulator's HTTP/1.1 request-head parser and response writer.
#include "sim/http_server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wagate::sim {
namespace {

const ServerLimits kLimits;

RequestHead parse(std::string_view head) { return parse_request_head(head, kLimits); }

TEST(SimHttp, ParsesAKeepAliveRequest) {
  const RequestHead head = parse(
      "POST /2010-04-01/Accounts/AC1/Messages.json?x=%2F1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
      "Authorization: Basic abc\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n"
      "X-Twice: a\r\nx-twice: b");
  ASSERT_TRUE(head.ok()) << head.error;
  EXPECT_EQ(head.request.method, "POST");
  EXPECT_EQ(head.request.path, "/2010-04-01/Accounts/AC1/Messages.json");
  EXPECT_EQ(head.request.query, "x=%2F1");
  EXPECT_EQ(head.request.request_uri, "/2010-04-01/Accounts/AC1/Messages.json?x=%2F1");
  EXPECT_EQ(head.request.host, "127.0.0.1:9000");
  EXPECT_EQ(head.request.media_type(), "application/x-www-form-urlencoded");
  EXPECT_EQ(head.request.header("authorization"), "Basic abc");
  EXPECT_EQ(head.request.header("x-twice"), "a, b");
  EXPECT_EQ(head.content_length, 12U);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
}

TEST(SimHttp, ConnectionHandling) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close").keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0").keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive").keep_alive);
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3").expect_continue);
  EXPECT_TRUE(parse("GET / HTTP/1.1\nHost: h").ok());  // bare LF line ends
}

TEST(SimHttp, GarbageIs400) {
  for (const std::string& head : std::vector<std::string>{"HELLO", "GET /", "GET  / HTTP/1.1\r\nHost: h", "GET / HTTP/1.1 extra\r\nHost: h",
                                 "G(T / HTTP/1.1\r\nHost: h", "GET http://x/ HTTP/1.1\r\nHost: h",
                                 "GET / FTP/1.1\r\nHost: h", "GET / HTTP/1.1", "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
                                 "GET / HTTP/1.1\r\nHost: h\r\n folded", "GET / HTTP/1.1\r\nHost: h\r\nNo colon",
                                 "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01",
                                 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1",
                                 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2",
                                 std::string("GET /\0 HTTP/1.1\r\nHost: h", 24)}) {
    const RequestHead parsed = parse(head);
    EXPECT_EQ(parsed.error_status, 400) << head;
    EXPECT_FALSE(parsed.keep_alive) << head;
  }
}

TEST(SimHttp, OtherRefusals) {
  EXPECT_EQ(parse("GET / HTTP/2.0\r\nHost: h").error_status, 505);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked").error_status, 501);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: something").error_status, 417);
  const RequestHead big = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577");
  EXPECT_EQ(big.error_status, 413);
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576").ok());
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999").error_status, 400);
  // The same Content-Length twice is harmless.
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2").ok());
}

TEST(SimHttp, SerializesWithLengthAndConnection) {
  http::Response response = http::Response::json(201, R"({"a":1})");
  response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Twilio API\"");
  EXPECT_EQ(serialize_response(response, true),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            "Connection: keep-alive\r\nWWW-Authenticate: Basic realm=\"Twilio API\"\r\n\r\n{\"a\":1}");
  const std::string closing = serialize_response(protocol_error(431, "too big"), false);
  EXPECT_EQ(closing.substr(0, closing.find("\r\n")), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(closing.find("Connection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace wagate::sim
