// distribution_csv.hpp — a distribution's contacts uploaded as CSV, its recipients exported as CSV, and its test send.
#pragma once

#include "wagate/context.hpp"
#include "wagate/http.hpp"

namespace wagate::api {

// Contacts are planned and inserted this many rows at a time, each batch in
// the upload's one transaction.
inline constexpr size_t kCsvBatchRows = 1000;

// POST /api/v1/distributions/{id}/contacts (scope send), Content-Type:
// text/csv, header row phone,name,<variables...>: appends to a scheduled
// distribution, planned as the JSON create plans (duplicates also against
// its recipients). 200 {"id", "status", "recipient_count", "recipients"}.
// All or nothing: a malformed CSV (400 invalid_csv, with row and column) or
// a body past max_upload_bytes (413) leaves the distribution as it was.
// Registered with Router::add_streaming: the body is read in pieces.
http::Response upload_distribution_contacts(http::Request& request, Context& context);

// GET /api/v1/distributions/{id}/recipients: with Accept: text/csv, the whole
// list as CSV (phone,name,status,message_id,message_sid,error,clicks,
// replied), streamed a page at a time from one snapshot; otherwise the JSON
// page of list_distribution_recipients.
http::Response distribution_recipients(http::Request& request, Context& context);

// POST /api/v1/distributions/{id}/test (scope send), {"phone"}: the
// distribution's message rendered for that phone (the recipient's name and
// variables when it is one, {{link}} as the untracked target) sent once as
// /send sends, at high priority, linked to no recipient: 202 like /send.
http::Response test_distribution(http::Request& request, Context& context);

}  // namespace wagate::api
