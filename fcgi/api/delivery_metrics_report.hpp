// delivery_metrics_report.hpp — what a delivery-metrics window adds up to, read from the rollups and the messages.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery_metrics_query.hpp"
#include "wagate/message_status.hpp"

namespace wagate::pg {
class Connection;
}

namespace wagate::api {

// Messages by status: the known outbound statuses in a fixed array (most
// rows are one of them), anything else by name.
class Tally {
 public:
  void add(std::string_view status, long long count) {
    messages_ += count;
    if (const std::optional<size_t> i = message_status::outbound_index(status)) {
      known_[*i] += count;
      return;
    }
    auto it = other_.find(status);
    if (it == other_.end()) it = other_.emplace(std::string(status), 0).first;
    it->second += count;
  }
  [[nodiscard]] long long messages() const { return messages_; }
  [[nodiscard]] long long of(std::string_view status) const {
    if (const std::optional<size_t> i = message_status::outbound_index(status)) return known_[*i];
    const auto it = other_.find(status);
    return it == other_.end() ? 0 : it->second;
  }
  [[nodiscard]] long long delivered() const { return of("delivered") + of("read"); }
  [[nodiscard]] long long failed() const { return of("failed") + of("undelivered"); }
  // Every status with a count, known ones in rank order first.
  template <typename Visit>
  void each(Visit&& visit) const {
    for (size_t i = 0; i < known_.size(); ++i) {
      if (known_[i] != 0) visit(message_status::kAll[i].name, known_[i]);
    }
    for (const auto& [status, count] : other_) {
      if (count != 0) visit(std::string_view(status), count);
    }
  }

 private:
  long long messages_ = 0;
  std::array<long long, message_status::kOutboundCount> known_{};
  std::map<std::string, long long, std::less<>> other_;
};

struct Report {
  Tally total;
  std::vector<Tally> series;
  std::map<long long, long long> errors;  // error code (0: none) -> failed or undelivered messages
  long long timed = 0;                    // messages with a delivery time
  long long delivery_ms_sum = 0;
  std::optional<long long> min_ms;
  std::optional<long long> max_ms;
  std::vector<std::pair<int, long long>> percentiles;  // percentile -> delivery ms
};

// The report of one window, exact: whole periods from the rollups, the rest
// (edges, hours changed since the last rollup) from the messages, all read
// in one snapshot.
[[nodiscard]] Report compute(pg::Connection& db, long long tenant_id, const MetricsQuery& query);

}  // namespace wagate::api
