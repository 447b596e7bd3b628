// control_api.hpp — the simulator's own endpoints under /sim/: inbound injection, what it recorded, reset.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "accounts.hpp"
#include "callbacks.hpp"
#include "http_server.hpp"
#include "ledger.hpp"
#include "wagate/http.hpp"

namespace wagate::sim {

// "2024-05-01T12:00:00.123Z"
[[nodiscard]] std::string iso_time(Clock::time_point time);

// What POST /sim/inbound asks for, read from its JSON body; the answer to
// send instead when the body is unusable.
struct InboundRequest {
  InboundMessage message;
  std::string url;
};
[[nodiscard]] std::variant<InboundRequest, http::Response> parse_inbound_request(std::string_view body,
                                                                                  Accounts& accounts,
                                                                                  const std::string& default_url);

class ControlApi {
 public:
  struct Options {
    std::string webhook_url;  // where /sim/inbound posts unless the request names a url
    PostOptions post;
  };

  ControlApi(Accounts& accounts, Ledger& ledger, Dispatcher& dispatcher, Options options);

  // Everything under /sim/.
  [[nodiscard]] http::Response handle(const http::Request& request);

 private:
  [[nodiscard]] http::Response inbound(const http::Request& request);

  Accounts& accounts_;
  Ledger& ledger_;
  Dispatcher& dispatcher_;
  Options options_;
};

}  // namespace wagate::sim
