// price_job_test.cpp — the price job's rules: which messages are due, what Twilio's answer means, which prices are kept.
#include "maint/price_job.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace wagate::maint {

void PrintTo(const Price& price, std::ostream* out) { *out << "'" << price.amount << "' " << price.unit; }
void PrintTo(PriceDue due, std::ostream* out) {
  *out << (due == PriceDue::Ask ? "ask" : due == PriceDue::Wait ? "wait" : "give_up");
}
void PrintTo(PriceStep step, std::ostream* out) {
  switch (step) {
    case PriceStep::Store: *out << "store"; break;
    case PriceStep::AskLater: *out << "ask_later"; break;
    case PriceStep::RateLimited: *out << "rate_limited"; break;
    case PriceStep::Gone: *out << "gone"; break;
  }
}

namespace {

twilio::Response answer(long status, std::string body) {
  twilio::Response response;
  response.request_sent = true;
  response.http_status = status;
  response.body = std::move(body);
  return response;
}

std::string message_body(std::string_view price_json, std::string_view unit_json = R"("USD")") {
  return R"({"sid": "SM0123456789abcdef0123456789abcdef", "status": "delivered", "price": )" +
         std::string(price_json) + R"(, "price_unit": )" + std::string(unit_json) + "}";
}

TEST(PriceJobParse, KeepsTwilioPricesAsWritten) {
  EXPECT_EQ(parse_price("-0.00500", "USD"), (Price{"-0.00500", "USD"}));
  EXPECT_EQ(parse_price("0.00000", "usd"), (Price{"0.00000", "USD"}));
  EXPECT_EQ(parse_price("-1", "EUR"), (Price{"-1", "EUR"}));
  EXPECT_EQ(parse_price(".5", "BRL"), (Price{".5", "BRL"}));
}

TEST(PriceJobParse, RefusesWhatPostgresCouldNotStoreOrWouldMisread) {
  for (const std::string_view bad : {"", "-", ".", "1.2.3", "0,005", "1e-3", "NaN", " -0.005", "--1",
                                     "-0.005 ", "123456789012345678901234567890123"}) {
    EXPECT_FALSE(parse_price(bad, "USD").has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(parse_price("-0.005", "").has_value());
  EXPECT_FALSE(parse_price("-0.005", "US").has_value());
  EXPECT_FALSE(parse_price("-0.005", "US1").has_value());
  EXPECT_FALSE(parse_price("-0.005", "DOLLAR").has_value());
}

TEST(PriceJobDue, AsksNeverAskedAndRecheckedAfterTheInterval) {
  const PricePolicy policy{60, 72 * 3600.0};
  EXPECT_EQ(price_due({5, std::nullopt}, policy), PriceDue::Ask);
  EXPECT_EQ(price_due({500, 60}, policy), PriceDue::Ask);
  EXPECT_EQ(price_due({500, 61}, policy), PriceDue::Ask);
  EXPECT_EQ(price_due({500, 59.9}, policy), PriceDue::Wait);
  EXPECT_EQ(price_due({500, 0}, policy), PriceDue::Wait);
}

TEST(PriceJobDue, GivesUpOnlyAfterTheAgeEvenIfJustAsked) {
  const PricePolicy policy{60, 3600};
  EXPECT_EQ(price_due({3600, 1}, policy), PriceDue::Wait);
  EXPECT_EQ(price_due({3601, 1}, policy), PriceDue::GiveUp);
  EXPECT_EQ(price_due({3601, std::nullopt}, policy), PriceDue::GiveUp);
}

TEST(PriceJobRead, StoresAPriceFromAStringOrANumber) {
  PriceRead read = read_price(answer(200, message_body(R"("-0.00500")")));
  EXPECT_EQ(read.step, PriceStep::Store);
  EXPECT_EQ(read.price, (Price{"-0.00500", "USD"}));
  read = read_price(answer(200, message_body("-0.0358")));
  EXPECT_EQ(read.step, PriceStep::Store);
  EXPECT_EQ(read.price, (Price{"-0.0358", "USD"}));
}

TEST(PriceJobRead, NullPriceIsAskedAgainWithoutAProblem) {
  const PriceRead read = read_price(answer(200, message_body("null")));
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_EQ(read.problem, "");
  EXPECT_EQ(read_price(answer(200, R"({"sid": "SM1", "status": "delivered"})")).step, PriceStep::AskLater);
}

TEST(PriceJobRead, UnusableAnswersAreAskedAgainAndSaySo) {
  PriceRead read = read_price(answer(200, message_body(R"("free")")));
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_NE(read.problem.find("unreadable price 'free'"), std::string::npos) << read.problem;
  read = read_price(answer(200, message_body(R"("-0.005")", "null")));
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_FALSE(read.problem.empty());
  read = read_price(answer(500, "oops"));
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_EQ(read.problem, "HTTP 500");
  read = read_price(answer(200, "<html>"));
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_EQ(read.problem, "the answer is not a message");
  twilio::Response lost;
  lost.failure = twilio::Failure::Timeout;
  lost.error = "Operation timed out";
  read = read_price(lost);
  EXPECT_EQ(read.step, PriceStep::AskLater);
  EXPECT_EQ(read.problem, "transport: Operation timed out");
}

TEST(PriceJobRead, RateLimitAndMissingMessageAreTheirOwnSteps) {
  EXPECT_EQ(read_price(answer(429, R"({"code": 20429, "message": "Too Many Requests"})")).step,
            PriceStep::RateLimited);
  EXPECT_EQ(read_price(answer(404, R"({"code": 20404})")).step, PriceStep::Gone);
}

}  // namespace
}  // namespace wagate::maint
