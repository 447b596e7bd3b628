// twilio_transport.hpp — HTTP requests to Twilio's REST API over libcurl: one at a time, or many in flight.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "wagate/secret.hpp"

namespace wagate::twilio {

// One HTTP request to Twilio's REST API, ready for the transport.
struct Request {
  std::string method;    // "GET" or "POST"
  std::string url;
  std::string body;      // POST: application/x-www-form-urlencoded
  Secret authorization;  // the Authorization header's value: "Basic base64(AccountSid:AuthToken)"
};

// Why no HTTP answer came. What matters to a sender is whether the request
// can have reached Twilio (request_sent), which every failure but Connect
// may mean.
enum class Failure {
  None,     // an HTTP answer came (whatever its status)
  Connect,  // name resolution, TCP connect, TLS handshake, a bad URL: nothing left this host
  Timeout,  // the whole-request or connect timeout ran out
  Aborted,  // stopped by abort_all() (shutdown)
  Other,    // the connection broke, the answer was malformed or too large, ...
};

// What came back from one transfer.
struct Response {
  Failure failure = Failure::None;
  std::string error;          // libcurl's description of the failure; empty with Failure::None
  bool request_sent = false;  // the request may have reached the server (never with Failure::Connect)
  long http_status = 0;       // 0 when no answer came
  std::string body;
  std::chrono::milliseconds duration{};
};

struct TransportOptions {
  std::chrono::milliseconds timeout{10000};         // the whole request (send_timeout_ms)
  std::chrono::milliseconds connect_timeout{5000};  // at most `timeout`
  std::string ca_file;                              // empty: the system's CA bundle
  size_t max_response_bytes = 4 * 1024 * 1024;
};

// One request on its own handle, waiting for the answer (maintenance jobs).
// curl_global_init must have run (in main).
[[nodiscard]] Response perform(const Request& request, const TransportOptions& options);

// Many transfers in flight on one thread; connections are kept alive and
// reused between transfers. Not thread-safe.
class Multi {
 public:
  explicit Multi(TransportOptions options, long max_connections);
  Multi(const Multi&) = delete;
  Multi& operator=(const Multi&) = delete;
  ~Multi();

  // Applies to transfers started afterwards (a config reload).
  void set_options(TransportOptions options);
  // Starts a transfer; `tag` comes back with its response. Throws HttpError
  // when libcurl refuses the handle.
  void start(const Request& request, unsigned long long tag);

  struct Finished {
    unsigned long long tag = 0;
    Response response;
  };
  // Runs the transfers, waiting up to `timeout` for network activity when
  // none has finished yet; returns the ones that finished.
  [[nodiscard]] std::vector<Finished> poll(std::chrono::milliseconds timeout);
  // Stops every transfer at once (a second SIGTERM). Each comes back with
  // Failure::Aborted, request_sent telling whether it may have left.
  [[nodiscard]] std::vector<Finished> abort_all();
  [[nodiscard]] size_t in_flight() const;

 private:
  // libcurl's handles, kept out of this header so that <curl/curl.h> stays
  // in the transport's own source file.
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wagate::twilio
