// health_test.cpp — GET /api/v1/health: reason codes instead of driver text, the spool's counts.
#include "api/health.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "temp_dir.hpp"
#include "test_context.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"
#include "wagate/spool.hpp"

namespace wagate::api {
namespace {

TEST(Health, DownDependenciesGiveAReasonCodeAndNoAddresses) {
  const test::TempDir temp("wagate-health");
  const std::string& dir = temp.path();
  {
    spool::Spool spool(dir);
    spool.append_batch({R"({"kind":"status"})", R"({"kind":"status"})"});
  }
  auto context = test::make_context("spool_dir = " + dir + "\n");
  http::Request request;
  const http::Response response = health(request, *context);
  EXPECT_EQ(response.status, 503);
  const json::ParseResult body = json::parse(response.body);
  ASSERT_TRUE(body.ok()) << response.body;
  for (const char* check : {"postgres", "redis"}) {
    json_t* entry = json_object_get(json_object_get(body.value.get(), "checks"), check);
    ASSERT_NE(entry, nullptr) << response.body;
    EXPECT_EQ(json::get_string(entry, "status").value_or(""), "down") << check;
    EXPECT_EQ(json::get_string(entry, "reason").value_or(""), "connect_failed") << check;
  }
  // The test config's servers are 127.0.0.1 port 1: neither may show.
  EXPECT_EQ(response.body.find("127.0.0.1"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find("port"), std::string::npos) << response.body;
  json_t* spool_info = json_object_get(body.value.get(), "spool");
  EXPECT_EQ(json_integer_value(json_object_get(spool_info, "records")), 2);
}

TEST(Health, FailureReasonsAreStableCodes) {
  EXPECT_STREQ(failure_reason(DbError("postgres: connection failed: connection to server at \"10.0.0.5\", port "
                                      "5432 failed: Connection refused")),
               "connect_failed");
  EXPECT_STREQ(failure_reason(DbError("postgres: connection failed: FATAL:  password authentication failed for "
                                      "user \"wagate\"")),
               "auth_failed");
  EXPECT_STREQ(failure_reason(DbError("postgres: connection failed: timeout expired")), "timeout");
  EXPECT_STREQ(failure_reason(pg::QueryError("57014", "postgres: canceling statement due to statement timeout")),
               "timeout");
  EXPECT_STREQ(failure_reason(pg::QueryError("42P01", "postgres: relation does not exist")), "query_failed");
  EXPECT_STREQ(failure_reason(RedisError("redis: 127.0.0.1:6379: connect failed: Connection refused")),
               "connect_failed");
  EXPECT_STREQ(failure_reason(RedisError("redis: NOAUTH Authentication required.")), "auth_failed");
  EXPECT_STREQ(failure_reason(RedisError("redis: 127.0.0.1:6379: command failed: Resource temporarily "
                                         "unavailable (timed out)")),
               "timeout");
}

}  // namespace
}  // namespace wagate::api
