// inbound_message.hpp — POST /api/v1/whatsapp/webhook: messages users send to a tenant's number.
#pragma once

#include "wagate/context.hpp"
#include "wagate/form.hpp"
#include "wagate/http.hpp"
#include "wagate/spool.hpp"
#include "wagate/tenants.hpp"

namespace wagate::inbound {

struct Services {
  tenants::Cache& tenants;
  spool::Spool& spool;
};

// The contact's action when the body is exactly one keyword (trimmed,
// case-insensitive): "opt_out", "opt_in", or "" for an ordinary message.
std::string contact_action(std::string_view body, const std::vector<std::string>& opt_out_keywords,
                           const std::vector<std::string>& opt_in_keywords);

// The record stored for an inbound message: the fields that matter as
// columns, the rest structured under "details", and every parameter Twilio
// sent under "params" (Twilio adds parameters without notice), and the
// reply window in force (wagate_store_inbound marks the distribution
// recipients this message answers; a replayed record keeps its window).
std::string inbound_record(long long tenant_id, const form::Params& params, std::string_view action,
                           std::string_view received_at, int reply_window_hours);

// Stores the message (deduplicated on MessageSid), opens or extends the
// 24-hour window, records opt-out/opt-in, and answers empty TwiML.
http::Response inbound_message(http::Request& request, Context& context, Services& services);

}  // namespace wagate::inbound
