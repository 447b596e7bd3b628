// callbacks.hpp — what the simulator posts like Twilio: signed status callbacks (in scenario order) and inbound webhooks.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ledger.hpp"
#include "scenarios.hpp"
#include "wagate/form.hpp"
#include "wagate/secret.hpp"

namespace wagate::sim {

inline constexpr std::string_view kApiVersion = "2010-04-01";
// The sender a Messaging Service picks when the request named no From.
inline constexpr std::string_view kServiceSender = "whatsapp:+14155238886";

// XE + 32 hex: the WhatsApp channel's ChannelInstallSid, stable per account.
[[nodiscard]] std::string channel_install_sid(std::string_view account_sid);

// Twilio's status-callback parameters for a WhatsApp message at this step:
// MessageSid, SmsSid, MessageStatus, SmsStatus, AccountSid, From, To,
// ApiVersion, ChannelPrefix, ChannelToAddress, ChannelInstallSid, plus
// MessagingServiceSid when the message used one and ErrorCode/ErrorMessage
// when the step carries an error.
[[nodiscard]] form::Params status_callback_params(const Message& message, const CallbackStep& step);

// An inbound WhatsApp message to inject (POST /sim/inbound).
struct InboundMessage {
  std::string account_sid;
  std::string from;  // whatsapp:+E164 ("whatsapp:" is added when missing)
  std::string to;
  std::string body;
  std::string profile_name;
  form::Params extra;  // added after the standard parameters, replacing any of the same name
};

// The webhook Twilio posts for an inbound WhatsApp message: MessageSid,
// SmsMessageSid, SmsSid, AccountSid, From, To, Body, NumMedia, NumSegments,
// ProfileName, WaId, SmsStatus=received, ApiVersion (+ extra).
[[nodiscard]] form::Params inbound_params(const InboundMessage& message, std::string_view message_sid);

// "SM" + 32 random hex digits.
[[nodiscard]] std::string new_message_sid();

// A form POST signed as Twilio signs it: X-Twilio-Signature over exactly this
// URL (fragment removed, as it is never sent) and the parameters.
struct SignedPost {
  std::string url;
  std::string body;
  std::string signature;
  std::string idempotency_token;  // I-Twilio-Idempotency-Token: the same for a retry or a repeat of one callback
};

[[nodiscard]] SignedPost sign_post(std::string_view url, const form::Params& params, std::string_view auth_token,
                                   std::string idempotency_token);

// Twilio's default retry policy `ct`: retry once when no connection could be
// made (DNS, TCP connect, TLS handshake), never after an HTTP answer.
[[nodiscard]] bool is_connect_failure(CURLcode code);

struct PostOptions {
  std::string ca_file;  // trusted for https callbacks; empty: the system's store
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{15'000};
};

struct PostResult {
  int http_status = 0;  // 0: no HTTP answer
  std::string error;    // libcurl's reason when there was none
  bool connect_failure = false;
};

// One blocking POST (the inbound webhook, answered to the caller of /sim/inbound).
[[nodiscard]] PostResult post_now(const SignedPost& post, const PostOptions& options);

struct CurlMultiDeleter {
  void operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

// Posts each message's status callbacks on one thread with many transfers in
// flight. The steps of one message go strictly one after another: a step is
// posted callback_delay after the previous one finished, so they arrive in
// the scenario's order. Each step moves the message's status in the ledger
// when it goes out (also when it has no StatusCallback and nothing is posted).
class Dispatcher {
 public:
  struct Options {
    PostOptions post;
    std::chrono::milliseconds callback_delay{20};
    size_t max_in_flight = 256;
  };

  Dispatcher(Ledger& ledger, Options options);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;
  ~Dispatcher();

  void start();
  // Drops what is not yet due; lets transfers in flight finish within grace.
  void stop(std::chrono::milliseconds grace);

  // The first step goes out callback_delay from now.
  void schedule(const Message& message, std::span<const CallbackStep> steps, Secret auth_token);
  // Forgets every step not yet posted (POST /sim/reset).
  void cancel_pending();
  // Steps scheduled and not yet finished.
  [[nodiscard]] size_t pending() const { return pending_steps_.load(); }

 private:
  using SteadyClock = std::chrono::steady_clock;
  struct Job;
  struct Transfer;
  struct Due {
    SteadyClock::time_point when;
    uint64_t job;
    bool operator>(const Due& other) const { return when > other.when; }
  };

  void run();
  void finish_step(uint64_t job_id, Job& job);

  Ledger& ledger_;
  Options options_;
  CurlMulti multi_;
  std::thread thread_;

  std::mutex mutex_;  // guards incoming_, cancel_generation_, stopping_
  std::vector<std::unique_ptr<Job>> incoming_;
  uint64_t cancel_generation_ = 0;
  bool stopping_ = false;
  std::chrono::milliseconds grace_{0};

  // Owned by the dispatcher thread.
  std::unordered_map<uint64_t, std::unique_ptr<Job>> jobs_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  uint64_t next_job_id_ = 1;
  uint64_t seen_generation_ = 0;
  size_t in_flight_ = 0;

  std::atomic<size_t> pending_steps_{0};
};

}  // namespace wagate::sim
