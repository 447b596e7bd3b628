// sender.hpp — wagate-sender's event loop: queue in, per-sender rate limits, claims, Twilio transfers, outcomes recorded.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "feeder.hpp"
#include "queue.hpp"
#include "send_decision.hpp"
#include "send_store.hpp"
#include "tenant_directory.hpp"
#include "wagate/backoff.hpp"
#include "wagate/config.hpp"
#include "wagate/rate_limiter.hpp"
#include "wagate/send_queue.hpp"
#include "wagate/twilio_client.hpp"

namespace wagate::sender {

// The config values the loop uses, read once per snapshot.
struct Settings {
  std::string api_base;
  std::string ca_file;
  std::string status_callback;  // empty: none could be built (warned once)
  int default_mps = 80;
  int max_in_flight = 64;
  int max_attempts = 5;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds feeder_interval{1000};

  static Settings from(const config::Config& config);
};

// Which stream a message goes back to when the sweeper queues it again:
// messages.priority above the default (1) is high.
[[nodiscard]] send_queue::Priority priority_for(int priority);

// Single-threaded: one loop drives the Redis reads, the Postgres writes and
// every transfer (curl multi), so it needs no locks and stays on one core.
class Sender {
 public:
  // stop_requests counts SIGTERM/SIGINT: 1 drains (in-flight transfers
  // finish and are recorded), 2 aborts the transfers still running.
  Sender(config::Holder& holder, const std::atomic<int>& stop_requests);
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;
  ~Sender();

  // Runs until stopped; returns the process's exit code.
  int run();

 private:
  using Clock = std::chrono::steady_clock;

  struct Waiting {
    MessageKey key;
    twilio::OutboundMessage message;
    std::shared_ptr<const TenantInfo> tenant;
    send_queue::Entry entry;
    std::string sender_key;  // the From address or Messaging Service: what the rate limit is per
    double mps = 0;
  };
  struct SenderQueue {
    std::deque<Waiting> waiting;
    Clock::time_point defer_horizon{};  // next free slot for a deferred message
  };
  struct InFlight {
    Waiting item;
    int attempt = 0;
  };
  struct Done {
    SendRecord record;
    send_queue::Entry entry;
    twilio::Outcome outcome = twilio::Outcome::Unknown;
    long http_status = 0;
    long long duration_ms = 0;
    std::string transport_error;
  };

  void refresh_settings();
  void read_queue(Clock::time_point now, std::chrono::milliseconds block);
  void accept(std::vector<send_queue::Entry> entries, Clock::time_point now);
  std::vector<LoadedMessage> load(const std::vector<MessageKey>& keys, std::vector<bool>& bad);
  void dispatch(Clock::time_point now);
  void start(Waiting item, int attempt);
  void finish(unsigned long long tag, const twilio::Response& response);
  void complete(InFlight flight, const twilio::Response& response);
  void record(Waiting item, int attempt, SendDecision decision, const twilio::Response& response);
  void flush(Clock::time_point now);
  void sweep(Clock::time_point now);
  void feed(Clock::time_point now);
  void reclaim(Clock::time_point now);
  void release_waiting();
  void ack(std::vector<send_queue::Entry> entries);
  [[nodiscard]] int read_budget() const;
  [[nodiscard]] size_t waiting_count() const;
  [[nodiscard]] std::optional<Clock::time_point> next_rate_time(Clock::time_point now);
  void note_db_error(const std::exception& error, Clock::time_point now);
  void note_redis_error(const std::exception& error, Clock::time_point now);

  config::Holder& holder_;
  const std::atomic<int>& stop_requests_;
  std::shared_ptr<const config::Config> config_;
  Settings settings_;
  Secret master_key_;

  Queue queue_;
  SendStore store_;
  Feeder feeder_;
  TenantDirectory tenants_;
  rate_limiter::RedisBucket shared_bucket_;
  rate_limiter::Limiter limiter_;
  twilio::Multi multi_;
  backoff::Policy retry_policy_;
  std::mt19937_64 random_{std::random_device{}()};
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};  // where in [0, ceiling] a retry falls

  std::map<std::string, SenderQueue> senders_;  // by sender key
  std::string round_robin_after_;               // the sender served first last time goes last next time
  std::set<std::string> local_ids_;             // waiting or in flight here
  std::map<unsigned long long, InFlight> in_flight_;
  unsigned long long next_tag_ = 1;
  std::vector<Done> done_;                        // outcomes not yet recorded
  std::vector<send_queue::Entry> unacked_;        // recorded or skipped, XACK still to do

  bool stopping_ = false;
  bool aborted_ = false;
  bool groups_ready_ = false;
  bool warned_no_callback_ = false;
  Clock::time_point db_retry_at_{};
  Clock::time_point redis_retry_at_{};
  Clock::time_point next_sweep_{};
  Clock::time_point next_feed_{};
  Clock::time_point next_reclaim_{};
  Clock::time_point next_trim_{};
  Clock::time_point next_cleanup_{};
  Clock::time_point unrecorded_since_{};
};

}  // namespace wagate::sender
