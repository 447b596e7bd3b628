// http.hpp — the request and response every handler sees, independent of FastCGI.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wagate::http {

struct Request {
  std::string method;
  std::string path;         // decoded-free path part of the request target, no query
  std::string query;        // raw query string, without '?'
  std::string request_uri;  // the raw request target as the client sent it (signatures need it)
  std::string scheme;       // public scheme as nginx saw it
  std::string host;         // Host header as received, port included when sent
  std::string content_type;
  std::string request_id;
  std::string remote_addr;
  std::string body;
  // Set, and body left empty, on a route added with Router::add_streaming:
  // reads up to size bytes of the body into buffer and returns how many,
  // 0 at its end, so a large upload is never held whole. Throws ApiError 413
  // `body_too_large` once the body passes max_upload_bytes.
  std::function<size_t(char* buffer, size_t size)> read_body;
  std::map<std::string, std::string, std::less<>> headers;      // lower-case names, '-' separated
  std::map<std::string, std::string, std::less<>> path_params;  // filled by the router
  std::string_view route;  // the pattern of the route that matched (set by the router): a metrics label

  [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const;
  [[nodiscard]] std::string_view param(std::string_view name) const;  // path parameter or ""
  // The media type without parameters, lower-cased ("application/json").
  [[nodiscard]] std::string media_type() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is not `body` but what this writes, piece by piece,
  // after the headers (sent without Content-Length): a long listing in
  // bounded memory. The status is sent before it runs, so it must decide
  // everything that can fail in a way the client should see first; a failure
  // midway is logged and the body ends short.
  using Writer = std::function<void(std::string_view piece)>;
  std::function<void(const Writer& write)> stream;

  static Response json(int status, std::string body);
  static Response error(int status, std::string_view code, std::string_view message, std::string_view field = {});
  static Response twiml(std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
};

std::string_view reason_phrase(int status);

}  // namespace wagate::http
