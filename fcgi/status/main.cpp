// main.cpp — wagate-status: Twilio's delivery-status callbacks, committed in batches.
#include <memory>

#include "status_callback.hpp"
#include "wagate/fcgi_server.hpp"
#include "wagate/spool.hpp"
#include "wagate/store.hpp"

namespace {

struct Process {
  std::unique_ptr<wagate::spool::Spool> spool;
  std::unique_ptr<wagate::tenants::Cache> tenants;
  std::unique_ptr<wagate::store::StatusWriter> writer;
  std::unique_ptr<wagate::store::SpoolReplayer> replayer;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace wagate;
  Process process;
  http::Router router;
  router.add("POST", "/api/v1/whatsapp/status", [&](http::Request& request, Context& context) {
    status::Services services{*process.tenants, *process.writer};
    return status::status_callback(request, context, services);
  });
  fcgi::ServerOptions options;
  options.name = "wagate-status";
  options.on_start = [&](const config::Holder& holder) {
    const auto config = holder.current();
    const std::string spool_dir = config->str("spool_dir");
    process.spool = std::make_unique<spool::Spool>(spool_dir);
    process.tenants = std::make_unique<tenants::Cache>(spool_dir + "/tenants.snapshot");
    process.writer = std::make_unique<store::StatusWriter>(
        config->str("pg_dsn"), *process.spool, static_cast<int>(config->integer("status_committers")));
    process.replayer = std::make_unique<store::SpoolReplayer>(config->str("pg_dsn"), *process.spool);
  };
  options.on_stop = [&] {
    process.replayer.reset();
    process.writer.reset();  // answers everything handed over before exiting
  };
  return fcgi::run_process(argc, argv, options, router);
}
