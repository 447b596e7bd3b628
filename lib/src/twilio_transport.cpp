// twilio_transport.cpp — HTTP requests to Twilio's REST API over libcurl: one at a time, or many in flight.
#include "wagate/twilio_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "wagate/error.hpp"

namespace wagate::twilio {
namespace {

constexpr const char* kUserAgent = "wagate/1";

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct MultiDeleter {
  void operator()(CURLM* handle) const noexcept { curl_multi_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

bool is_connect_phase_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return true;
    default:
      return false;
  }
}

Failure failure_of(CURLcode code) {
  if (code == CURLE_OK) return Failure::None;
  if (is_connect_phase_error(code)) return Failure::Connect;
  if (code == CURLE_OPERATION_TIMEDOUT) return Failure::Timeout;
  if (code == CURLE_ABORTED_BY_CALLBACK) return Failure::Aborted;
  return Failure::Other;
}

// Collects a response body up to a limit; a larger one aborts the transfer
// (libcurl reports CURLE_WRITE_ERROR) rather than growing without bound.
struct Sink {
  std::string body;
  size_t limit = 0;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * count;
  if (sink->body.size() + bytes > sink->limit) return 0;
  sink->body.append(data, bytes);
  return bytes;
}

using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

Slist request_headers(const Request& request) {
  curl_slist* list = nullptr;
  const auto add = [&list](const char* header) {
    curl_slist* next = curl_slist_append(list, header);
    if (next == nullptr) {
      curl_slist_free_all(list);
      throw HttpError("libcurl: out of memory building request headers");
    }
    list = next;
  };
  add("Accept: application/json");
  // No "Expect: 100-continue" round trip before the body.
  add("Expect:");
  if (request.method == "POST") add("Content-Type: application/x-www-form-urlencoded");
  if (!request.authorization.empty()) {
    const Secret header("Authorization: " + std::string(request.authorization.reveal()));
    add(header.reveal().data());  // a Secret's bytes end in the string's NUL
  }
  return Slist(list);
}

// Every option a request needs; the handle is fresh or reset. `body` must
// stay alive until the transfer ends (libcurl does not copy it).
void configure(CURL* handle, const Request& request, const std::string& body, const TransportOptions& options,
               curl_slist* headers, Sink* sink, char* error_buffer) {
  error_buffer[0] = '\0';
  const long timeout_ms = static_cast<long>(options.timeout.count());
  const long connect_ms = static_cast<long>(std::min(options.connect_timeout, options.timeout).count());
  bool ok = curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str()) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
  // A connection idle this long may be closed by the server just as a
  // request is written on it, and libcurl would then send it again on a new
  // one: see docs/sending.md, "Known limits".
  ok = ok && curl_easy_setopt(handle, CURLOPT_MAXAGE_CONN, 30L) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_USERAGENT, kUserAgent) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_body) == CURLE_OK;
  ok = ok && curl_easy_setopt(handle, CURLOPT_WRITEDATA, sink) == CURLE_OK;
  if (!options.ca_file.empty()) ok = ok && curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_file.c_str()) == CURLE_OK;
  if (request.method == "POST") {
    ok = ok && curl_easy_setopt(handle, CURLOPT_POST, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())) ==
                   CURLE_OK;
    ok = ok && curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str()) == CURLE_OK;
  } else {
    ok = ok && curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L) == CURLE_OK;
  }
  if (!ok) throw HttpError("libcurl: cannot set up a request handle");
}

// Fills everything but the body from a finished handle.
void read_info(CURL* handle, CURLcode code, const char* error_buffer, Response& response) {
  response.failure = failure_of(code);
  if (code != CURLE_OK) {
    response.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  response.http_status = status;
  // PRETRANSFER is stamped once connecting (and TLS) is done, just before
  // the request goes out: before it, nothing can have reached the server.
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(handle, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  response.request_sent = (pretransfer > 0 || status != 0) && response.failure != Failure::Connect;
  curl_off_t total = 0;
  curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME_T, &total);
  response.duration = std::chrono::milliseconds(total / 1000);
}

}  // namespace

Response perform(const Request& request, const TransportOptions& options) {
  Easy handle(curl_easy_init());
  if (!handle) throw HttpError("libcurl: cannot create a handle");
  const Slist headers = request_headers(request);
  Sink sink{{}, options.max_response_bytes};
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  configure(handle.get(), request, request.body, options, headers.get(), &sink, error_buffer.data());
  const CURLcode code = curl_easy_perform(handle.get());
  Response response;
  read_info(handle.get(), code, error_buffer.data(), response);
  response.body = std::move(sink.body);
  return response;
}

