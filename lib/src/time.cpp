// time.cpp — instants as microseconds since the epoch: civil dates, ISO 8601 and RFC 2822 text.
#include "wagate/time.hpp"

#include <array>
#include <cstdio>
#include <ctime>

#include "wagate/text.hpp"

namespace wagate::time {
namespace {

constexpr long long kMinYear = 1970;
constexpr long long kMaxYear = 9999;
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};  // from 1970-01-01

// The value of text[pos, pos + count) when all of it is digits, else -1.
long long digits_at(std::string_view text, size_t pos, size_t count) {
  if (pos > text.size() || text.size() - pos < count) return -1;
  long long value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!text::is_digit(text[i])) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool valid_date(long long year, long long month, long long day) {
  return year >= kMinYear && year <= kMaxYear && month >= 1 && month <= 12 && day >= 1 &&
         day <= days_in_month(year, month);
}

// An offset in minutes east of UTC: "Z", "+HH", "+HHMM", "+HH:MM" (or '-',
// or ' ' for '+'). nullopt when malformed.
std::optional<long long> parse_zone(std::string_view zone) {
  if (zone.empty() || zone == "Z" || zone == "z") return 0;
  if (zone[0] != '+' && zone[0] != '-' && zone[0] != ' ') return std::nullopt;
  const long long sign = zone[0] == '-' ? -1 : 1;
  const long long hours = digits_at(zone, 1, 2);
  long long minutes = 0;
  if (zone.size() == 6 && zone[3] == ':') {
    minutes = digits_at(zone, 4, 2);
  } else if (zone.size() == 5) {
    minutes = digits_at(zone, 3, 2);
  } else if (zone.size() != 3) {
    return std::nullopt;
  }
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return std::nullopt;
  return sign * (hours * 60 + minutes);
}

}  // namespace

bool leap_year(long long year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

long long days_in_month(long long year, long long month) {
  constexpr std::array<long long, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  return month == 2 && leap_year(year) ? 29 : kDays[static_cast<size_t>(month - 1)];
}

// Howard Hinnant's algorithms (chrono-Compatible Low-Level Date Algorithms).
long long days_from_civil(long long year, long long month, long long day) {
  year -= month <= 2 ? 1 : 0;
  const long long era = (year >= 0 ? year : year - 399) / 400;
  const long long year_of_era = year - era * 400;
  const long long shifted_month = month > 2 ? month - 3 : month + 9;
  const long long day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const long long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

Civil civil_from_days(long long days) {
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const long long day_of_era = days - era * 146097;
  const long long year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const long long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const long long shifted_month = (5 * day_of_year + 2) / 153;
  Civil civil;
  civil.day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  civil.month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  civil.year = year_of_era + era * 400 + (civil.month <= 2 ? 1 : 0);
  return civil;
}

long long floor_to(long long t, long long unit) {
  const long long remainder = t % unit;
  return remainder < 0 ? t - remainder - unit : t - remainder;
}

long long now_micros() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * kSecondMicros + now.tv_nsec / 1000;
}

std::optional<long long> parse_iso8601(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const long long year = digits_at(text, 0, 4);
  const long long month = digits_at(text, 5, 2);
  const long long day = digits_at(text, 8, 2);
  if (!valid_date(year, month, day)) return std::nullopt;
  long long micros = days_from_civil(year, month, day) * kDayMicros;
  if (text.size() == 10) return micros;

  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
  const long long hour = digits_at(text, 11, 2);
  const long long minute = digits_at(text, 14, 2);
  if (text.size() < 16 || text[13] != ':' || hour < 0 || hour > 23 || minute < 0 || minute > 59) return std::nullopt;
  micros += hour * kHourMicros + minute * kMinuteMicros;
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    const long long second = digits_at(text, pos + 1, 2);
    if (second < 0 || second > 59) return std::nullopt;
    micros += second * kSecondMicros;
    pos += 3;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      long long fraction = 0;
      size_t digits = 0;
      while (pos < text.size() && text::is_digit(text[pos])) {
        if (++digits > 9) return std::nullopt;
        if (digits <= 6) fraction = fraction * 10 + (text[pos] - '0');
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (size_t i = digits; i < 6; ++i) fraction *= 10;
      micros += fraction;
    }
  }
  const std::optional<long long> offset_minutes = parse_zone(text.substr(pos));
  if (!offset_minutes) return std::nullopt;
  return micros - *offset_minutes * kMinuteMicros;
}

