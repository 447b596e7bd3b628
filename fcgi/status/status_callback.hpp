// status_callback.hpp — POST /api/v1/whatsapp/status: Twilio's delivery-status callbacks.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"
#include "wagate/store.hpp"
#include "wagate/tenants.hpp"

namespace wagate::status {

struct Services {
  tenants::Cache& tenants;
  store::StatusWriter& writer;
};

// Validates, then answers 200 only once the callback is committed (or
// spooled and fsynced while Postgres is unreachable).
http::Response status_callback(http::Request& request, Context& context, Services& services);

}  // namespace wagate::status
