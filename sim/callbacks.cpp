// callbacks.cpp — what the simulator posts like Twilio: signed status callbacks (in scenario order) and inbound webhooks.
#include "callbacks.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/log.hpp"
#include "wagate/twilio_signature.hpp"

namespace wagate::sim {
namespace {

using std::chrono::milliseconds;

struct CurlEasyDeleter {
  void operator()(CURL* easy) const noexcept { curl_easy_cleanup(easy); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlListDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

// The answer's body is not needed, only its status.
size_t discard_body(char*, size_t size, size_t count, void*) { return size * count; }

// The digits of +E164 without the "whatsapp:" prefix and the '+'.
std::string_view without_channel(std::string_view address) {
  if (address.substr(0, 9) == "whatsapp:") address.remove_prefix(9);
  return address;
}

std::string with_channel(std::string_view address) {
  if (address.substr(0, 9) == "whatsapp:") return std::string(address);
  return "whatsapp:" + std::string(address);
}

void append(CurlList& list, const std::string& header) {
  curl_slist* grown = curl_slist_append(list.get(), header.c_str());
  if (grown == nullptr) throw HttpError("curl_slist_append failed");
  static_cast<void>(list.release());
  list.reset(grown);
}

// A POST of post.body to post.url with Twilio's headers. The caller keeps
// post, headers and error alive until the transfer ends: libcurl does not copy them.
CurlEasy make_post(const SignedPost& post, CurlList& headers, char* error, const PostOptions& options) {
  CurlEasy easy(curl_easy_init());
  if (!easy) throw HttpError("curl_easy_init failed");
  CURL* handle = easy.get();
  error[0] = '\0';
  append(headers, "Content-Type: application/x-www-form-urlencoded");
  append(headers, "X-Twilio-Signature: " + post.signature);
  append(headers, "I-Twilio-Idempotency-Token: " + post.idempotency_token);
  append(headers, "User-Agent: TwilioProxy/1.1");
  append(headers, "Accept: */*");
  append(headers, "Expect:");  // no 100-continue round trip

  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_URL, post.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  // The callback goes where its URL says, never through a proxy from the environment.
  curl_easy_setopt(handle, CURLOPT_PROXY, "");
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, post.body.c_str());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post.body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  if (!options.ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_file.c_str());
  return easy;
}

// is_connect_failure, plus a timeout that struck before the connection (and,
// for https, the TLS handshake) was made.
bool connect_failed(CURL* easy, CURLcode code) {
  if (is_connect_failure(code)) return true;
  if (code != CURLE_OPERATION_TIMEDOUT) return false;
  curl_off_t connected = 0;
  curl_off_t handshaken = 0;
  const char* scheme = nullptr;
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected);
  curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &handshaken);
  curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);
  const bool tls = scheme != nullptr && std::string_view(scheme) == "HTTPS";
  return connected == 0 || (tls && handshaken == 0);
}

std::string error_text(CURLcode code, const char* buffer) {
  return buffer[0] != '\0' ? std::string(buffer) : std::string(curl_easy_strerror(code));
}

// The same token for a retry and for a repeated callback of one message and status.
std::string idempotency_token(const Message& message, const CallbackStep& step) {
  const std::string key = message.sid + "/" + std::string(step.status) + "/" + std::to_string(step.error_code);
  return crypto::hex(crypto::sha256(key)).substr(0, 32);
}

}  // namespace

std::string channel_install_sid(std::string_view account_sid) {
  return "XE" + crypto::hex(crypto::sha256("whatsapp-channel:" + std::string(account_sid))).substr(0, 32);
}

form::Params status_callback_params(const Message& message, const CallbackStep& step) {
  const std::string from = message.from.empty() ? std::string(kServiceSender) : message.from;
  form::Params params;
  // In the order Twilio posts them; receivers must not depend on it.
  params.add("ChannelPrefix", "whatsapp");
  params.add("ApiVersion", std::string(kApiVersion));
  params.add("MessageStatus", std::string(step.status));
  params.add("SmsSid", message.sid);
  params.add("SmsStatus", std::string(step.status));
  params.add("ChannelInstallSid", channel_install_sid(message.account_sid));
  params.add("To", message.to);
  params.add("From", from);
  params.add("MessageSid", message.sid);
  params.add("AccountSid", message.account_sid);
  params.add("ChannelToAddress", std::string(without_channel(message.to)));
  if (!message.messaging_service_sid.empty()) params.add("MessagingServiceSid", message.messaging_service_sid);
  if (step.error_code != 0) {
    params.add("ErrorCode", std::to_string(step.error_code));
    params.add("ErrorMessage", std::string(step.error_message));
  }
  return params;
}

