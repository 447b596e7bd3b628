// ledger.cpp — everything the simulator has created, answered and posted: messages, requests, deliveries.
#include "ledger.hpp"

#include <utility>

namespace wagate::sim {
namespace {

template <typename Record>
void keep_bounded(std::deque<Record>& records, Record record) {
  records.push_back(std::move(record));
  if (records.size() > Ledger::kMaxRecords) records.pop_front();
}

bool is_sent_status(std::string_view status) {
  return status == "sent" || status == "delivered" || status == "read" || status == "undelivered";
}

}  // namespace

int status_rank(std::string_view status) {
  if (status == "accepted" || status == "scheduled" || status == "queued") return 0;
  if (status == "sending") return 1;
  if (status == "sent") return 2;
  if (status == "delivered") return 3;
  if (status == "read") return 4;
  if (status == "undelivered") return 5;
  if (status == "failed" || status == "canceled") return 6;
  return 0;
}

void Ledger::record_create(CreateRecord record) {
  const std::lock_guard lock(mutex_);
  ++stats_.creates;
  ++stats_.creates_by_status[record.http_status];
  keep_bounded(creates_, std::move(record));
}

void Ledger::add_message(Message message) {
  const std::lock_guard lock(mutex_);
  ++stats_.messages;
  message_order_.push_back(message.sid);
  std::string sid = message.sid;
  messages_.insert_or_assign(std::move(sid), std::move(message));
  if (message_order_.size() > kMaxRecords) {
    messages_.erase(message_order_.front());
    message_order_.pop_front();
  }
}

std::optional<Message> Ledger::message(std::string_view account_sid, std::string_view sid) const {
  const std::lock_guard lock(mutex_);
  const auto it = messages_.find(std::string(sid));
  if (it == messages_.end() || it->second.account_sid != account_sid) return std::nullopt;
  return it->second;
}

std::vector<Message> Ledger::messages(std::string_view account_sid, const MessageFilter& filter) const {
  const std::lock_guard lock(mutex_);
  std::vector<Message> found;
  for (auto it = message_order_.rbegin(); it != message_order_.rend(); ++it) {
    const auto entry = messages_.find(*it);
    if (entry == messages_.end()) continue;
    const Message& message = entry->second;
    if (message.account_sid != account_sid) continue;
    if (!filter.to.empty() && message.to != filter.to) continue;
    if (!filter.from.empty() && message.from != filter.from) continue;
    if (filter.sent_on_or_after || filter.sent_before) {
      // As Twilio: a DateSent filter only finds messages that were sent.
      if (!message.sent) continue;
      if (filter.sent_on_or_after && *message.sent < *filter.sent_on_or_after) continue;
      if (filter.sent_before && *message.sent >= *filter.sent_before) continue;
    }
    found.push_back(message);
  }
  return found;
}

void Ledger::apply_step(std::string_view sid, const CallbackStep& step) {
  const std::lock_guard lock(mutex_);
  const auto it = messages_.find(std::string(sid));
  if (it == messages_.end()) return;
  Message& message = it->second;
  const Clock::time_point now = Clock::now();
  if (is_sent_status(step.status) && !message.sent) message.sent = now;
  if (status_rank(step.status) <= status_rank(message.status)) return;
  message.status = std::string(step.status);
  if (status_rank(step.status) >= status_rank("delivered") && step.status != "canceled" && !message.final_at) {
    message.final_at = now;
  }
  message.error_code = step.error_code;
  message.error_message = std::string(step.error_message);
  message.updated = now;
}

void Ledger::record_callback(DeliveryRecord record) {
  const std::lock_guard lock(mutex_);
  ++stats_.callbacks_by_status[record.http_status];
  if (record.http_status >= 200 && record.http_status < 300) {
    ++stats_.callbacks_sent;
  } else {
    ++stats_.callbacks_failed;
  }
  keep_bounded(callbacks_, std::move(record));
}

void Ledger::record_inbound(DeliveryRecord record) {
  const std::lock_guard lock(mutex_);
  ++stats_.inbound_sent;
  keep_bounded(inbound_, std::move(record));
}

int Ledger::count_attempt(std::string_view to) {
  const std::lock_guard lock(mutex_);
  return ++attempts_[std::string(to)];
}

std::vector<CreateRecord> Ledger::creates(std::string_view to) const {
  const std::lock_guard lock(mutex_);
  std::vector<CreateRecord> found;
  for (const CreateRecord& record : creates_) {
    if (to.empty() || record.to == to) found.push_back(record);
  }
  return found;
}

std::vector<DeliveryRecord> Ledger::callbacks(std::string_view sid) const {
  const std::lock_guard lock(mutex_);
  std::vector<DeliveryRecord> found;
  for (const DeliveryRecord& record : callbacks_) {
    if (sid.empty() || record.sid == sid) found.push_back(record);
  }
  return found;
}

std::vector<DeliveryRecord> Ledger::inbound() const {
  const std::lock_guard lock(mutex_);
  return {inbound_.begin(), inbound_.end()};
}

LedgerStats Ledger::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

void Ledger::reset() {
  const std::lock_guard lock(mutex_);
  messages_.clear();
  message_order_.clear();
  creates_.clear();
  callbacks_.clear();
  inbound_.clear();
  attempts_.clear();
  stats_ = {};
}

}  // namespace wagate::sim
