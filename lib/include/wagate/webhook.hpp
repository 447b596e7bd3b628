// webhook.hpp — what every Twilio webhook goes through first: media type, body, tenant, signature.
#pragma once

#include <memory>
#include <string>

#include "wagate/context.hpp"
#include "wagate/form.hpp"
#include "wagate/http.hpp"
#include "wagate/tenants.hpp"

namespace wagate::webhook {

struct Verified {
  std::shared_ptr<const tenants::Tenant> tenant;
  form::Params params;
  std::string url;  // the public URL the signature was checked against
};

// Accepts a request only if it is a form body that parses, names a known
// AccountSid, carries a signature made with that tenant's current or previous
// auth token over the public URL, and has no parameter (name or value) that
// is not valid UTF-8 or holds a NUL byte. Otherwise throws ApiError: 415
// (media type), 400 (unparseable body, missing AccountSid, missing
// X-Twilio-Signature), 403 (unknown AccountSid, signature mismatch), then 400
// invalid_utf8 / nul_byte naming the parameter in `field`. Every rejection is logged with its reason and the URL used,
// never the token or the signature.
Verified verify(const http::Request& request, Context& context, tenants::Cache& tenants);

// The public URL of a request: public_base_url when configured, else what
// nginx passed (scheme, Host as received, raw request URI).
std::string public_url(const http::Request& request, const config::Config& config);

// The master key from config (empty Secret when master_key_file is unset).
Secret master_key(const config::Config& config);

// An optional request parameter that must be present and non-empty.
std::string required_param(const form::Params& params, const char* name);

}  // namespace wagate::webhook