std::string format_iso8601(long long micros, int digits) {
  const long long day = floor_to(micros, kDayMicros) / kDayMicros;
  const long long in_day = micros - day * kDayMicros;
  const Civil civil = civil_from_days(day);
  const long long seconds = in_day / kSecondMicros;
  const long long fraction = in_day % kSecondMicros;
  char buffer[48];
  int length = std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", civil.year,
                             civil.month, civil.day, seconds / 3600, seconds / 60 % 60, seconds % 60);
  if (digits == 3) {
    length += std::snprintf(buffer + length, sizeof buffer - static_cast<size_t>(length), ".%03lld", fraction / 1000);
  } else if (digits == 6) {
    length += std::snprintf(buffer + length, sizeof buffer - static_cast<size_t>(length), ".%06lld", fraction);
  }
  return std::string(buffer, static_cast<size_t>(length)) + "Z";
}

std::string format_iso8601(long long micros) {
  return format_iso8601(micros, micros % kSecondMicros == 0 ? 0 : 6);
}

std::string postgres_literal(long long micros) {
  std::string text = format_iso8601(micros, 6);
  text[10] = ' ';
  text.back() = '+';
  return text + "00";
}

std::optional<long long> parse_rfc2822(std::string_view text) {
  // An optional day name: "Wed, " (its value is not checked against the date,
  // as the date is what counts).
  if (const size_t comma = text.find(','); comma != std::string_view::npos) text.remove_prefix(comma + 1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const size_t day_digits = text.size() > 1 && text::is_digit(text[1]) ? 2 : 1;
  const long long day = digits_at(text, 0, day_digits);
  text.remove_prefix(std::min(text.size(), day_digits));
  // " Mmm YYYY HH:MM:SS +ZZZZ"
  if (day < 0 || text.size() != 24 || text[0] != ' ' || text[4] != ' ' || text[9] != ' ' || text[12] != ':' ||
      text[15] != ':' || text[18] != ' ' || (text[19] != '+' && text[19] != '-')) {
    return std::nullopt;
  }
  long long month = 0;
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (text.substr(1, 3) == kMonths[i]) month = static_cast<long long>(i) + 1;
  }
  const long long year = digits_at(text, 5, 4);
  const long long hour = digits_at(text, 10, 2);
  const long long minute = digits_at(text, 13, 2);
  const long long second = digits_at(text, 16, 2);
  const long long zone_hours = digits_at(text, 20, 2);
  const long long zone_minutes = digits_at(text, 22, 2);
  if (!valid_date(year, month, day) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 60 || zone_hours < 0 || zone_minutes < 0 || zone_minutes > 59) {
    return std::nullopt;
  }
  const long long sign = text[19] == '-' ? -1 : 1;
  const long long local = days_from_civil(year, month, day) * kDayMicros + hour * kHourMicros +
                          minute * kMinuteMicros + second * kSecondMicros;
  return local - sign * (zone_hours * 60 + zone_minutes) * kMinuteMicros;
}

std::string format_rfc2822(long long micros) {
  const long long day = floor_to(micros, kDayMicros) / kDayMicros;
  const long long seconds = (micros - day * kDayMicros) / kSecondMicros;
  const Civil civil = civil_from_days(day);
  const auto weekday = static_cast<size_t>(((day % 7) + 7) % 7);
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02lld %s %04lld %02lld:%02lld:%02lld +0000",
                std::string(kWeekdays[weekday]).c_str(), civil.day,
                std::string(kMonths[static_cast<size_t>(civil.month - 1)]).c_str(), civil.year, seconds / 3600,
                seconds / 60 % 60, seconds % 60);
  return text;
}

}  // namespace wagate::time
