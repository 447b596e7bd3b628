// main.cpp — wagate-inbound: messages users send to a tenant's WhatsApp number.
#include <memory>

#include "inbound_message.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/store.hpp"

namespace {

struct Process {
  std::unique_ptr<wagate::spool::Spool> spool;
  std::unique_ptr<wagate::tenants::Cache> tenants;
  std::unique_ptr<wagate::store::SpoolReplayer> replayer;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace wagate;
  Process process;
  http::Router router;
  router.add("POST", "/api/v1/whatsapp/webhook", [&](http::Request& request, Context& context) {
    inbound::Services services{*process.tenants, *process.spool};
    return inbound::inbound_message(request, context, services);
  });
  fcgi::ServerOptions options;
  options.name = "wagate-inbound";
  options.on_start = [&](const config::Holder& holder) {
    const auto config = holder.current();
    const std::string spool_dir = config->str("spool_dir");
    process.spool = std::make_unique<spool::Spool>(spool_dir);
    process.tenants = std::make_unique<tenants::Cache>(spool_dir + "/tenants.snapshot");
    process.replayer = std::make_unique<store::SpoolReplayer>(config->str("pg_dsn"), *process.spool);
  };
  options.on_stop = [&] { process.replayer.reset(); };
  return fcgi::run_process(argc, argv, options, router);
}
