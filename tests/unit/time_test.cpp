// time_test.cpp — the one time grammar (ISO 8601) every endpoint accepts, RFC 2822 as Twilio writes it, civil dates.
#include "wagate/time.hpp"

#include <gtest/gtest.h>

namespace wagate::time {
namespace {

// 2024-05-01T00:00:00Z
constexpr long long kMay1 = 1714521600LL * kSecondMicros;
constexpr long long kNow = kMay1 + 10 * kHourMicros + 17 * kMinuteMicros + 123456;  // 10:17:00.123456

long long at(std::string_view text) {
  const std::optional<long long> value = parse_iso8601(text);
  EXPECT_TRUE(value.has_value()) << text;
  return value.value_or(0);
}

TEST(Iso8601, FormsAndOffsets) {
  EXPECT_EQ(at("2024-05-01"), kMay1);
  EXPECT_EQ(at("2024-05-01T00:00Z"), kMay1);
  EXPECT_EQ(at("2024-05-01t00:00:00z"), kMay1);
  EXPECT_EQ(at("2024-05-01 10:17:00.123456"), kNow);  // no offset: UTC
  EXPECT_EQ(at("2024-05-01T12:17:00.123456+02:00"), kNow);
  EXPECT_EQ(at("2024-05-01T12:17:00.123456+0200"), kNow);
  EXPECT_EQ(at("2024-05-01T12:17:00.123456+02"), kNow);
  EXPECT_EQ(at("2024-05-01T12:17:00.123456 02:00"), kNow);  // an unencoded '+' arrives as a blank
  EXPECT_EQ(at("2024-05-01T05:47:00.123456-04:30"), kNow);
  EXPECT_EQ(at("2024-05-01T10:17:00,123456Z"), kNow);
  EXPECT_EQ(at("2024-05-01T10:17:00.123456789Z"), kNow);  // nanoseconds: truncated to microseconds
  EXPECT_EQ(at("2024-05-01T00:00:00.5Z"), kMay1 + 500000);
  EXPECT_EQ(at("2024-02-29T00:00:00Z"), kMay1 - 62 * kDayMicros);
  EXPECT_EQ(at("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(at("9999-12-31T23:59:59.999999Z"), 253402300799999999LL);
}

TEST(Iso8601, Rejects) {
  for (const char* bad :
       {"", "now", "epoch", "infinity", "1714564800", "2024", "2024-5-01", "2024-5-1", "2023-02-29", "2024-04-31",
        "2024-02-30", "2024-13-01", "2024-00-10", "0000-01-01", "2024-05-01T24:00:00Z", "2024-05-01T10:60Z",
        "2024-05-01T12:00:60Z", "2024-05-01T10", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00.1234567890Z",
        "2024-05-01T10:00:00ZZ", "2024-05-01T10:00:00+2", "2024-05-01T12:00:00+2:00", "2024-05-01T10:00:00+24:00",
        "1969-12-31T23:59:59Z", "2024-05-01X10:00:00Z", "2024-05-01T10:00:00 UTC", "2024-05-01T12:00:00Z junk"}) {
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
  }
}

TEST(Iso8601, FormatRoundTrips) {
  EXPECT_EQ(format_iso8601(kMay1), "2024-05-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(kNow), "2024-05-01T10:17:00.123456Z");
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_iso8601(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_iso8601(kNow, 3), "2024-05-01T10:17:00.123Z");
  EXPECT_EQ(format_iso8601(kNow, 0), "2024-05-01T10:17:00Z");
  for (const long long t : {kMay1 - 1, kNow, at("2000-02-29T23:59:59.999999Z"), at("9999-12-31T23:59:59Z")}) {
    EXPECT_EQ(parse_iso8601(format_iso8601(t)), t) << format_iso8601(t);
  }
}

TEST(Iso8601, NowWithMicrosecondsIsTheArrivalTimeOfAWebhook) {
  const long long before = now_micros();
  const std::string text = format_iso8601(now_micros(), 6);
  ASSERT_EQ(text.size(), 27U) << text;  // YYYY-MM-DDTHH:MM:SS.uuuuuuZ
  const std::optional<long long> parsed = parse_iso8601(text);
  ASSERT_TRUE(parsed.has_value()) << text;
  EXPECT_GE(*parsed, before);
  EXPECT_LE(*parsed, now_micros());
}

TEST(PostgresLiteral, ExactWhateverTheSessionTimeZone) {
  EXPECT_EQ(postgres_literal(0), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(postgres_literal(1709251199999999), "2024-02-29 23:59:59.999999+00");
  EXPECT_EQ(postgres_literal(951868800000001), "2000-03-01 00:00:00.000001+00");
  EXPECT_EQ(postgres_literal(253402300799999999), "9999-12-31 23:59:59.999999+00");
}

TEST(Rfc2822, AsTwilioWritesIt) {
  const long long nov21 = 1700541300LL * kSecondMicros;  // 2023-11-21T04:35:00Z
  EXPECT_EQ(parse_rfc2822("Tue, 21 Nov 2023 04:35:00 +0000"), nov21);
  EXPECT_EQ(parse_rfc2822("21 Nov 2023 06:35:00 +0200"), nov21);
  EXPECT_EQ(parse_rfc2822("Tue, 21 Nov 2023 00:05:00 -0430"), nov21);
  EXPECT_EQ(parse_rfc2822("Wed, 1 Nov 2023 00:00:00 +0000"), 1698796800LL * kSecondMicros);
  EXPECT_EQ(format_rfc2822(nov21), "Tue, 21 Nov 2023 04:35:00 +0000");
  EXPECT_EQ(format_rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc2822(kMay1 + 999999), "Wed, 01 May 2024 00:00:00 +0000");
  for (const char* bad : {"", "2023-11-21T04:35:00Z", "Tue, 21 Foo 2023 04:35:00 +0000", "Tue, 21 Nov 2023 04:35 +0000",
                          "Tue, 31 Nov 2023 04:35:00 +0000", "Tue, 21 Nov 2023 04:35:00 GMT",
                          "Tue, 21 Nov 2023 24:00:00 +0000", "Tue, 21 Nov 2023 04:35:00 +0000 junk"}) {
    EXPECT_FALSE(parse_rfc2822(bad).has_value()) << bad;
  }
}

TEST(Civil, DaysRoundTripAndFloorIsAFloor) {
  for (long long days = -800000; days <= 3000000; days += 997) {
    const Civil civil = civil_from_days(days);
    EXPECT_EQ(days_from_civil(civil.year, civil.month, civil.day), days);
  }
  EXPECT_EQ(days_from_civil(2024, 2, 29), 19782);
  EXPECT_EQ(days_in_month(2024, 2), 29);
  EXPECT_EQ(days_in_month(1900, 2), 28);
  EXPECT_EQ(days_in_month(2000, 2), 29);
  EXPECT_EQ(floor_to(kNow, kHourMicros), kMay1 + 10 * kHourMicros);
  EXPECT_EQ(floor_to(kNow, kDayMicros), kMay1);
  EXPECT_EQ(floor_to(-1, kHourMicros), -kHourMicros);
  EXPECT_EQ(floor_to(-kHourMicros, kHourMicros), -kHourMicros);
}

}  // namespace
}  // namespace wagate::time
