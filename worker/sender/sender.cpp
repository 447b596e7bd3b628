// sender.cpp — wagate-sender's event loop: queue in, per-sender rate limits, claims, Twilio transfers, outcomes recorded.
#include "sender.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <thread>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"
#include "wagate/text.hpp"

namespace wagate::sender {
namespace {

using std::chrono::milliseconds;

// Most entries read per Redis command.
constexpr int kReadBatch = 200;
// A message waits here at most about this long for its sender's rate; what
// would wait longer goes back to Postgres (deferred) so that one busy sender
// number never holds up the others in the stream behind it.
constexpr double kMaxLocalWaitSeconds = 2.0;
// How much earlier than its turn a deferred message is due again: the
// sweeper's period plus the time to read it back.
constexpr double kDeferLeadSeconds = 1.5;
// Entries another consumer holds unacknowledged this long are taken over:
// it crashed or lost Redis. Longer than any local wait above.
constexpr milliseconds kReclaimIdle{30000};
constexpr auto kSweepEvery = std::chrono::seconds(1);
constexpr auto kReclaimEvery = std::chrono::seconds(5);
constexpr auto kTrimEvery = std::chrono::seconds(30);
constexpr auto kCleanupEvery = std::chrono::seconds(60);
constexpr auto kInfraBackoff = std::chrono::seconds(1);
constexpr int kSweepBatch = 500;
// How much earlier than the group's read position a message must have been
// queued to count as read: covers the clocks of Postgres (created_at,
// requeued_at) and Redis (entry ids) disagreeing, and the time between a
// row's timestamp and its XADD.
constexpr long long kReadPositionSlackMs = 5000;
// After a drain is asked for, outcomes that cannot be recorded are kept
// (and retried) this long before the process gives up and exits non-zero:
// their messages stay 'dispatching' and wagate-maint resolves them.
constexpr auto kUnrecordedGiveUp = std::chrono::seconds(30);

}  // namespace

Settings Settings::from(const config::Config& config) {
  Settings settings;
  settings.api_base = config.str("twilio_api_base");
  settings.ca_file = config.str("twilio_ca_file");
  settings.status_callback =
      twilio::status_callback_url(config.str("status_callback_url"), config.str("public_base_url"));
  settings.default_mps = static_cast<int>(config.integer("sender_mps"));
  settings.max_in_flight = static_cast<int>(config.integer("sender_max_in_flight"));
  settings.max_attempts = static_cast<int>(config.integer("send_max_attempts"));
  settings.timeout = milliseconds(config.integer("send_timeout_ms"));
  settings.feeder_interval = milliseconds(config.integer("feeder_interval_ms"));
  return settings;
}

send_queue::Priority priority_for(int priority) {
  return priority > 1 ? send_queue::Priority::High : send_queue::Priority::Normal;
}

namespace {
twilio::TransportOptions transport_options(const Settings& settings) {
  twilio::TransportOptions options;
  options.timeout = settings.timeout;
  options.connect_timeout = std::min(settings.timeout, milliseconds(5000));
  options.ca_file = settings.ca_file;
  options.max_response_bytes = 1024 * 1024;
  return options;
}
}  // namespace

Sender::Sender(config::Holder& holder, const std::atomic<int>& stop_requests)
    : holder_(holder),
      stop_requests_(stop_requests),
      config_(holder.current()),
      settings_(Settings::from(*config_)),
      master_key_(config_->secret("master_key_file").empty()
                      ? Secret()
                      : crypto::master_key_from(config_->secret("master_key_file").reveal())),
      queue_(config_->str("redis_url"), consumer_name()),
      store_(config_->str("pg_dsn")),
      feeder_(config_->str("pg_dsn")),
      shared_bucket_(queue_.client()),
      limiter_(&shared_bucket_),
      multi_(transport_options(settings_), settings_.max_in_flight) {
  if (master_key_.empty()) throw ConfigError("master_key_file is not set: tenant credentials cannot be opened");
}

Sender::~Sender() = default;

void Sender::refresh_settings() {
  if (!holder_.reload_if_requested()) return;
  config_ = holder_.current();
  settings_ = Settings::from(*config_);
  multi_.set_options(transport_options(settings_));
  log::set_level(log::parse_level(config_->str("log_level")));
  warned_no_callback_ = false;
  log::info("config_reloaded").kv("process", "wagate-sender");
}

size_t Sender::waiting_count() const {
  size_t count = 0;
  for (const auto& [key, queue] : senders_) count += queue.waiting.size();
  return count;
}

int Sender::read_budget() const {
  const long long room = 2LL * settings_.max_in_flight - static_cast<long long>(in_flight_.size()) -
                         static_cast<long long>(waiting_count());
  return static_cast<int>(std::clamp<long long>(room, 0, kReadBatch));
}

void Sender::note_db_error(const std::exception& error, Clock::time_point now) {
  if (now >= db_retry_at_) log::warning("postgres_unavailable").kv("process", "wagate-sender").kv("error", error.what());
  db_retry_at_ = now + kInfraBackoff;
}

void Sender::note_redis_error(const std::exception& error, Clock::time_point now) {
  if (now >= redis_retry_at_) log::warning("redis_unavailable").kv("process", "wagate-sender").kv("error", error.what());
  redis_retry_at_ = now + kInfraBackoff;
  groups_ready_ = false;
}

void Sender::ack(std::vector<send_queue::Entry> entries) {
  for (auto& entry : entries) unacked_.push_back(std::move(entry));
  if (unacked_.empty() || Clock::now() < redis_retry_at_) return;
  try {
    queue_.ack(unacked_);
    unacked_.clear();
  } catch (const RedisError& e) {
    // Unacknowledged entries are harmless: whoever reclaims one finds its
    // message already claimed or done in Postgres and skips it.
    note_redis_error(e, Clock::now());
  }
}

void Sender::read_queue(Clock::time_point now, milliseconds block) {
  const int budget = read_budget();
  if (stopping_ || budget <= 0 || now < redis_retry_at_ || now < db_retry_at_) {
    if (block.count() > 0) std::this_thread::sleep_for(block);
    return;
  }
  std::vector<send_queue::Entry> entries;
  try {
    if (!groups_ready_) {
      queue_.ensure_groups();
      groups_ready_ = true;
    }
    entries = queue_.read(budget, block);
  } catch (const RedisError& e) {
    note_redis_error(e, now);
    return;
  }
  if (!entries.empty()) accept(std::move(entries), Clock::now());
}

std::vector<LoadedMessage> Sender::load(const std::vector<MessageKey>& keys, std::vector<bool>& bad) {
  bad.assign(keys.size(), false);
  try {
    return store_.load(keys);
  } catch (const pg::QueryError& e) {
    // One malformed entry (a created_at Postgres cannot read: SQLSTATE
    // class 22) must not block the batch: load one by one and drop the
    // ones refused.
    if (!e.sqlstate().starts_with("22")) throw;
    if (keys.size() == 1) {
      bad[0] = true;
      return {};
    }
  }
  std::vector<LoadedMessage> loaded;
  for (size_t i = 0; i < keys.size(); ++i) {
    try {
      for (auto& message : store_.load({keys[i]})) {
        message.input_index = i;
        loaded.push_back(std::move(message));
      }
    } catch (const pg::QueryError& e) {
      if (!e.sqlstate().starts_with("22")) throw;
      bad[i] = true;
    }
  }
  return loaded;
}

void Sender::accept(std::vector<send_queue::Entry> entries, Clock::time_point now) {
  std::vector<send_queue::Entry> skipped;
  std::vector<send_queue::Entry> candidates;
  for (auto& entry : entries) {
    if (entry.tenant_id <= 0 || !text::is_uuid(entry.message_id) || entry.created_at.empty()) {
      log::warning("send_entry_invalid").kv("stream", entry.stream).kv("entry", entry.stream_id);
      skipped.push_back(std::move(entry));
      continue;
    }
    entry.message_id = text::lower(entry.message_id);
    // Seen twice (the sweeper queued it again while it waited here): the
    // copy already here will be acknowledged with its own entry.
    if (local_ids_.contains(entry.message_id)) {
      skipped.push_back(std::move(entry));
      continue;
    }
    candidates.push_back(std::move(entry));
  }
  std::vector<MessageKey> keys;
  keys.reserve(candidates.size());
  for (const auto& entry : candidates) keys.push_back({entry.tenant_id, entry.created_at, entry.message_id});

  std::vector<LoadedMessage> loaded;
  std::vector<bool> bad;
  try {
    loaded = load(keys, bad);
  } catch (const DbError& e) {
    // Left unacknowledged: they come back through reclaim once Postgres is.
    note_db_error(e, now);
    ack(std::move(skipped));
    return;
  }
  // In the order read (high priority first, then by age), whatever order
  // Postgres returned the rows in.
  std::sort(loaded.begin(), loaded.end(),
            [](const LoadedMessage& a, const LoadedMessage& b) { return a.input_index < b.input_index; });
  std::vector<bool> sendable(candidates.size(), false);
  std::vector<std::pair<MessageKey, milliseconds>> deferred;
  for (auto& message : loaded) {
    const size_t index = message.input_index;
    if (index >= candidates.size() || sendable[index] || local_ids_.contains(message.key.id)) continue;
    std::shared_ptr<const TenantInfo> tenant;
    try {
      tenant = store_.tenant(tenants_, master_key_, message.key.tenant_id);
    } catch (const DbError& e) {
      note_db_error(e, now);
      continue;  // unacknowledged: reclaimed later
    } catch (const Error& e) {
      // The master key does not open this tenant's token: nothing can be
      // sent for it until an operator fixes that. Try again in a minute.
      log::error("tenant_credentials_unusable").kv("tenant", message.key.tenant_id).kv("error", e.what());
      deferred.emplace_back(message.key, milliseconds(60000));
      sendable[index] = true;
      skipped.push_back(candidates[index]);
      continue;
    }
    sendable[index] = true;
    if (!tenant) {
      skipped.push_back(candidates[index]);
      continue;
    }
    Waiting item;
    item.key = message.key;
    item.entry = candidates[index];
    item.tenant = tenant;
    item.message.to = message.to;
    item.message.body = message.body;
    item.message.content_sid = message.content_sid;
    item.message.content_variables = message.content_variables;
    item.message.media_urls = message.media_urls;
    item.message.validity_period_s = message.validity_period_s;
    if (!message.from.empty()) {
      item.message.from = message.from;
    } else if (!tenant->tenant.messaging_service_sid.empty()) {
      item.message.messaging_service_sid = tenant->tenant.messaging_service_sid;
    } else {
      item.message.from = tenant->tenant.whatsapp_from;
    }
    item.sender_key = !item.message.from.empty() ? twilio::whatsapp_address(item.message.from)
                                                 : item.message.messaging_service_sid;
    item.mps = static_cast<double>(tenant->rate_limit_mps.value_or(settings_.default_mps));
    SenderQueue& queue = senders_[item.sender_key];
    const auto cap = static_cast<size_t>(std::max(1.0, std::ceil(item.mps * kMaxLocalWaitSeconds)));
    if (!item.sender_key.empty() && queue.waiting.size() >= cap) {
      // Its sender has more waiting than it can send in a while: back to
      // Postgres, due when its turn should come, one slot after another,
      // and a little early so that the sweeper (once a second) has it back
      // here before the messages waiting now are all sent.
      const auto slot = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / item.mps));
      const double drained_in = static_cast<double>(queue.waiting.size()) / item.mps - kDeferLeadSeconds;
      const Clock::time_point earliest =
          now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::max(0.0, drained_in)));
      queue.defer_horizon = std::max(queue.defer_horizon, earliest) + slot;
      deferred.emplace_back(item.key, std::chrono::duration_cast<milliseconds>(queue.defer_horizon - now));
      skipped.push_back(std::move(item.entry));
      continue;
    }
    local_ids_.insert(item.key.id);
    queue.waiting.push_back(std::move(item));
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (bad[i]) log::warning("send_entry_invalid").kv("stream", candidates[i].stream).kv("entry", candidates[i].stream_id);
    // Not sendable now (claimed elsewhere, done, not due, or malformed):
    // Postgres says so, and the sweeper brings it back if it ever is.
    if (!sendable[i] && (bad[i] || now >= db_retry_at_)) skipped.push_back(candidates[i]);
  }
  if (!deferred.empty()) {
    try {
      store_.defer(deferred);
    } catch (const DbError& e) {
      note_db_error(e, now);
    }
  }
  ack(std::move(skipped));
}

