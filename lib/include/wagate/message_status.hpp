// message_status.hpp — every message status wagate knows, with its rank: the forward-only order of a message's life.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace wagate::message_status {

enum class Direction { Outbound, Inbound };

struct Status {
  std::string_view name;
  int rank;  // a callback moves a message only to a strictly higher rank
  Direction direction;
};

// The same table as wagate_status_rank() in sql/002_status_callbacks.sql
// (a unit test holds the two equal; the reasons for the order are there).
// Outbound ones in rank order, so that a list of them reads in the order a
// message moves. retrying, dispatching and unknown are wagate's own, before
// Twilio knows the outcome of a send.
inline constexpr std::array<Status, 16> kAll = {{
    {"accepted", 10, Direction::Outbound},
    {"scheduled", 11, Direction::Outbound},
    {"retrying", 12, Direction::Outbound},
    {"dispatching", 13, Direction::Outbound},
    {"queued", 20, Direction::Outbound},
    {"unknown", 21, Direction::Outbound},
    {"sending", 30, Direction::Outbound},
    {"sent", 40, Direction::Outbound},
    {"partially_delivered", 50, Direction::Outbound},
    {"undelivered", 60, Direction::Outbound},
    {"failed", 65, Direction::Outbound},
    {"canceled", 66, Direction::Outbound},
    {"delivered", 80, Direction::Outbound},
    {"read", 90, Direction::Outbound},
    {"receiving", 10, Direction::Inbound},
    {"received", 20, Direction::Inbound},
}};

// The outbound statuses (the first 14 of kAll), in rank order.
inline constexpr size_t kOutboundCount = 14;

// The entry for a status name; nullptr for one this version does not know.
[[nodiscard]] constexpr const Status* find(std::string_view name) {
  for (const Status& status : kAll) {
    if (status.name == name) return &status;
  }
  return nullptr;
}
[[nodiscard]] constexpr bool known(std::string_view name) { return find(name) != nullptr; }
[[nodiscard]] constexpr std::optional<int> rank(std::string_view name) {
  const Status* status = find(name);
  return status != nullptr ? std::optional<int>(status->rank) : std::nullopt;
}
// Index of an outbound status in kAll (its place in rank order), or nullopt.
[[nodiscard]] constexpr std::optional<size_t> outbound_index(std::string_view name) {
  for (size_t i = 0; i < kOutboundCount; ++i) {
    if (kAll[i].name == name) return i;
  }
  return std::nullopt;
}
// A final outcome the handset or the network reported as not delivered.
[[nodiscard]] constexpr bool is_failure(std::string_view name) { return name == "failed" || name == "undelivered"; }

}  // namespace wagate::message_status
