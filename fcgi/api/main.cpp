// main.cpp — wagate-api: the application-facing API (health, send, messages, metrics).
#include "health.hpp"
#include "send.hpp"
#include "wagate/fcgi_server.hpp"

int main(int argc, char** argv) {
  using wagate::http::Router;
  Router router;
  router.add("GET", "/api/v1/health", wagate::api::health);
  router.add("POST", "/api/v1/whatsapp/send", wagate::api::send);
  wagate::fcgi::ServerOptions options;
  options.name = "wagate-api";
  return wagate::fcgi::run_process(argc, argv, options, router);
}