form::Params inbound_params(const InboundMessage& message, std::string_view message_sid) {
  const std::string from = with_channel(message.from);
  const std::string to = with_channel(message.to);
  std::string wa_id(without_channel(from));
  if (!wa_id.empty() && wa_id.front() == '+') wa_id.erase(0, 1);

  form::Params standard;
  standard.add("SmsMessageSid", std::string(message_sid));
  standard.add("NumMedia", "0");
  standard.add("ProfileName", message.profile_name);
  standard.add("SmsSid", std::string(message_sid));
  standard.add("WaId", wa_id);
  standard.add("SmsStatus", "received");
  standard.add("Body", message.body);
  standard.add("To", to);
  standard.add("NumSegments", "1");
  standard.add("MessageSid", std::string(message_sid));
  standard.add("AccountSid", message.account_sid);
  standard.add("From", from);
  standard.add("ApiVersion", std::string(kApiVersion));

  form::Params params;
  for (const form::Param& param : standard.items()) {
    if (!message.extra.first(param.name)) params.add(param.name, param.value);
  }
  for (const form::Param& param : message.extra.items()) params.add(param.name, param.value);
  return params;
}

std::string new_message_sid() { return "SM" + crypto::hex(crypto::random_bytes(16)); }

SignedPost sign_post(std::string_view url, const form::Params& params, std::string_view auth_token,
                     std::string idempotency_token) {
  SignedPost post;
  post.url = std::string(url.substr(0, url.find('#')));
  post.body = form::build(params);
  post.signature = twilio::compute_signature(post.url, params, auth_token);
  post.idempotency_token = std::move(idempotency_token);
  return post;
}

bool is_connect_failure(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

PostResult post_now(const SignedPost& post, const PostOptions& options) {
  CurlList headers;
  char error[CURL_ERROR_SIZE];
  const CurlEasy easy = make_post(post, headers, error, options);
  const CURLcode code = curl_easy_perform(easy.get());
  PostResult result;
  if (code != CURLE_OK) {
    result.error = error_text(code, error);
    result.connect_failure = connect_failed(easy.get(), code);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
  result.http_status = static_cast<int>(status);
  return result;
}

// ---------------------------------------------------------------- Dispatcher

struct Dispatcher::Job {
  Message message;
  std::span<const CallbackStep> steps;
  Secret token;
  size_t next = 0;
  int attempt = 1;
  bool in_flight = false;
  bool cancelled = false;
};

struct Dispatcher::Transfer {
  uint64_t job = 0;
  SignedPost post;
  CurlList headers;
  char error[CURL_ERROR_SIZE] = "";
  CurlEasy easy;
};

Dispatcher::Dispatcher(Ledger& ledger, Options options)
    : ledger_(ledger), options_(std::move(options)), multi_(curl_multi_init()) {
  if (!multi_) throw HttpError("curl_multi_init failed");
  // Connections to the webhook host are kept and reused, as many as can be busy at once.
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_in_flight));
}

Dispatcher::~Dispatcher() { stop(milliseconds(0)); }

void Dispatcher::start() { thread_ = std::thread([this] { run(); }); }

void Dispatcher::stop(milliseconds grace) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      grace_ = grace;
    }
  }
  curl_multi_wakeup(multi_.get());
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::schedule(const Message& message, std::span<const CallbackStep> steps, Secret auth_token) {
  if (steps.empty()) return;
  auto job = std::make_unique<Job>();
  job->message = message;
  job->steps = steps;
  job->token = std::move(auth_token);
  pending_steps_ += steps.size();
  {
    const std::lock_guard lock(mutex_);
    incoming_.push_back(std::move(job));
  }
  curl_multi_wakeup(multi_.get());
}

void Dispatcher::cancel_pending() {
  {
    const std::lock_guard lock(mutex_);
    for (const auto& job : incoming_) pending_steps_ -= job->steps.size();
    incoming_.clear();
    ++cancel_generation_;
  }
  curl_multi_wakeup(multi_.get());
}

