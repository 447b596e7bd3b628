// delivery_metrics.cpp — GET /api/v1/whatsapp/delivery-metrics: the route and its JSON answer.
#include "delivery_metrics.hpp"

#include <algorithm>

#include "auth.hpp"
#include "delivery_metrics_query.hpp"
#include "delivery_metrics_report.hpp"
#include "delivery_metrics_window.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/json_writer.hpp"
#include "wagate/message_status.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

// The counts and rates of a tally, as the top level and each series point
// carry them.
void write_outcomes(json::Writer& out, const Tally& tally) {
  const long long delivered = tally.delivered();
  const long long failed = tally.failed();
  const long long final_outcomes = delivered + failed;
  out.key("messages").integer(tally.messages());
  out.key("by_status").open('{');
  tally.each([&out](std::string_view status, long long count) {
    if (message_status::known(status)) {
      out.key(status).integer(count);  // a known name: plain ASCII
    } else {
      // A status this version does not know: its name as the database holds it.
      const std::string quoted = json::dump(json::string(status).get());
      out.key(std::string_view(quoted).substr(1, quoted.size() - 2)).integer(count);
    }
  });
  out.close('}');
  out.key("delivered").integer(delivered);
  out.key("read").integer(tally.of("read"));
  out.key("failed").integer(failed);
  out.key("in_flight").integer(tally.messages() - final_outcomes - tally.of("canceled"));
  out.key("rates").open('{');
  out.key("delivery").ratio(delivered, final_outcomes);
  out.key("read").ratio(tally.of("read"), delivered);
  out.key("failure").ratio(failed, final_outcomes);
  out.close('}');
}

std::string render(const MetricsQuery& query, const Report& report) {
  json::Writer out;
  out.open('{');
  out.key("from").plain(time::format_iso8601(query.from));
  out.key("to").plain(time::format_iso8601(query.to));
  out.key("granularity").plain(query.granularity == Granularity::Hour ? "hour" : "day");
  out.key("sender");
  if (query.sender) {
    out.text(*query.sender);
  } else {
    out.null();
  }
  write_outcomes(out, report.total);

  out.key("delivery_time_ms").open('{');
  out.key("count").integer(report.timed);
  out.key("avg").ratio(report.delivery_ms_sum, report.timed);
  out.key("min").optional_integer(report.min_ms);
  for (const int p : kPercentiles) {
    std::optional<long long> value;
    for (const auto& [percentile, ms] : report.percentiles) {
      if (percentile == p) value = ms;
    }
    out.key("p" + std::to_string(p)).optional_integer(value);
  }
  out.key("max").optional_integer(report.max_ms);
  out.close('}');

  // Most frequent first; ties by code, "no code" last.
  std::vector<std::pair<long long, long long>> errors(report.errors.begin(), report.errors.end());
  std::sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    if ((a.first == 0) != (b.first == 0)) return b.first == 0;
    return a.first < b.first;
  });
  out.key("errors").open('[');
  for (const auto& [code, count] : errors) {
    if (count == 0) continue;  // all of them in a part taken out
    out.open('{');
    out.key("code").optional_integer(code == 0 ? std::nullopt : std::optional<long long>(code));
    out.key("count").integer(count);
    const error_codes::ErrorCode* known = code == 0 ? nullptr : error_codes::find(static_cast<int>(code));
    out.key("description");
    if (known != nullptr) {
      out.text(known->description);
    } else {
      out.null();
    }
    out.close('}');
  }
  out.close(']');

  out.key("series").open('[');
  const std::vector<TimeRange> ranges = series_buckets(query.from, query.to, query.granularity);
  for (size_t i = 0; i < ranges.size(); ++i) {
    out.open('{');
    out.key("start").plain(time::format_iso8601(ranges[i].begin));
    out.key("end").plain(time::format_iso8601(ranges[i].end));
    write_outcomes(out, report.series[i]);
    out.close('}');
  }
  out.close(']');
  out.close('}');
  return out.take();
}

}  // namespace

http::Response delivery_metrics(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const MetricsQuery query = parse_metrics_query(request.query, time::now_micros());
  const Report report = compute(context.db(), auth.key->tenant_id, query);
  return http::Response::json(200, render(query, report));
}

}  // namespace wagate::api