std::optional<Sender::Clock::time_point> Sender::next_rate_time(Clock::time_point now) {
  std::optional<Clock::time_point> next;
  for (const auto& [key, queue] : senders_) {
    if (queue.waiting.empty()) continue;
    const Clock::time_point at = key.empty() ? now : limiter_.next_time(key, now);
    if (!next || at < *next) next = at;
  }
  return next;
}

void Sender::dispatch(Clock::time_point now) {
  if (stopping_ || now < db_retry_at_) return;
  long long capacity = settings_.max_in_flight - static_cast<long long>(in_flight_.size());
  if (capacity <= 0) return;
  std::vector<Waiting> picked;
  // Round robin over sender numbers: the one served first last time is
  // served last this time, so a busy number cannot take every free slot.
  std::vector<std::string> order;
  for (const auto& [key, queue] : senders_) {
    if (!queue.waiting.empty()) order.push_back(key);
  }
  std::rotate(order.begin(), std::upper_bound(order.begin(), order.end(), round_robin_after_), order.end());
  for (const std::string& key : order) {
    if (capacity <= 0) break;
    SenderQueue& queue = senders_[key];
    const long long wanted = std::min<long long>(capacity, static_cast<long long>(queue.waiting.size()));
    // A message without a sender is not sent at all (it fails below), so it
    // takes nothing from any limit.
    const long long granted = key.empty() ? wanted : limiter_.acquire(key, queue.waiting.front().mps, wanted, now);
    for (long long i = 0; i < granted; ++i) {
      picked.push_back(std::move(queue.waiting.front()));
      queue.waiting.pop_front();
    }
    capacity -= granted;
    if (granted > 0) round_robin_after_ = key;
  }
  if (picked.empty()) return;
  std::vector<MessageKey> keys;
  keys.reserve(picked.size());
  for (const auto& item : picked) keys.push_back(item.key);
  std::map<std::string, Claim> claimed;
  try {
    claimed = store_.claim(keys);
  } catch (const DbError& e) {
    note_db_error(e, now);
    // Nothing was claimed: back to the front of their queues, in order.
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
      senders_[it->sender_key].waiting.push_front(std::move(*it));
    }
    return;
  }
  std::vector<send_queue::Entry> skipped;
  for (auto& item : picked) {
    const auto found = claimed.find(item.key.id);
    if (found == claimed.end()) {
      // Another sender claimed it first, or it is done: not ours to send.
      local_ids_.erase(item.key.id);
      skipped.push_back(std::move(item.entry));
      continue;
    }
    const DispatchPlan plan = plan_dispatch(found->second.outcome, !item.sender_key.empty(),
                                            !item.tenant->tenant.auth_tokens.empty());
    if (plan.step == DispatchStep::Cancel) {
      // The claim already made it final: nothing to send or record, only
      // its entry to acknowledge. Its rate token stays spent (rare).
      log::info("send_canceled")
          .kv("tenant", item.key.tenant_id)
          .kv("message_id", item.key.id)
          .kv("status", "canceled")
          .kv("reason", "recipient_opted_out");
      metrics::count_send("canceled_opted_out");
      local_ids_.erase(item.key.id);
      skipped.push_back(std::move(item.entry));
      continue;
    }
    const int attempt = found->second.attempt;
    if (plan.step == DispatchStep::Refuse) {
      record(std::move(item), attempt, refused(plan.why), twilio::Response{});
      continue;
    }
    start(std::move(item), attempt);
  }
  ack(std::move(skipped));
}

