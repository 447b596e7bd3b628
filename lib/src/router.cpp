// router.cpp — routing by method and path pattern ("/api/v1/whatsapp/messages/{id}").
#include "wagate/router.hpp"

#include <string>

namespace wagate::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

}  // namespace

Router& Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), pattern, {}, std::move(handler)};
  for (const auto part : split_path(pattern)) route.segments.emplace_back(part);
  routes_.push_back(std::move(route));
  return *this;
}

Router& Router::add_streaming(std::string method, std::string pattern, Handler handler) {
  add(std::move(method), std::move(pattern), std::move(handler));
  routes_.back().streams_body = true;
  return *this;
}

bool Router::streams_body(std::string_view method, std::string_view path) const {
  for (const Route& route : routes_) {
    if (route.method == method && match(route, path, nullptr)) return route.streams_body;
  }
  return false;
}

bool Router::match(const Route& route, std::string_view path, Request* request) {
  const auto parts = split_path(path);
  if (parts.size() != route.segments.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& want = route.segments[i];
    const bool is_param = want.size() > 2 && want.front() == '{' && want.back() == '}';
    if (is_param) {
      if (parts[i].empty()) return false;
    } else if (parts[i] != want) {
      return false;
    }
  }
  if (request != nullptr) {
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{') request->path_params[want.substr(1, want.size() - 2)] = parts[i];
    }
  }
  return true;
}

Response Router::dispatch(Request& request, Context& context) const {
  std::string allow;
  for (const Route& route : routes_) {
    if (!match(route, request.path, nullptr)) continue;
    if (route.method == request.method || (request.method == "HEAD" && route.method == "GET")) {
      match(route, request.path, &request);
      request.route = route.pattern;
      return route.handler(request, context);
    }
    if (allow.find(route.method) == std::string::npos) {
      if (!allow.empty()) allow += ", ";
      allow += route.method;
    }
  }
  if (allow.empty()) {
    return Response::error(404, "not_found", "no route for " + request.path);
  }
  Response response = Response::error(405, "method_not_allowed",
                                      request.method + " is not allowed on " + request.path + "; allowed: " + allow);
  response.headers.emplace_back("Allow", allow);
  return response;
}

}  // namespace wagate::http