namespace {

// One request in flight and everything libcurl points into until it ends.
struct Transfer {
  unsigned long long tag = 0;
  Easy handle;
  Slist headers;
  std::string request_body;  // CURLOPT_POSTFIELDS points here until the transfer ends
  Sink sink;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

}  // namespace

struct Multi::State {
  TransportOptions options;
  std::unique_ptr<CURLM, MultiDeleter> multi;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::vector<Easy> idle_handles;  // reused: their DNS and TLS session caches stay warm

  Finished finish(CURL* handle, CURLcode code);
  std::vector<Finished> collect();
};

Multi::Multi(TransportOptions options, long max_connections) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->multi.reset(curl_multi_init());
  if (!state_->multi) throw HttpError("libcurl: cannot create a multi handle");
  // Enough cached connections for every transfer in flight, so that each
  // request after the first finds a kept-alive connection.
  curl_multi_setopt(state_->multi.get(), CURLMOPT_MAXCONNECTS, std::max(1L, max_connections));
}

Multi::~Multi() {
  for (auto& [handle, transfer] : state_->transfers) curl_multi_remove_handle(state_->multi.get(), handle);
}

void Multi::set_options(TransportOptions options) { state_->options = std::move(options); }

size_t Multi::in_flight() const { return state_->transfers.size(); }

void Multi::start(const Request& request, unsigned long long tag) {
  auto transfer = std::make_unique<Transfer>();
  transfer->tag = tag;
  if (!state_->idle_handles.empty()) {
    transfer->handle = std::move(state_->idle_handles.back());
    state_->idle_handles.pop_back();
    curl_easy_reset(transfer->handle.get());
  } else {
    transfer->handle.reset(curl_easy_init());
    if (!transfer->handle) throw HttpError("libcurl: cannot create a handle");
  }
  transfer->headers = request_headers(request);
  transfer->sink.limit = state_->options.max_response_bytes;
  // A copy the transfer owns: the caller's request may go away before the body is sent.
  transfer->request_body = request.body;
  configure(transfer->handle.get(), request, transfer->request_body, state_->options, transfer->headers.get(),
            &transfer->sink, transfer->error_buffer.data());
  CURL* handle = transfer->handle.get();
  if (curl_multi_add_handle(state_->multi.get(), handle) != CURLM_OK) {
    throw HttpError("libcurl: cannot add a transfer");
  }
  state_->transfers.emplace(handle, std::move(transfer));
}

Multi::Finished Multi::State::finish(CURL* handle, CURLcode code) {
  curl_multi_remove_handle(multi.get(), handle);
  const auto it = transfers.find(handle);
  std::unique_ptr<Transfer> transfer = std::move(it->second);
  transfers.erase(it);
  Finished finished;
  finished.tag = transfer->tag;
  read_info(handle, code, transfer->error_buffer.data(), finished.response);
  finished.response.body = std::move(transfer->sink.body);
  idle_handles.push_back(std::move(transfer->handle));
  return finished;
}

std::vector<Multi::Finished> Multi::State::collect() {
  std::vector<Finished> done;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* handle = message->easy_handle;
    const CURLcode code = message->data.result;
    if (transfers.contains(handle)) done.push_back(finish(handle, code));
  }
  return done;
}

std::vector<Multi::Finished> Multi::poll(std::chrono::milliseconds timeout) {
  int running = 0;
  curl_multi_perform(state_->multi.get(), &running);
  std::vector<Finished> done = state_->collect();
  if (!done.empty() || state_->transfers.empty() || timeout.count() <= 0) return done;
  curl_multi_poll(state_->multi.get(), nullptr, 0, static_cast<int>(timeout.count()), nullptr);
  curl_multi_perform(state_->multi.get(), &running);
  return state_->collect();
}

std::vector<Multi::Finished> Multi::abort_all() {
  std::vector<Finished> done = state_->collect();
  std::vector<CURL*> handles;
  handles.reserve(state_->transfers.size());
  for (const auto& [handle, transfer] : state_->transfers) handles.push_back(handle);
  for (CURL* handle : handles) {
    std::array<char, CURL_ERROR_SIZE>& buffer = state_->transfers.at(handle)->error_buffer;
    std::snprintf(buffer.data(), buffer.size(), "aborted by shutdown");
    done.push_back(state_->finish(handle, CURLE_ABORTED_BY_CALLBACK));
  }
  return done;
}

}  // namespace wagate::twilio