void Sender::start(Waiting item, int attempt) {
  item.message.status_callback = settings_.status_callback;
  if (item.message.status_callback.empty() && !warned_no_callback_) {
    warned_no_callback_ = true;
    log::warning("status_callback_unset")
        .kv("hint", "set status_callback_url or public_base_url: without it Twilio reports no delivery status");
  }
  const tenants::Tenant& tenant = item.tenant->tenant;
  const twilio::Credentials credentials{tenant.account_sid, tenant.auth_tokens.front()};
  const twilio::Request request = twilio::create_message(settings_.api_base, credentials, item.message);
  const unsigned long long tag = next_tag_++;
  try {
    multi_.start(request, tag);
  } catch (const HttpError& e) {
    // libcurl refused the handle: nothing left this host.
    complete(InFlight{std::move(item), attempt}, never_sent(e.what()));
    return;
  }
  in_flight_.emplace(tag, InFlight{std::move(item), attempt});
}

void Sender::finish(unsigned long long tag, const twilio::Response& response) {
  auto node = in_flight_.extract(tag);
  if (node.empty()) return;
  metrics::observe_twilio_request(response.duration);
  complete(std::move(node.mapped()), response);
}

void Sender::complete(InFlight flight, const twilio::Response& response) {
  const Attempt attempt{flight.attempt, settings_.max_attempts, retry_policy_, jitter_(random_)};
  record(std::move(flight.item), flight.attempt, decide_send(response, attempt), response);
}

