// main.cpp — wagate-links: tracked links of distributions (GET /l/<token>), apart from the webhooks and the API.
#include "follow_link.hpp"
#include "wagate/fcgi_server.hpp"

int main(int argc, char** argv) {
  wagate::http::Router router;
  router.add("GET", "/l/{token}", [](wagate::http::Request& request, wagate::Context& context) {
    return wagate::links::follow_link(request, context);
  });
  // "/l/" itself: no token at all, answered with the same page as a bad one.
  router.add("GET", "/l/", [](wagate::http::Request& request, wagate::Context& context) {
    return wagate::links::follow_link(request, context);
  });
  wagate::fcgi::ServerOptions options;
  options.name = "wagate-links";
  return wagate::fcgi::run_process(argc, argv, options, router);
}
