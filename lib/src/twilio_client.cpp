// twilio_client.cpp — Twilio's Messages resource over libcurl: requests, answers classified, many transfers in flight.
#include "wagate/twilio_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/json.hpp"

namespace wagate::twilio {
namespace {

constexpr std::string_view kApiVersionPath = "/2010-04-01/Accounts/";
constexpr const char* kUserAgent = "wagate/1";
constexpr int kTooManyRequests = 20429;
constexpr int kServiceUnavailable = 20503;

std::string_view trim_trailing_slashes(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return base;
}

std::string account_path(std::string_view account_sid) {
  return std::string(kApiVersionPath) + form::encode(account_sid);
}

std::string member_string(const json_t* object, const char* key) {
  return std::string(json::get_string(object, key).value_or(""));
}

// Twilio sends error codes as numbers; some proxies and older answers as strings.
std::optional<int> member_code(const json_t* object, const char* key) {
  const json_t* member = json_object_get(object, key);
  if (member == nullptr) return std::nullopt;
  if (json_is_integer(member)) {
    const json_int_t value = json_integer_value(member);
    if (value <= 0 || value > 999999) return std::nullopt;
    return static_cast<int>(value);
  }
  if (json_is_string(member)) {
    const std::string_view text(json_string_value(member), json_string_length(member));
    int value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

MessageResource resource_from(const json_t* object) {
  MessageResource message;
  message.sid = member_string(object, "sid");
  message.status = member_string(object, "status");
  message.to = member_string(object, "to");
  message.from = member_string(object, "from");
  message.messaging_service_sid = member_string(object, "messaging_service_sid");
  message.body = member_string(object, "body");
  message.direction = member_string(object, "direction");
  if (const auto created = json::get_string(object, "date_created")) message.date_created = parse_rfc2822(*created);
  message.error_code = member_code(object, "error_code");
  message.error_message = member_string(object, "error_message");
  return message;
}

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

// Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
void read_error_body(std::string_view body, SendResult& result) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return;
  result.error_code = member_code(parsed.value.get(), "code");
  result.error_message = member_string(parsed.value.get(), "message");
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
  response.curl_code = code;
  if (code != CURLE_OK) {
    response.curl_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  response.http_status = status;
  // PRETRANSFER is stamped once connecting (and TLS) is done, just before
  // the request goes out: before it, nothing can have reached the server.
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(handle, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  response.request_sent = pretransfer > 0 || status != 0;
  curl_off_t total = 0;
  curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME_T, &total);
  response.duration = std::chrono::milliseconds(total / 1000);
}

int month_number(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == name) return static_cast<int>(i);
  }
  return -1;
}

bool read_number(std::string_view& text, size_t digits, int& out) {
  if (text.size() < digits) return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return false;
    out = out * 10 + (text[i] - '0');
  }
  text.remove_prefix(digits);
  return true;
}

bool expect(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

}  // namespace

std::string whatsapp_address(std::string_view address) {
  const size_t colon = address.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    const std::string_view scheme = address.substr(0, colon);
    if (std::all_of(scheme.begin(), scheme.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      return std::string(address);
    }
  }
  return "whatsapp:" + std::string(address);
}

std::string messages_url(std::string_view api_base, std::string_view account_sid) {
  return std::string(trim_trailing_slashes(api_base)) + account_path(account_sid) + "/Messages.json";
}

Secret basic_authorization(const Credentials& credentials) {
  const Secret pair(credentials.account_sid + ":" + std::string(credentials.auth_token.reveal()));
  return Secret("Basic " + crypto::base64(pair.reveal()));
}

form::Params create_params(const OutboundMessage& message) {
  form::Params params;
  params.add("To", whatsapp_address(message.to));
  if (!message.from.empty()) {
    params.add("From", whatsapp_address(message.from));
  } else if (!message.messaging_service_sid.empty()) {
    params.add("MessagingServiceSid", message.messaging_service_sid);
  }
  if (!message.body.empty()) params.add("Body", message.body);
  if (!message.content_sid.empty()) {
    params.add("ContentSid", message.content_sid);
    if (!message.content_variables.empty()) params.add("ContentVariables", message.content_variables);
  }
  for (const std::string& url : message.media_urls) params.add("MediaUrl", url);
  if (!message.status_callback.empty()) params.add("StatusCallback", message.status_callback);
  return params;
}

Request create_message(std::string_view api_base, const Credentials& credentials, const OutboundMessage& message) {
  Request request;
  request.method = "POST";
  request.url = messages_url(api_base, credentials.account_sid);
  request.body = form::build(create_params(message));
  request.authorization = basic_authorization(credentials);
  return request;
}

Request fetch_message(std::string_view api_base, const Credentials& credentials, std::string_view sid) {
  Request request;
  request.method = "GET";
  request.url = std::string(trim_trailing_slashes(api_base)) + account_path(credentials.account_sid) +
                "/Messages/" + form::encode(sid) + ".json";
  request.authorization = basic_authorization(credentials);
  return request;
}

Request list_messages(std::string_view api_base, const Credentials& credentials, const ListFilter& filter) {
  form::Params query;
  if (!filter.to.empty()) query.add("To", whatsapp_address(filter.to));
  if (!filter.from.empty()) query.add("From", whatsapp_address(filter.from));
  if (filter.date_sent_after) query.add("DateSent>", iso8601_utc(*filter.date_sent_after));
  query.add("PageSize", std::to_string(std::clamp(filter.page_size, 1, 1000)));
  Request request;
  request.method = "GET";
  request.url = messages_url(api_base, credentials.account_sid) + "?" + form::build(query);
  request.authorization = basic_authorization(credentials);
  return request;
}

std::optional<Request> next_page(std::string_view api_base, const Credentials& credentials,
                                 std::string_view next_page_uri) {
  const std::string prefix = account_path(credentials.account_sid) + "/";
  if (!next_page_uri.starts_with(prefix) || next_page_uri.find_first_of(" \r\n\t#") != std::string_view::npos ||
      next_page_uri.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  Request request;
  request.method = "GET";
  request.url = std::string(trim_trailing_slashes(api_base)) + std::string(next_page_uri);
  request.authorization = basic_authorization(credentials);
  return request;
}

std::string status_callback_url(std::string_view configured, std::string_view public_base_url) {
  if (!configured.empty()) return std::string(configured);
  if (!public_base_url.empty()) return std::string(trim_trailing_slashes(public_base_url)) + std::string(kStatusRoute);
  return {};
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Created: return "created";
    case Outcome::Rejected: return "rejected";
    case Outcome::Retryable: return "retryable";
    case Outcome::Unknown: return "unknown";
  }
  return "unknown";
}

SendResult classify_create(const Response& response) {
  SendResult result;
  if (response.curl_code != CURLE_OK) {
    result.error_message = "transport: " + response.curl_error;
    // Nothing left this host: safe to send again.
    result.outcome = !response.request_sent || is_connect_phase_error(response.curl_code) ? Outcome::Retryable
                                                                                          : Outcome::Unknown;
    return result;
  }
  const long status = response.http_status;
  if (status >= 200 && status < 300) {
    const auto message = parse_message(response.body);
    if (message && !message->sid.empty()) {
      result.outcome = Outcome::Created;
      result.sid = message->sid;
      result.twilio_status = message->status;
      return result;
    }
    result.outcome = Outcome::Unknown;
    result.error_message = "HTTP " + std::to_string(status) + " without a message sid";
    return result;
  }
  read_error_body(response.body, result);
  if (result.error_message.empty()) result.error_message = "HTTP " + std::to_string(status);
  const bool not_processed = status == 429 || status == 503 || result.error_code == kTooManyRequests ||
                             result.error_code == kServiceUnavailable;
  // A 4xx means Twilio created nothing; the error-code table says whether
  // the same message can succeed later (a rate limit) or never will.
  const error_codes::ErrorCode* known = result.error_code ? error_codes::find(*result.error_code) : nullptr;
  if (not_processed && status >= 400) {
    result.outcome = Outcome::Retryable;
  } else if (status >= 400 && status < 500) {
    result.outcome = known != nullptr && known->retryable ? Outcome::Retryable : Outcome::Rejected;
  } else {
    // Another 5xx, a redirect, anything else: Twilio may have created it.
    result.outcome = Outcome::Unknown;
  }
  return result;
}

std::optional<MessageResource> parse_message(std::string_view body) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return std::nullopt;
  return resource_from(parsed.value.get());
}