void Sender::record(Waiting item, int attempt, SendDecision decision, const twilio::Response& response) {
  Done done;
  done.record.key = item.key;
  done.record.attempt = attempt;
  done.record.outcome = std::string(decision.record_outcome());
  done.record.sid = std::move(decision.sid);
  done.record.error_code = decision.error_code;
  done.record.error_message = std::move(decision.error_message);
  done.record.retry_in_ms = decision.retry_in.count();
  done.record.last_error = std::move(decision.last_error);
  done.entry = std::move(item.entry);
  done.outcome = decision.outcome;
  done.http_status = response.http_status;
  done.duration_ms = response.duration.count();
  done.transport_error = std::move(decision.transport_error);
  local_ids_.erase(item.key.id);
  metrics::count_send(done.record.outcome);
  done_.push_back(std::move(done));
}

void Sender::flush(Clock::time_point now) {
  if (done_.empty() || now < db_retry_at_) return;
  std::vector<SendRecord> records;
  records.reserve(done_.size());
  for (const Done& done : done_) records.push_back(done.record);
  std::vector<std::string> results;
  try {
    results = store_.record(records);
  } catch (const DbError& e) {
    // Kept and retried: the claim stays 'dispatching' until then, so
    // nothing sends these again meanwhile.
    note_db_error(e, now);
    if (unrecorded_since_ == Clock::time_point{}) unrecorded_since_ = now;
    return;
  }
  unrecorded_since_ = {};
  std::vector<send_queue::Entry> entries;
  for (size_t i = 0; i < done_.size(); ++i) {
    Done& done = done_[i];
    const std::string& result = results[i];
    const bool conflict = result == "sid_conflict";
    const bool bad = conflict || done.outcome == twilio::Outcome::Unknown;
    auto line = conflict ? log::error("send_result")
                : bad || done.outcome != twilio::Outcome::Created ? log::warning("send_result")
                                                                  : log::info("send_result");
    line.kv("tenant", done.record.key.tenant_id)
        .kv("message_id", done.record.key.id)
        .kv("attempt", done.record.attempt)
        .kv("sid", done.record.sid.empty() ? "-" : done.record.sid)
        .kv("http_status", done.http_status)
        .kv("outcome", twilio::outcome_name(done.outcome))
        .kv("status", done.record.outcome == "created" ? "queued" : done.record.outcome)
        .kv("record", result)
        .kv("dur_ms", done.duration_ms);
    if (done.record.error_code) line.kv("error_code", *done.record.error_code);
    if (!done.transport_error.empty()) line.kv("error", done.transport_error);
    entries.push_back(std::move(done.entry));
  }
  done_.clear();
  ack(std::move(entries));
}

