// ledger.hpp — everything the simulator has created, answered and posted: messages, requests, deliveries.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scenarios.hpp"
#include "wagate/form.hpp"

namespace wagate::sim {

using Clock = std::chrono::system_clock;

// A Message resource as Twilio keeps it.
struct Message {
  std::string sid;
  std::string account_sid;
  std::string from;                   // as given; empty when sent through a Messaging Service
  std::string to;
  std::string messaging_service_sid;  // empty when From was given
  std::string body;
  std::string status_callback;        // empty: the status advances but nothing is posted
  int num_media = 0;
  std::string scenario;
  std::string status;  // queued (accepted with a Messaging Service), then as its callbacks go out
  int error_code = 0;  // 0: none
  std::string error_message;
  Clock::time_point created;
  Clock::time_point updated;
  std::optional<Clock::time_point> sent;
  // Its first final status (delivered, read, undelivered, failed): Twilio
  // prices a message some time after it.
  std::optional<Clock::time_point> final_at;
};

// One POST to Messages.json, whatever its answer.
struct CreateRecord {
  Clock::time_point time;
  std::string account_sid;
  std::string to;
  form::Params params;
  int http_status = 0;
  int error_code = 0;  // Twilio's code of an error answer, 0 for a 201
  std::string sid;     // empty when nothing was created
};

// One POST the simulator made: a status callback or an inbound-message webhook.
struct DeliveryRecord {
  Clock::time_point time;
  std::string sid;
  std::string status;  // MessageStatus; "received" for an inbound message
  std::string url;
  int http_status = 0;  // 0: no HTTP answer
  std::string error;    // libcurl's reason when there was no HTTP answer
  int attempt = 1;      // 2 for the one retry after a connection failure
};

// Reconciliation filters of GET Messages.json; empty members do not filter.
struct MessageFilter {
  std::string to;
  std::string from;
  std::optional<Clock::time_point> sent_on_or_after;
  std::optional<Clock::time_point> sent_before;
};

// Where a status stands in a message's life: a later callback never moves a
// message back (a failure is final, read is past delivered).
[[nodiscard]] int status_rank(std::string_view status);

struct LedgerStats {
  size_t creates = 0;
  std::map<int, size_t> creates_by_status;
  size_t messages = 0;
  size_t callbacks_sent = 0;    // answered 2xx
  size_t callbacks_failed = 0;  // answered otherwise, or not at all (after the retry)
  std::map<int, size_t> callbacks_by_status;
  size_t inbound_sent = 0;
};

// Thread-safe. Keeps the most recent kMaxRecords of each kind (a long
// benchmark must not grow without bound); the counters in stats() cover all.
class Ledger {
 public:
  static constexpr size_t kMaxRecords = 200'000;

  void record_create(CreateRecord record);
  void add_message(Message message);
  // A copy of the message, when it exists and belongs to account_sid.
  [[nodiscard]] std::optional<Message> message(std::string_view account_sid, std::string_view sid) const;
  // The account's messages matching filter, newest first.
  [[nodiscard]] std::vector<Message> messages(std::string_view account_sid, const MessageFilter& filter) const;
  // Moves the message to step's status unless it is already past it.
  void apply_step(std::string_view sid, const CallbackStep& step);

  void record_callback(DeliveryRecord record);
  void record_inbound(DeliveryRecord record);

  // The attempt number (1, 2, ...) of this Messages.json request for `to`.
  [[nodiscard]] int count_attempt(std::string_view to);

  [[nodiscard]] std::vector<CreateRecord> creates(std::string_view to) const;  // all when to is empty
  [[nodiscard]] std::vector<DeliveryRecord> callbacks(std::string_view sid) const;
  [[nodiscard]] std::vector<DeliveryRecord> inbound() const;
  [[nodiscard]] LedgerStats stats() const;

  void reset();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Message> messages_;
  std::deque<std::string> message_order_;  // sids, oldest first
  std::deque<CreateRecord> creates_;
  std::deque<DeliveryRecord> callbacks_;
  std::deque<DeliveryRecord> inbound_;
  std::unordered_map<std::string, int> attempts_;
  LedgerStats stats_;
};

}  // namespace wagate::sim
