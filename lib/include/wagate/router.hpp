// router.hpp — routing by method and path pattern ("/api/v1/whatsapp/messages/{id}").
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "wagate/http.hpp"

namespace wagate {
class Context;
}

namespace wagate::http {

using Handler = std::function<Response(Request&, Context&)>;

class Router {
 public:
  // Pattern segments in braces match one non-empty path segment and are
  // stored in Request::path_params under the brace name.
  Router& add(std::string method, std::string pattern, Handler handler);
  // A route whose body the handler reads itself through
  // Request::read_body, bounded by max_upload_bytes rather than
  // max_body_bytes (an upload of contacts).
  Router& add_streaming(std::string method, std::string pattern, Handler handler);
  // Whether the request goes to a route added with add_streaming.
  [[nodiscard]] bool streams_body(std::string_view method, std::string_view path) const;

  // Finds the handler; fills path params. Unknown path: 404 JSON; known path
  // with another method: 405 JSON with an Allow header.
  [[nodiscard]] Response dispatch(Request& request, Context& context) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    bool streams_body = false;
  };
  static bool match(const Route& route, std::string_view path, Request* request);
  std::vector<Route> routes_;
};

}  // namespace wagate::http