void Sender::sweep(Clock::time_point now) {
  if (stopping_ || now < next_sweep_ || now < db_retry_at_ || now < redis_retry_at_) return;
  next_sweep_ = now + kSweepEvery;
  RequeueCutoff cutoff;
  try {
    const auto cutoff_for = [&](std::string_view stream) -> std::optional<long long> {
      const Queue::ReadPosition position = queue_.read_position(stream);
      if (!position.entries_waiting) return std::nullopt;
      return position.delivered_through_ms - kReadPositionSlackMs;
    };
    cutoff.high_ms = cutoff_for(send_queue::kHighStream);
    cutoff.normal_ms = cutoff_for(send_queue::kNormalStream);
  } catch (const RedisError& e) {
    note_redis_error(e, now);
    return;
  }
  std::vector<DueMessage> due;
  try {
    due = store_.take_due(kSweepBatch, cutoff);
  } catch (const DbError& e) {
    note_db_error(e, now);
    return;
  }
  if (due.empty()) return;
  // A full batch means more are due: sweep again on the next turn.
  if (due.size() == static_cast<size_t>(kSweepBatch)) next_sweep_ = now;
  size_t queued = 0;
  try {
    for (const auto priority : {send_queue::Priority::High, send_queue::Priority::Normal}) {
      std::vector<send_queue::QueuedMessage> batch;
      for (const DueMessage& message : due) {
        if (priority_for(message.priority) != priority) continue;
        batch.push_back({message.key.id, message.key.tenant_id, message.key.created_at});
      }
      send_queue::enqueue_many(queue_.client(), priority, batch);
      queued += batch.size();
    }
  } catch (const RedisError& e) {
    // The rest are queued again in 30 s.
    note_redis_error(e, now);
  }
  log::info("send_requeued").kv("count", queued).kv("due", due.size());
}