std::optional<MessagePage> parse_message_page(std::string_view body) {
  const json::ParseResult parsed = json::parse(body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) return std::nullopt;
  const json_t* messages = json_object_get(parsed.value.get(), "messages");
  if (messages == nullptr || !json_is_array(messages)) return std::nullopt;
  MessagePage page;
  size_t index = 0;
  const json_t* item = nullptr;
  json_array_foreach(messages, index, item) {
    if (json_is_object(item)) page.messages.push_back(resource_from(item));
  }
  page.next_page_uri = member_string(parsed.value.get(), "next_page_uri");
  return page;
}

const MessageResource* find_lost_send(const LostSend& send, const std::vector<MessageResource>& listed,
                                      const std::vector<std::string>& taken) {
  const std::string to = whatsapp_address(send.to);
  const std::string from = send.from.empty() ? std::string() : whatsapp_address(send.from);
  const MessageResource* best = nullptr;
  for (const MessageResource& message : listed) {
    if (message.sid.empty() || !message.direction.starts_with("outbound")) continue;
    if (message.to != to) continue;
    if (!from.empty() ? message.from != from : message.messaging_service_sid != send.messaging_service_sid) continue;
    // Without a creation time the message cannot be placed after ours.
    if (!message.date_created || *message.date_created < send.not_before) continue;
    if (!send.body.empty() && message.body != send.body) continue;
    if (std::find(taken.begin(), taken.end(), message.sid) != taken.end()) continue;
    if (best == nullptr || *message.date_created < *best->date_created) best = &message;
  }
  return best;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc2822(std::string_view text) {
  if (const size_t comma = text.find(','); comma != std::string_view::npos) {
    text.remove_prefix(comma + 1);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  int day = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int offset = 0;
  const bool two_digit_day = text.size() > 1 && std::isdigit(static_cast<unsigned char>(text[1])) != 0;
  if (!read_number(text, two_digit_day ? 2 : 1, day) || !expect(text, ' ') || text.size() < 4) return std::nullopt;
  const int month = month_number(text.substr(0, 3));
  text.remove_prefix(3);
  if (month < 0 || !expect(text, ' ') || !read_number(text, 4, year) || !expect(text, ' ') ||
      !read_number(text, 2, hour) || !expect(text, ':') || !read_number(text, 2, minute) || !expect(text, ':') ||
      !read_number(text, 2, second) || !expect(text, ' ') || text.size() != 5 ||
      (text.front() != '+' && text.front() != '-')) {
    return std::nullopt;
  }
  const int sign = text.front() == '-' ? -1 : 1;
  text.remove_prefix(1);
  if (!read_number(text, 4, offset)) return std::nullopt;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t utc = timegm(&tm);
  const int offset_seconds = sign * ((offset / 100) * 3600 + (offset % 100) * 60);
  return std::chrono::system_clock::from_time_t(utc - offset_seconds);
}

std::string iso8601_utc(std::chrono::system_clock::time_point when) {
  const time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(text, length);
}

Response perform(const Request& request, const TransportOptions& options) {
  std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
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

struct Multi::Transfer {
  unsigned long long tag = 0;
  std::unique_ptr<CURL, EasyDeleter> handle;
  Slist headers;
  std::string request_body;  // CURLOPT_POSTFIELDS points here until the transfer ends
  Sink sink;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
};

Multi::Multi(TransportOptions options, long max_connections)
    : options_(std::move(options)), multi_(curl_multi_init()) {
  if (!multi_) throw HttpError("libcurl: cannot create a multi handle");
  // Enough cached connections for every transfer in flight, so that each
  // request after the first finds a kept-alive connection.
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, std::max(1L, max_connections));
}

Multi::~Multi() {
  for (auto& [handle, transfer] : transfers_) curl_multi_remove_handle(multi_.get(), handle);
}

void Multi::start(const Request& request, unsigned long long tag) {
  auto transfer = std::make_unique<Transfer>();
  transfer->tag = tag;
  if (!idle_handles_.empty()) {
    transfer->handle = std::move(idle_handles_.back());
    idle_handles_.pop_back();
    curl_easy_reset(transfer->handle.get());
  } else {
    transfer->handle.reset(curl_easy_init());
    if (!transfer->handle) throw HttpError("libcurl: cannot create a handle");
  }
  transfer->headers = request_headers(request);
  transfer->sink.limit = options_.max_response_bytes;
  // A copy the transfer owns: the caller's request may go away before the body is sent.
  transfer->request_body = request.body;
  configure(transfer->handle.get(), request, transfer->request_body, options_, transfer->headers.get(),
            &transfer->sink, transfer->error_buffer.data());
  CURL* handle = transfer->handle.get();
  if (curl_multi_add_handle(multi_.get(), handle) != CURLM_OK) {
    throw HttpError("libcurl: cannot add a transfer");
  }
  transfers_.emplace(handle, std::move(transfer));
}

Multi::Finished Multi::finish(CURL* handle, CURLcode code) {
  curl_multi_remove_handle(multi_.get(), handle);
  const auto it = transfers_.find(handle);
  std::unique_ptr<Transfer> transfer = std::move(it->second);
  transfers_.erase(it);
  Finished finished;
  finished.tag = transfer->tag;
  read_info(handle, code, transfer->error_buffer.data(), finished.response);
  finished.response.body = std::move(transfer->sink.body);
  idle_handles_.push_back(std::move(transfer->handle));
  return finished;
}

std::vector<Multi::Finished> Multi::collect() {
  std::vector<Finished> done;
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* handle = message->easy_handle;
    const CURLcode code = message->data.result;
    if (transfers_.contains(handle)) done.push_back(finish(handle, code));
  }
  return done;
}

std::vector<Multi::Finished> Multi::poll(std::chrono::milliseconds timeout) {
  int running = 0;
  curl_multi_perform(multi_.get(), &running);
  std::vector<Finished> done = collect();
  if (!done.empty() || transfers_.empty() || timeout.count() <= 0) return done;
  curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(timeout.count()), nullptr);
  curl_multi_perform(multi_.get(), &running);
  return collect();
}

std::vector<Multi::Finished> Multi::abort_all() {
  std::vector<Finished> done = collect();
  std::vector<CURL*> handles;
  handles.reserve(transfers_.size());
  for (const auto& [handle, transfer] : transfers_) handles.push_back(handle);
  for (CURL* handle : handles) {
    std::array<char, CURL_ERROR_SIZE>& buffer = transfers_.at(handle)->error_buffer;
    std::snprintf(buffer.data(), buffer.size(), "aborted by shutdown");
    done.push_back(finish(handle, CURLE_ABORTED_BY_CALLBACK));
  }
  return done;
}

}  // namespace wagate::twilio
