// main.cpp — wagate-api: the application-facing API (health, send, messages, metrics, distributions).
#include "delivery_metrics.hpp"
#include "distribution_control.hpp"
#include "distribution_csv.hpp"
#include "distributions.hpp"
#include "health.hpp"
#include "messages.hpp"
#include "phone_metrics.hpp"
#include "prometheus.hpp"
#include "send.hpp"
#include "wagate/fcgi_server.hpp"

int main(int argc, char** argv) {
  using wagate::http::Router;
  Router router;
  router.add("GET", "/api/v1/health", wagate::api::health);
  router.add("GET", "/metrics", wagate::api::prometheus);  // the local-only metrics listener
  router.add("POST", "/api/v1/whatsapp/send", wagate::api::send);
  router.add("GET", "/api/v1/whatsapp/messages", wagate::api::list_messages);
  router.add("GET", "/api/v1/whatsapp/messages/{id}", wagate::api::get_message);
  router.add("GET", "/api/v1/whatsapp/delivery-status/{sid}", wagate::api::get_delivery_status);
  router.add("GET", "/api/v1/whatsapp/phones/{e164}/metrics", wagate::api::phone_metrics);
  router.add("GET", "/api/v1/whatsapp/delivery-metrics", wagate::api::delivery_metrics);
  router.add("POST", "/api/v1/distributions", wagate::api::create_distribution);
  router.add("GET", "/api/v1/distributions", wagate::api::list_distributions);
  router.add("GET", "/api/v1/distributions/{id}", wagate::api::get_distribution);
  router.add("GET", "/api/v1/distributions/{id}/recipients", wagate::api::distribution_recipients);
  router.add("POST", "/api/v1/distributions/{id}/pause", wagate::api::pause_distribution);
  router.add("POST", "/api/v1/distributions/{id}/resume", wagate::api::resume_distribution);
  router.add("POST", "/api/v1/distributions/{id}/cancel", wagate::api::cancel_distribution);
  router.add_streaming("POST", "/api/v1/distributions/{id}/contacts", wagate::api::upload_distribution_contacts);
  router.add("POST", "/api/v1/distributions/{id}/test", wagate::api::test_distribution);
  wagate::fcgi::ServerOptions options;
  options.name = "wagate-api";
  // Reads may run up to api_statement_timeout_ms on the server, not the webhooks' db_timeout_ms.
  options.on_thread_start = [](wagate::Context& context) { context.set_db_use(wagate::DbUse::Api); };
  return wagate::fcgi::run_process(argc, argv, options, router);
}