void Sender::feed(Clock::time_point now) {
  if (stopping_ || now < next_feed_ || now < db_retry_at_ || now < redis_retry_at_) return;
  next_feed_ = now + settings_.feeder_interval;
  std::vector<FedMessage> fed;
  try {
    feeder_.pass(settings_.default_mps, settings_.feeder_interval, fed);
  } catch (const DbError& e) {
    // What was committed before the failure is in `fed`: queue it below.
    note_db_error(e, now);
  }
  if (fed.empty()) return;
  try {
    enqueue_fed(queue_.client(), fed);
  } catch (const RedisError& e) {
    // Committed as 'accepted' with next_attempt_at: the sweeper queues them.
    note_redis_error(e, now);
  }
}

void Sender::reclaim(Clock::time_point now) {
  if (stopping_ || now < next_reclaim_ || now < db_retry_at_ || now < redis_retry_at_) return;
  next_reclaim_ = now + kReclaimEvery;
  const int budget = read_budget();
  if (budget <= 0) return;
  std::vector<send_queue::Entry> entries;
  try {
    entries = queue_.reclaim(kReclaimIdle, budget);
  } catch (const RedisError& e) {
    note_redis_error(e, now);
    return;
  }
  if (entries.empty()) return;
  log::info("send_entries_reclaimed").kv("count", entries.size()).kv("consumer", queue_.consumer());
  accept(std::move(entries), now);
}

