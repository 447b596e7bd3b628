// fcgi_server_test.cpp — request building from FastCGI params, response framing, error mapping.
#include "wagate/fcgi_server.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "test_context.hpp"
#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"

namespace wagate::fcgi {
namespace {

TEST(FcgiServer, RequestFromParamsKeepsRawUriAndHeaders) {
  std::vector<std::string> params = {
      "REQUEST_METHOD=POST",
      "REQUEST_URI=/api/v1/whatsapp/status?x=a%20b&y=1",
      "QUERY_STRING=x=a%20b&y=1",
      "CONTENT_TYPE=application/x-www-form-urlencoded; charset=UTF-8",
      "REQUEST_SCHEME=https",
      "REQUEST_ID=abc123",
      "HTTP_HOST=gw.example.com:8443",
      "HTTP_X_TWILIO_SIGNATURE=sig=",
      "REMOTE_ADDR=127.0.0.1",
  };
  std::vector<char*> envp;
  for (auto& p : params) envp.push_back(p.data());
  envp.push_back(nullptr);

  const http::Request request = request_from_params(envp.data());
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/api/v1/whatsapp/status");
  EXPECT_EQ(request.request_uri, "/api/v1/whatsapp/status?x=a%20b&y=1");
  EXPECT_EQ(request.query, "x=a%20b&y=1");
  EXPECT_EQ(request.scheme, "https");
  EXPECT_EQ(request.host, "gw.example.com:8443");
  EXPECT_EQ(request.request_id, "abc123");
  EXPECT_EQ(request.header("x-twilio-signature").value_or(""), "sig=");
  EXPECT_EQ(request.media_type(), "application/x-www-form-urlencoded");
}

TEST(FcgiServer, SerializeFramesStatusHeadersAndBody) {
  http::Response response = http::Response::error(405, "method_not_allowed", "no");
  response.headers.emplace_back("Allow", "POST");
  const std::string bytes = serialize(response, "rid");
  EXPECT_TRUE(bytes.starts_with("Status: 405 Method Not Allowed\r\n"));
  EXPECT_NE(bytes.find("Content-Type: application/json; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Allow: POST\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("X-Request-Id: rid\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Content-Length: " + std::to_string(response.body.size()) + "\r\n"), std::string::npos);
  EXPECT_TRUE(bytes.ends_with("\r\n\r\n" + response.body));
}

struct Case {
  std::function<http::Response()> throws;
  int status;
  const char* code;
};

TEST(FcgiServer, HandleMapsEachFailureToOneStatusAndJsonError) {
  const std::vector<Case> cases = {
      {[]() -> http::Response { throw ApiError(422, "outside_session_window", "use a template", "body"); }, 422,
       "outside_session_window"},
      {[]() -> http::Response { throw DbError("postgres: connection refused"); }, 503, "database_unavailable"},
      {[]() -> http::Response { throw RedisError("redis: down"); }, 503, "queue_unavailable"},
      {[]() -> http::Response { throw std::runtime_error("boom"); }, 500, "internal_error"},
      // statement_timeout cancelled a slow read: not an outage, and not a 500.
      {[]() -> http::Response {
         throw pg::QueryError("57014", "postgres: canceling statement due to statement timeout (SQLSTATE 57014)");
       },
       503, "query_timeout"},
      {[]() -> http::Response { throw pg::Timeout("postgres: query failed: no answer in time"); }, 503,
       "database_unavailable"},
      {[]() -> http::Response { throw pg::QueryError("42P01", "postgres: relation does not exist"); }, 503,
       "database_unavailable"},
  };
  for (const Case& c : cases) {
    http::Router router;
    router.add("GET", "/x", [&](http::Request&, Context&) { return c.throws(); });
    auto context = test::make_context();
    http::Request request;
    request.method = "GET";
    request.path = "/x";
    const http::Response response = handle(router, request, *context);
    EXPECT_EQ(response.status, c.status);
    const auto parsed = json::parse(response.body);
    ASSERT_TRUE(parsed.ok()) << response.body;
    const json_t* error = json_object_get(parsed.value.get(), "error");
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(json::get_string(error, "code").value_or(""), c.code);
  }
}

// The client gets a fixed, generic error; the operator gets the real
// failure, with the request id, in one log line.
TEST(FcgiServer, InternalErrorsAreAnsweredGenericallyAndLoggedInFull) {
  struct Failure {
    std::function<http::Response()> throws;
    int status;
    std::string body;
    std::string logged;
  };
  const std::vector<Failure> cases = {
      {[]() -> http::Response { throw DbError("postgres: password authentication failed for user secretuser"); },
       503, R"({"error":{"code":"database_unavailable","message":"the database is unavailable; retry later"}})",
       R"(error="postgres: password authentication failed for user secretuser")"},
      {[]() -> http::Response { throw std::runtime_error("bad_alloc in renderer"); }, 500,
       R"({"error":{"code":"internal_error","message":"internal error; the request id identifies it in the logs"}})",
       R"(error="bad_alloc in renderer")"},
  };
  for (const Failure& c : cases) {
    http::Router router;
    router.add("GET", "/x", [&](http::Request&, Context&) { return c.throws(); });
    auto context = test::make_context();
    http::Request request;
    request.method = "GET";
    request.path = "/x";
    request.request_id = "req-42";
    const test::LogCapture capture;
    const http::Response response = handle(router, request, *context);
    EXPECT_EQ(response.status, c.status);
    EXPECT_EQ(response.body, c.body);
    const std::string text = capture.text();
    EXPECT_TRUE(text.starts_with("<3>event=request req_id=req-42 method=GET path=/x status=" +
                                 std::to_string(c.status)))
        << text;
    EXPECT_NE(text.find(c.logged), std::string::npos) << text;
  }
}

TEST(FcgiServer, ApiErrorCarriesField) {
  http::Router router;
  router.add("POST", "/x", [](http::Request&, Context&) -> http::Response {
    throw ApiError(400, "invalid_field", "to must be a string", "to");
  });
  auto context = test::make_context();
  http::Request request;
  request.method = "POST";
  request.path = "/x";
  const http::Response response = handle(router, request, *context);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, R"({"error":{"code":"invalid_field","message":"to must be a string","field":"to"}})");
}

}  // namespace
}  // namespace wagate::fcgi
