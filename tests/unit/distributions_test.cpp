// distributions_test.cpp — the distribution routes' query strings: each bad parameter's 400, recipient statuses.
#include "api/distributions.hpp"

#include <gtest/gtest.h>

#include "api_rejection.hpp"

namespace wagate::api {
namespace {

void expect_invalid(std::string_view query, bool takes_status, std::string_view field) {
  const test::Rejection r = test::rejection(query, [&] { (void)parse_page_query(query, takes_status); });
  EXPECT_EQ(r.status, 400) << query;
  EXPECT_EQ(r.code, "invalid_parameter") << query;
  EXPECT_EQ(r.field, field) << query << ": " << r.message;
}

TEST(DistributionPageQuery, ReadsLimitCursorAndStatuses) {
  const PageQuery q = parse_page_query("limit=2&status=planned,delivered,planned&cursor=abc", true);
  EXPECT_EQ(q.limit, 2);
  EXPECT_EQ(q.cursor, "abc");
  EXPECT_EQ(q.statuses, (std::vector<std::string>{"planned", "delivered"}));
  EXPECT_EQ(parse_page_query("", false).limit, 50);
}

TEST(DistributionPageQuery, EachBadParameterIsNamed) {
  expect_invalid("status=planned", false, "status");
  expect_invalid("limit=0", false, "limit");
  expect_invalid("limit=201", false, "limit");
  expect_invalid("limit=1&limit=2", false, "limit");
  expect_invalid("cursor=", false, "cursor");
  expect_invalid("status=lost", true, "status");
  expect_invalid("status=received", true, "status");  // an inbound status: no recipient has it
  expect_invalid("page=2", true, "page");
}

}  // namespace
}  // namespace wagate::api