void Sender::release_waiting() {
  // Not claimed, so never sent: due again right away, for any sender.
  std::vector<std::pair<MessageKey, milliseconds>> messages;
  std::vector<send_queue::Entry> entries;
  for (auto& [key, queue] : senders_) {
    for (auto& item : queue.waiting) {
      messages.emplace_back(item.key, milliseconds(0));
      entries.push_back(std::move(item.entry));
      local_ids_.erase(item.key.id);
    }
    queue.waiting.clear();
  }
  if (messages.empty()) return;
  try {
    store_.defer(messages);
  } catch (const DbError& e) {
    // Their entries stay unacknowledged: another sender reclaims them.
    note_db_error(e, Clock::now());
    return;
  }
  log::info("send_released").kv("count", messages.size());
  ack(std::move(entries));
}

int Sender::run() {
  log::info("sender_started")
      .kv("consumer", queue_.consumer())
      .kv("max_in_flight", settings_.max_in_flight)
      .kv("sender_mps", settings_.default_mps);
  while (true) {
    refresh_settings();
    const int stops = stop_requests_.load();
    if (stops >= 1 && !stopping_) {
      stopping_ = true;
      log::info("stopping").kv("process", "wagate-sender").kv("in_flight", in_flight_.size());
      release_waiting();
    }
    if (stops >= 2 && !aborted_) {
      aborted_ = true;
      log::warning("stopping_fast").kv("process", "wagate-sender").kv("aborted", in_flight_.size());
      for (const auto& finished : multi_.abort_all()) finish(finished.tag, finished.response);
    }
    Clock::time_point now = Clock::now();
    if (stopping_ && in_flight_.empty()) {
      flush(now);
      if (done_.empty()) break;
      if (unrecorded_since_ != Clock::time_point{} && now - unrecorded_since_ > kUnrecordedGiveUp) {
        for (const Done& done : done_) {
          // The SID must not be lost: wagate-maint finds the message again
          // from Twilio's list, and this line lets an operator check it.
          log::error("send_result_unrecorded")
              .kv("tenant", done.record.key.tenant_id)
              .kv("message_id", done.record.key.id)
              .kv("sid", done.record.sid.empty() ? "-" : done.record.sid)
              .kv("outcome", twilio::outcome_name(done.outcome));
        }
        return 1;
      }
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
    // Idle, the blocking read is the loop's wait. Busy, reads do not block:
    // transfers (curl's poll) or the next rate token (a sleep) set the pace.
    // Redis checks a blocked read's timeout only about every 100 ms, too
    // coarse to wait for a token with.
    const bool idle = in_flight_.empty() && waiting_count() == 0 && done_.empty();
    read_queue(now, idle ? milliseconds(100) : milliseconds(0));
    now = Clock::now();
    dispatch(now);
    milliseconds wait = in_flight_.size() >= static_cast<size_t>(settings_.max_in_flight) ? milliseconds(50)
                                                                                         : milliseconds(10);
    if (const auto at = next_rate_time(now); at && now >= db_retry_at_) {
      wait = std::min(wait, std::chrono::ceil<milliseconds>(std::max(*at - now, Clock::duration::zero())));
    }
    if (!in_flight_.empty()) {
      // Wakes at once on network activity.
      for (const auto& finished : multi_.poll(wait)) finish(finished.tag, finished.response);
    } else if (!idle && wait.count() > 0 && (done_.empty() || now < db_retry_at_)) {
      std::this_thread::sleep_for(wait);
    }
    now = Clock::now();
    flush(now);
    if (!unacked_.empty()) ack({});
    sweep(now);
    feed(now);
    reclaim(now);
    if (now >= next_trim_ && now >= redis_retry_at_) {
      next_trim_ = now + kTrimEvery;
      try {
        queue_.trim();
      } catch (const RedisError& e) {
        note_redis_error(e, now);
      }
    }
    if (now >= next_cleanup_) {
      next_cleanup_ = now + kCleanupEvery;
      limiter_.forget_idle(now);
      std::erase_if(senders_, [&](const auto& item) {
        return item.second.waiting.empty() && item.second.defer_horizon < now;
      });
    }
  }
  if (!unacked_.empty()) ack({});
  log::info("stopped").kv("process", "wagate-sender");
  return 0;
}

}  // namespace wagate::sender
