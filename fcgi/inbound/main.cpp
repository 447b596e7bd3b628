// main.cpp — wagate-inbound: messages users send to a tenant's WhatsApp number.
#include <memory>

#include "inbound_message.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/webhook_intake.hpp"

int main(int argc, char** argv) {
  using namespace wagate;
  std::unique_ptr<webhook::Intake> intake;
  http::Router router;
  router.add("POST", "/api/v1/whatsapp/webhook", [&](http::Request& request, Context& context) {
    inbound::Services services{intake->tenants(), intake->spool()};
    return inbound::inbound_message(request, context, services);
  });
  fcgi::ServerOptions options;
  options.name = "wagate-inbound";
  options.on_start = [&](const config::Holder& holder) {
    intake = std::make_unique<webhook::Intake>(*holder.current());
  };
  options.on_stop = [&] { intake->stop_replay(); };
  return fcgi::run_process(argc, argv, options, router);
}