void Dispatcher::run() {
  // Transfers in flight by easy handle; only this thread touches them.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::optional<SteadyClock::time_point> stop_deadline;

  // Forgets every job not in flight; one in flight ends after its transfer.
  const auto drop_waiting = [this] {
    size_t dropped = 0;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job& job = *it->second;
      const size_t left = job.steps.size() - job.next;
      if (job.in_flight) {
        if (!job.cancelled) {
          job.cancelled = true;
          pending_steps_ -= left - 1;  // the step in flight is counted off when it ends
          dropped += left - 1;
        }
        ++it;
      } else {
        pending_steps_ -= left;
        dropped += left;
        it = jobs_.erase(it);
      }
    }
    due_ = {};
    return dropped;
  };

  while (true) {
    const SteadyClock::time_point now = SteadyClock::now();
    {
      const std::lock_guard lock(mutex_);
      if (seen_generation_ != cancel_generation_) {
        seen_generation_ = cancel_generation_;
        drop_waiting();
      }
      for (auto& job : incoming_) {
        const uint64_t id = next_job_id_++;
        due_.push(Due{now + options_.callback_delay, id});
        jobs_.emplace(id, std::move(job));
      }
      incoming_.clear();
      if (stopping_ && !stop_deadline) {
        stop_deadline = now + grace_;
        const size_t dropped = drop_waiting();
        if (dropped > 0) log::warning("callbacks_dropped_at_stop").kv("callbacks", dropped);
      }
    }
    if (stop_deadline && (in_flight_ == 0 || now >= *stop_deadline)) break;

    while (!stop_deadline && !due_.empty() && due_.top().when <= now && in_flight_ < options_.max_in_flight) {
      const uint64_t id = due_.top().job;
      due_.pop();
      const auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      Job& job = *it->second;
      const CallbackStep& step = job.steps[job.next];
      if (job.attempt == 1) ledger_.apply_step(job.message.sid, step);
      if (job.message.status_callback.empty()) {
        finish_step(id, job);
        continue;
      }
      auto transfer = std::make_unique<Transfer>();
      transfer->job = id;
      transfer->post = sign_post(job.message.status_callback, status_callback_params(job.message, step),
                                 job.token.reveal(), idempotency_token(job.message, step));
      try {
        transfer->easy = make_post(transfer->post, transfer->headers, transfer->error, options_.post);
      } catch (const HttpError& error) {
        log::error("callback_not_posted").kv("sid", job.message.sid).kv("error", error.what());
        finish_step(id, job);
        continue;
      }
      CURL* easy = transfer->easy.get();
      if (curl_multi_add_handle(multi_.get(), easy) != CURLM_OK) {
        log::error("callback_not_posted").kv("sid", job.message.sid).kv("error", "curl_multi_add_handle failed");
        finish_step(id, job);
        continue;
      }
      transfers.emplace(easy, std::move(transfer));
      job.in_flight = true;
      ++in_flight_;
    }

    // Sleep until the next step is due or a transfer needs attention; a
    // schedule() or stop() wakes the poll at once.
    long long wait_ms = 1000;
    if (!due_.empty() && in_flight_ < options_.max_in_flight) {
      const auto until = std::chrono::duration_cast<milliseconds>(due_.top().when - SteadyClock::now()).count();
      wait_ms = std::clamp<long long>(until, 0, 1000);
    }
    if (stop_deadline) wait_ms = std::min<long long>(wait_ms, 50);
    curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(wait_ms), nullptr);
    int running = 0;
    curl_multi_perform(multi_.get(), &running);

    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode result = message->data.result;
      const auto it = transfers.find(easy);
      if (it == transfers.end()) continue;
      const std::unique_ptr<Transfer> transfer = std::move(it->second);
      transfers.erase(it);
      curl_multi_remove_handle(multi_.get(), easy);
      --in_flight_;

      const auto job_it = jobs_.find(transfer->job);
      if (job_it == jobs_.end()) continue;
      Job& job = *job_it->second;
      job.in_flight = false;
      const CallbackStep& step = job.steps[job.next];
      long status = 0;
      if (result == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      const std::string error = result == CURLE_OK ? std::string() : error_text(result, transfer->error);

      if (!job.cancelled) {
        ledger_.record_callback(DeliveryRecord{Clock::now(), job.message.sid, std::string(step.status),
                                               transfer->post.url, static_cast<int>(status), error, job.attempt});
      }
      if (result != CURLE_OK && connect_failed(easy, result) && job.attempt == 1 && !job.cancelled &&
          !stop_deadline) {
        log::warning("callback_retry").kv("sid", job.message.sid).kv("status", step.status).kv("error", error);
        job.attempt = 2;
        due_.push(Due{SteadyClock::now() + options_.callback_delay, transfer->job});
        continue;
      }
      if (result != CURLE_OK || status < 200 || status >= 300) {
        // As Twilio by default: an answer other than 2xx is not retried.
        log::warning("callback_failed")
            .kv("sid", job.message.sid)
            .kv("status", step.status)
            .kv("http_status", static_cast<long long>(status))
            .kv("error", error);
      }
      finish_step(transfer->job, job);
    }
  }

  for (auto& [easy, transfer] : transfers) curl_multi_remove_handle(multi_.get(), easy);
  if (!transfers.empty()) log::warning("callbacks_cut_at_stop").kv("callbacks", transfers.size());
}

void Dispatcher::finish_step(uint64_t job_id, Job& job) {
  --pending_steps_;
  ++job.next;
  job.attempt = 1;
  if (job.next < job.steps.size() && !job.cancelled) {
    due_.push(Due{SteadyClock::now() + options_.callback_delay, job_id});
  } else {
    jobs_.erase(job_id);
  }
}

}  // namespace wagate::sim
