// main.cpp — wagate-status: Twilio's delivery-status callbacks, committed in batches.
#include <chrono>
#include <memory>

#include "status_callback.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/store.hpp"
#include "wagate/webhook_intake.hpp"

int main(int argc, char** argv) {
  using namespace wagate;
  // Declared in this order: the writer spools into the intake's spool, so it must be destroyed first.
  std::unique_ptr<webhook::Intake> intake;
  std::unique_ptr<store::StatusWriter> writer;
  http::Router router;
  router.add("POST", "/api/v1/whatsapp/status", [&](http::Request& request, Context& context) {
    status::Services services{intake->tenants(), *writer};
    return status::status_callback(request, context, services);
  });
  fcgi::ServerOptions options;
  options.name = "wagate-status";
  options.on_start = [&](const config::Holder& holder) {
    const auto config = holder.current();
    intake = std::make_unique<webhook::Intake>(*config);
    writer = std::make_unique<store::StatusWriter>(config->str("pg_dsn"), intake->spool(),
                                                   static_cast<int>(config->integer("status_committers")),
                                                   std::chrono::milliseconds(config->integer("db_timeout_ms")));
  };
  options.on_stop = [&] {
    intake->stop_replay();
    writer.reset();  // answers everything handed over before exiting
  };
  return fcgi::run_process(argc, argv, options, router);
}
