// router_test.cpp — routing by method and path: params, 404 and 405 with Allow.
#include "wagate/router.hpp"

#include <gtest/gtest.h>

#include "test_context.hpp"

namespace wagate::http {
namespace {

Request make(std::string method, std::string path) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.request_uri = request.path;
  return request;
}

Response echo_id(Request& request, Context&) { return Response::json(200, std::string(request.param("id"))); }

TEST(Router, MatchesStaticAndParameterisedPaths) {
  Router router;
  router.add("GET", "/api/v1/health", [](Request&, Context&) { return Response::json(200, "health"); });
  router.add("GET", "/api/v1/whatsapp/messages/{id}", echo_id);
  auto context = test::make_context();

  Request health = make("GET", "/api/v1/health");
  EXPECT_EQ(router.dispatch(health, *context).body, "health");

  Request message = make("GET", "/api/v1/whatsapp/messages/SM123");
  const Response found = router.dispatch(message, *context);
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.body, "SM123");
}

TEST(Router, UnknownPathIsJson404) {
  Router router;
  router.add("GET", "/api/v1/health", echo_id);
  auto context = test::make_context();
  Request request = make("GET", "/api/v1/nope");
  const Response response = router.dispatch(request, *context);
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("\"code\":\"not_found\""), std::string::npos);
}

TEST(Router, EmptyParameterSegmentDoesNotMatch) {
  Router router;
  router.add("GET", "/api/v1/whatsapp/messages/{id}", echo_id);
  auto context = test::make_context();
  Request request = make("GET", "/api/v1/whatsapp/messages/");
  EXPECT_EQ(router.dispatch(request, *context).status, 404);
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router router;
  router.add("POST", "/api/v1/whatsapp/send", echo_id);
  router.add("PUT", "/api/v1/whatsapp/send", echo_id);
  auto context = test::make_context();
  Request request = make("GET", "/api/v1/whatsapp/send");
  const Response response = router.dispatch(request, *context);
  EXPECT_EQ(response.status, 405);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "Allow");
  EXPECT_EQ(response.headers[0].second, "POST, PUT");
  EXPECT_NE(response.body.find("method_not_allowed"), std::string::npos);
}

TEST(Router, HeadIsServedByGet) {
  Router router;
  router.add("GET", "/api/v1/health", [](Request&, Context&) { return Response::json(200, "ok"); });
  auto context = test::make_context();
  Request request = make("HEAD", "/api/v1/health");
  EXPECT_EQ(router.dispatch(request, *context).status, 200);
}

}  // namespace
}  // namespace wagate::http
