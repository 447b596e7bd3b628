// delivery_metrics_query.cpp — the delivery-metrics request: its window, granularity and sender, checked.
#include "delivery_metrics_query.hpp"

#include "wagate/error.hpp"
#include "wagate/form.hpp"
#include "wagate/phone.hpp"

namespace wagate::api {
namespace {

constexpr size_t kMaxQueryParams = 16;

[[noreturn]] void invalid(std::string_view field, const std::string& message) {
  throw ApiError(400, "invalid_parameter", message, std::string(field));
}

std::string shown(std::string_view text) {
  constexpr size_t kMax = 64;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

}  // namespace

long long granularity_micros(Granularity granularity) {
  return granularity == Granularity::Hour ? time::kHourMicros : time::kDayMicros;
}

MetricsQuery parse_metrics_query(std::string_view query_string, long long now) {
  const form::ParseResult parsed = form::parse(query_string, kMaxQueryParams);
  if (!parsed.ok()) throw ApiError(400, "invalid_parameter", "the query string is malformed: " + parsed.error);
  std::optional<std::string_view> from_text;
  std::optional<std::string_view> to_text;
  std::optional<std::string_view> granularity_text;
  std::optional<std::string_view> sender_text;
  for (const form::Param& param : parsed.params.items()) {
    std::optional<std::string_view>* slot = nullptr;
    if (param.name == "from") slot = &from_text;
    if (param.name == "to") slot = &to_text;
    if (param.name == "granularity") slot = &granularity_text;
    if (param.name == "sender") slot = &sender_text;
    if (slot == nullptr) {
      invalid(shown(param.name),
              "unknown parameter '" + shown(param.name) + "'; the parameters are from, to, granularity and sender");
    }
    if (slot->has_value()) invalid(param.name, param.name + " is given more than once");
    if (param.value.empty()) invalid(param.name, param.name + " is empty; leave it out for its default");
    *slot = param.value;
  }

  const auto instant = [](std::string_view name, std::string_view text) {
    const std::optional<long long> value = time::parse_iso8601(text);
    if (!value) invalid(name, std::string(name) + " '" + shown(text) + "' is not " + std::string(time::kGrammarHint));
    return *value;
  };
  MetricsQuery query;
  query.to = to_text ? instant("to", *to_text) : now;
  query.from = from_text ? instant("from", *from_text) : query.to - kDefaultMetricsSpan;
  if (query.to <= query.from) {
    invalid(to_text ? "to" : "from", "to (" + time::format_iso8601(query.to) + ") must be after from (" +
                                         time::format_iso8601(query.from) + ")");
  }
  if (query.to - query.from > kMaxMetricsSpan) {
    invalid(from_text ? "from" : "to", "the window from " + time::format_iso8601(query.from) + " to " +
                                           time::format_iso8601(query.to) + " is longer than " +
                                           std::to_string(kMaxMetricsSpan / time::kDayMicros) + " days");
  }

  if (granularity_text) {
    if (*granularity_text == "hour") {
      query.granularity = Granularity::Hour;
    } else if (*granularity_text == "day") {
      query.granularity = Granularity::Day;
    } else {
      invalid("granularity", "granularity must be hour or day, not '" + shown(*granularity_text) + "'");
    }
  } else {
    query.granularity = query.to - query.from <= kHourlyByDefaultUpTo ? Granularity::Hour : Granularity::Day;
  }

  if (sender_text) {
    // The international form only: a sender number has no "home country"
    // to complete a national one with.
    const phone::Normalized number = phone::normalize(*sender_text, "");
    if (!number.ok()) invalid("sender", "sender " + number.reason);
    query.sender = "whatsapp:" + *number.e164;
  }
  return query;
}

}  // namespace wagate::api
