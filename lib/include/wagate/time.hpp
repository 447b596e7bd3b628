// time.hpp — instants as microseconds since the epoch: civil dates, ISO 8601 and RFC 2822 text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wagate::time {

// Every instant wagate handles is a count of microseconds since
// 1970-01-01T00:00:00Z (Postgres keeps timestamps to the microsecond).
constexpr long long kSecondMicros = 1'000'000;
constexpr long long kMinuteMicros = 60 * kSecondMicros;
constexpr long long kHourMicros = 60 * kMinuteMicros;
constexpr long long kDayMicros = 24 * kHourMicros;

// A proleptic Gregorian calendar date.
struct Civil {
  long long year = 0;
  long long month = 0;  // 1..12
  long long day = 0;    // 1..31
};

[[nodiscard]] bool leap_year(long long year);
[[nodiscard]] long long days_in_month(long long year, long long month);
// Days since 1970-01-01 (negative before it) and back.
[[nodiscard]] long long days_from_civil(long long year, long long month, long long day);
[[nodiscard]] Civil civil_from_days(long long days);

// t rounded down to a multiple of unit (towards minus infinity).
[[nodiscard]] long long floor_to(long long t, long long unit);

// The current wall-clock time.
[[nodiscard]] long long now_micros();

// The one grammar every endpoint accepts for a time (ISO 8601 / RFC 3339):
//
//   YYYY-MM-DD                      midnight UTC of that day
//   YYYY-MM-DD(T|t| )HH:MM[:SS[(.|,)F]][ZONE]
//   F:    1 to 9 digits; digits past the sixth (microseconds) are dropped
//   ZONE: Z | z | (+|-)HH | (+|-)HHMM | (+|-)HH:MM; none means UTC
//
// A space may stand for the '+' of an offset, since a '+' that a client did
// not percent-encode in a query string arrives as a space. Years from 1970 to
// 9999; the date must exist (no 2025-02-30), leap seconds are refused.
[[nodiscard]] std::optional<long long> parse_iso8601(std::string_view text);
// How an error message names that grammar to a client.
inline constexpr std::string_view kGrammarHint =
    "an ISO 8601 time (2024-05-01T12:00:00Z, 2024-05-01T14:00:00.5+02:00; no offset means UTC) or a date "
    "(2024-05-01, midnight UTC), years 1970 to 9999";

// "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" before the Z when the instant is not
// a whole second.
[[nodiscard]] std::string format_iso8601(long long micros);
// Always with exactly `digits` (0, 3 or 6) fraction digits, truncated:
// "2024-05-01T10:00:00.000Z" for digits = 3.
[[nodiscard]] std::string format_iso8601(long long micros, int digits);

// The literal Postgres reads as that instant: "2024-05-01 10:00:00.000000+00".
[[nodiscard]] std::string postgres_literal(long long micros);

// RFC 2822 dates as Twilio writes them ("Wed, 01 May 2024 10:00:00 +0000"):
// day name optional, one- or two-digit day, English month names, a numeric
// zone. Seconds may be 60 (a leap second reads as the next second's start).
[[nodiscard]] std::optional<long long> parse_rfc2822(std::string_view text);
// Always in UTC, "+0000", whole seconds.
[[nodiscard]] std::string format_rfc2822(long long micros);

}  // namespace wagate::time
