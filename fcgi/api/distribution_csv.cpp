// distribution_csv.cpp — a distribution's contacts uploaded as CSV, its recipients exported as CSV, and its test send.
#include "distribution_csv.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "auth.hpp"
#include "distribution_plan.hpp"
#include "distribution_request.hpp"
#include "distributions.hpp"
#include "send.hpp"
#include "wagate/csv.hpp"
#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/pg_array.hpp"
#include "wagate/phone.hpp"
#include "wagate/text.hpp"

namespace wagate::api {
namespace {

// phone, name and at most kMaxContactVariables variables; a value may be
// kMaxVariableValueChars characters of up to 4 bytes each.
constexpr csv::Limits kCsvLimits{kMaxVariableValueChars * 4, kMaxContactVariables + 2};
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kExportPageRows = 1000;

http::Response not_found() { return http::Response::error(404, "not_found", "no distribution with this id"); }

std::optional<std::string> distribution_id(const http::Request& request) {
  const std::string id(request.param("id"));
  if (!text::is_uuid(id)) return std::nullopt;
  return id;
}

bool is_variable_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxVariableNameChars &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '-';
         });
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return std::string(text);
}

// What the distribution sends, as the planner takes it; contacts left empty.
struct Template {
  DistributionRequest request;
  std::string status;
};

void add_placeholders(std::vector<std::string>& into, std::string_view text) {
  for (std::string& name : placeholder_names(text)) {
    if (std::find(into.begin(), into.end(), name) == into.end()) into.push_back(std::move(name));
  }
}

// The distribution, its row locked when `lock` (an append must not race a
// launch or another append); nullopt when the tenant has no such one.
std::optional<Template> load_template(pg::Connection& db, long long tenant_id, const std::string& id, bool lock) {
  const std::string sql =
      "SELECT status, body, content_sid, content_variables::text, link FROM distributions "
      "WHERE tenant_id = $1 AND id = $2::uuid";
  const char* name = lock ? "distribution_csv_template_lock" : "distribution_csv_template";
  db.prepare(name, lock ? sql + " FOR UPDATE" : sql);
  const pg::Result rows = db.exec_prepared(name, {std::to_string(tenant_id), id});
  if (rows.rows() == 0) return std::nullopt;
  Template t;
  t.status = std::string(rows.get(0, 0));
  DistributionRequest& r = t.request;
  r.body = rows.optional(0, 1);
  r.content_sid = rows.optional(0, 2);
  if (!rows.is_null(0, 3)) {
    const json::ParseResult parsed = json::parse(rows.get(0, 3));
    const char* key = nullptr;
    json_t* value = nullptr;
    json_object_foreach(parsed.value.get(), key, value) {
      r.content_variables.emplace_back(key, std::string(json_string_value(value)));
    }
  }
  r.link = rows.optional(0, 4);
  if (r.body) add_placeholders(r.placeholders, *r.body);
  for (const auto& [key, value] : r.content_variables) add_placeholders(r.placeholders, value);
  if (r.link) add_placeholders(r.placeholders, *r.link);
  return t;
}

// The header row: where phone and name are, and every other column a variable.
struct Columns {
  size_t phone = 0;
  std::optional<size_t> name;
  std::vector<std::pair<size_t, std::string>> variables;
};

[[noreturn]] void invalid_header(const std::string& message) {
  throw ApiError(400, "invalid_csv_header", message + "; the header row is phone,name,<variables...>");
}

Columns read_header(const csv::Row& header) {
  Columns columns;
  std::optional<size_t> phone;
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string column = trimmed(header[i]);
    const std::string where = "column " + std::to_string(i + 1);
    if (column.empty()) invalid_header(where + " has no name");
    if (!seen.insert(column).second) invalid_header(where + ": '" + column + "' is given more than once");
    if (column == "phone") {
      phone = i;
    } else if (column == kNamePlaceholder) {
      columns.name = i;
    } else if (column == kLinkPlaceholder) {
      invalid_header(where + ": 'link' is wagate's own placeholder, not a variable");
    } else if (!is_variable_name(column)) {
      invalid_header(where + ": '" + column + "' is not a variable name (letters, digits, '_', '.', '-', at most " +
                     std::to_string(kMaxVariableNameChars) + ")");
    } else {
      columns.variables.emplace_back(i, column);
    }
  }
  if (!phone) invalid_header("there is no phone column");
  columns.phone = *phone;
  return columns;
}

// One data row as a contact; an empty cell is a value not given. A value
// past its limit makes the row invalid (the reason), not the upload.
std::string to_contact(const Columns& columns, csv::Row& row, Contact& contact) {
  contact.phone = std::move(row[columns.phone]);
  if (columns.name && !row[*columns.name].empty()) {
    if (character_count(row[*columns.name]) > kMaxContactNameChars) {
      return "name is longer than " + std::to_string(kMaxContactNameChars) + " characters";
    }
    contact.name = std::move(row[*columns.name]);
  }
  for (const auto& [index, name] : columns.variables) {
    if (row[index].empty()) continue;
    if (character_count(row[index]) > kMaxVariableValueChars) {
      return name + " is longer than " + std::to_string(kMaxVariableValueChars) + " characters";
    }
    contact.variables.emplace(name, std::move(row[index]));
  }
  return {};
}

struct UploadTotals {
  size_t accepted = 0;
  size_t duplicates = 0;
  size_t opted_out = 0;
  std::vector<InvalidContact> invalid;
};

std::set<std::string, std::less<>> existing_among(pg::Connection& db, const std::string& id,
                                                  const std::vector<std::string>& phones) {
  std::set<std::string, std::less<>> out;
  if (phones.empty()) return out;
  db.prepare("distribution_csv_existing",
             "SELECT phone FROM distribution_recipients WHERE distribution_id = $1::uuid AND phone = ANY($2::text[])");
  const pg::Result rows = db.exec_prepared("distribution_csv_existing", {id, pg::array_literal(phones)});
  for (int i = 0; i < rows.rows(); ++i) out.emplace(rows.get(i, 0));
  return out;
}

// Plans and inserts one batch; `rows` are the batch's 0-based data rows, in
// the order of request.contacts. Earlier batches are already inserted, so
// they are among the existing recipients.
void plan_batch(pg::Connection& db, long long tenant_id, const std::string& id, DistributionRequest& request,
                const std::vector<size_t>& rows, PlanInputs inputs, UploadTotals& totals) {
  if (request.contacts.empty()) return;
  const std::vector<std::string> phones = contact_phones(request, inputs.default_country_code);
  const std::set<std::string, std::less<>> opted_out = opted_out_among(db, tenant_id, phones);
  const std::set<std::string, std::less<>> existing = existing_among(db, id, phones);
  inputs.opted_out = &opted_out;
  inputs.existing = &existing;
  Plan plan = plan_distribution(request, inputs);
  for (PlannedRecipient& recipient : plan.recipients) recipient.index = rows[recipient.index];
  for (InvalidContact& contact : plan.invalid) contact.index = rows[contact.index];
  insert_recipients(db, tenant_id, id, plan);
  totals.accepted += plan.recipients.size();
  totals.duplicates += plan.duplicates;
  totals.opted_out += plan.opted_out;
  std::move(plan.invalid.begin(), plan.invalid.end(), std::back_inserter(totals.invalid));
  request.contacts.clear();
}

[[noreturn]] void invalid_csv(const csv::Error& error) { throw ApiError(400, "invalid_csv", error.text()); }

std::string error_text(const pg::Result& rows, int row) {
  std::string code = rows.is_null(row, 5) ? std::string() : std::string(rows.get(row, 5));
  std::string message = rows.is_null(row, 6) ? std::string() : std::string(rows.get(row, 6));
  if (code.empty()) return message;
  return message.empty() ? code : code + ": " + message;
}

bool wants_csv(const http::Request& request) {
  const std::optional<std::string_view> accept = request.header("accept");
  return accept && text::lower(std::string(*accept)).find("text/csv") != std::string::npos;
}

http::Response export_csv(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Read);
  if (!auth.ok()) return auth.refusal;
  const std::optional<std::string> id = distribution_id(request);
  if (!id) return not_found();
  const PageQuery query = parse_page_query(request.query, true);
  if (query.cursor) {
    throw ApiError(400, "invalid_parameter", "the CSV export is the whole list: leave cursor out", "cursor");
  }
  const long long tenant_id = auth.key->tenant_id;
  pg::Connection& db = context.db();
  if (!load_template(db, tenant_id, *id, false)) return not_found();

  http::Response response;
  response.status = 200;
  response.content_type = "text/csv";
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"distribution-" + *id + ".csv\"");
  std::vector<std::string> statuses = query.statuses;
  response.stream = [&context, tenant_id, id = *id, statuses](const http::Response::Writer& write) {
    pg::Connection& conn = context.db();
    // One snapshot for every page: the file describes one moment.
    pg::Transaction tx(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    conn.prepare("distribution_csv_export_page",
                 "SELECT r.id, r.phone, r.name, coalesce(m.status, r.status), r.message_id::text, m.message_sid, "
                 "m.error_code::text, coalesce(m.error_message, r.error), coalesce(l.clicks, 0), "
                 "r.replied_at IS NOT NULL FROM distribution_recipients r "
                 "LEFT JOIN messages m ON m.tenant_id = r.tenant_id AND m.id = r.message_id "
                 "LEFT JOIN distribution_links l ON l.tenant_id = r.tenant_id AND l.recipient_id = r.id "
                 "WHERE r.tenant_id = $1 AND r.distribution_id = $2::uuid AND r.id > $3::bigint "
                 "AND (cardinality($4::text[]) = 0 OR coalesce(m.status, r.status) = ANY($4::text[])) "
                 "ORDER BY r.id LIMIT $5");
    std::string out;
    csv::append_row(out, {"phone", "name", "status", "message_id", "message_sid", "error", "clicks", "replied"});
    write(out);
    long long after = 0;
    const std::string tenant = std::to_string(tenant_id);
    const std::string status_list = pg::array_literal(statuses);
    while (true) {
      const pg::Result rows = conn.exec_prepared(
          "distribution_csv_export_page",
          {tenant, id, std::to_string(after), status_list, std::to_string(kExportPageRows)});
      out.clear();
      for (int i = 0; i < rows.rows(); ++i) {
        const std::string error = error_text(rows, i);
        csv::append_row(out, {rows.get(i, 1), rows.get(i, 2), rows.get(i, 3), rows.get(i, 4), rows.get(i, 5), error,
                              rows.get(i, 8), rows.get(i, 9) == "t" ? "true" : "false"});
      }
      if (!out.empty()) write(out);
      if (rows.rows() < kExportPageRows) break;
      after = rows.get_int(rows.rows() - 1, 0);
    }
    tx.commit();
  };
  return response;
}

}  // namespace

http::Response upload_distribution_contacts(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Send);
  if (!auth.ok()) return auth.refusal;
  const api_keys::Key& caller = *auth.key;
  const std::optional<std::string> id = distribution_id(request);
  if (!id) return not_found();
  if (request.media_type() != "text/csv") {
    throw ApiError(415, "unsupported_media_type",
                   "send the contacts as Content-Type: text/csv, a header row phone,name,<variables...>");
  }
  if (!request.read_body) throw ApiError(500, "internal_error", "the contacts route must be registered as streaming");

  pg::Connection& db = context.db();
  pg::Transaction tx(db);
  std::optional<Template> loaded = load_template(db, caller.tenant_id, *id, true);
  if (!loaded) return not_found();
  if (loaded->status != "scheduled") {
    throw ApiError(409, "distribution_not_scheduled",
                   "contacts can be added only while the distribution is scheduled; it is " + loaded->status);
  }
  DistributionRequest& batch = loaded->request;
  PlanInputs inputs;
  inputs.default_country_code = caller.default_country_code;
  inputs.link_base = link_base(request, context.config());

  csv::Parser parser(kCsvLimits);
  std::optional<Columns> columns;
  std::vector<csv::Row> rows;
  std::vector<size_t> batch_rows;  // each batch contact's data row
  size_t data_rows = 0;
  UploadTotals totals;
  const auto take_rows = [&] {
    for (csv::Row& row : rows) {
      if (!columns) {
        columns = read_header(row);
        continue;
      }
      const size_t index = data_rows++;
      Contact contact;
      if (std::string problem = to_contact(*columns, row, contact); !problem.empty()) {
        totals.invalid.push_back({index, contact.phone, std::move(problem)});
        continue;
      }
      batch.contacts.push_back(std::move(contact));
      batch_rows.push_back(index);
      if (batch.contacts.size() >= kCsvBatchRows) {
        plan_batch(db, caller.tenant_id, *id, batch, batch_rows, inputs, totals);
        batch_rows.clear();
      }
    }
    rows.clear();
  };
  std::string chunk(kReadChunk, '\0');
  while (true) {
    const size_t got = request.read_body(chunk.data(), chunk.size());
    if (got == 0) break;
    if (!parser.feed(std::string_view(chunk.data(), got), rows)) invalid_csv(*parser.error());
    take_rows();
  }
  if (!parser.finish(rows)) invalid_csv(*parser.error());
  take_rows();
  if (!columns) throw ApiError(400, "invalid_csv", "the body is empty: the first row is the header, phone,name,...");
  plan_batch(db, caller.tenant_id, *id, batch, batch_rows, inputs, totals);
  std::sort(totals.invalid.begin(), totals.invalid.end(),
            [](const InvalidContact& a, const InvalidContact& b) { return a.index < b.index; });

  db.prepare("distribution_csv_count",
             "UPDATE distributions SET recipient_count = recipient_count + $3::int "
             "WHERE tenant_id = $1 AND id = $2::uuid RETURNING recipient_count");
  const pg::Result counted = db.exec_prepared(
      "distribution_csv_count", {std::to_string(caller.tenant_id), *id, std::to_string(totals.accepted)});
  tx.commit();
  log::info("distribution_contacts_added")
      .kv("req_id", request.request_id)
      .kv("tenant", caller.tenant_id)
      .kv("key_id", caller.key_id)
      .kv("distribution", *id)
      .kv("rows", static_cast<long long>(data_rows))
      .kv("accepted", static_cast<long long>(totals.accepted));

  json::Value body = json::object();
  json::set(body.get(), "id", json::string(*id));
  json::set(body.get(), "status", json::string(loaded->status));
  json::set(body.get(), "recipient_count", json::integer(counted.get_int(0, 0)));
  json::set(body.get(), "recipients",
            recipients_summary(totals.accepted, totals.duplicates, totals.opted_out, totals.invalid));
  return http::Response::json(200, json::dump(body.get()));
}

http::Response distribution_recipients(http::Request& request, Context& context) {
  if (wants_csv(request)) return export_csv(request, context);
  return list_distribution_recipients(request, context);
}

http::Response test_distribution(http::Request& request, Context& context) {
  const Authentication auth = authenticate(request, context, api_keys::Scope::Send);
  if (!auth.ok()) return auth.refusal;
  const api_keys::Key& caller = *auth.key;
  const std::optional<std::string> id = distribution_id(request);
  if (!id) return not_found();
  if (request.media_type() != "application/json") {
    throw ApiError(415, "unsupported_media_type", "send the request as Content-Type: application/json");
  }
  const json::ParseResult parsed = json::parse(request.body);
  if (!parsed.ok() || !json_is_object(parsed.value.get())) {
    throw ApiError(400, "invalid_json", "the body must be a JSON object {\"phone\": \"+E164\"}");
  }
  const char* key = nullptr;
  json_t* value = nullptr;
  json_object_foreach(parsed.value.get(), key, value) {
    if (std::string_view(key) != "phone") {
      throw ApiError(400, "invalid_field", "unknown field '" + std::string(key) + "'; known: phone", key);
    }
  }
  const std::optional<std::string_view> given = json::get_string(parsed.value.get(), "phone");
  if (!given) throw ApiError(400, "invalid_field", "phone is required, a string", "phone");
  const phone::Normalized to = phone::normalize(*given, caller.default_country_code);
  if (!to.ok()) throw ApiError(400, "invalid_phone", "phone " + to.reason, "phone");
  if (!caller.whatsapp_from && !caller.messaging_service_sid) {
    throw ApiError(422, "sender_not_configured",
                   "this tenant has no WhatsApp sender number or Messaging Service; an operator must set one");
  }

  pg::Connection& db = context.db();
  std::optional<Template> loaded = load_template(db, caller.tenant_id, *id, false);
  if (!loaded) return not_found();
  // The recipient with this phone gives its name and variables; anyone else
  // gets the message with none, so every placeholder but {{link}} is missing.
  db.prepare("distribution_test_recipient",
             "SELECT name, variables::text FROM distribution_recipients "
             "WHERE tenant_id = $1 AND distribution_id = $2::uuid AND phone = $3");
  const pg::Result recipient =
      db.exec_prepared("distribution_test_recipient", {std::to_string(caller.tenant_id), *id, *to.e164});
  Contact contact;
  contact.phone = *to.e164;
  if (recipient.rows() > 0) {
    contact.name = recipient.optional(0, 0);
    const json::ParseResult variables = json::parse(recipient.get(0, 1));
    json_object_foreach(variables.value.get(), key, value) contact.variables.emplace(key, json_string_value(value));
  }
  DistributionRequest& message = loaded->request;
  message.contacts.push_back(std::move(contact));
  PlanInputs inputs;
  inputs.default_country_code = caller.default_country_code;
  inputs.track_links = false;
  const Plan plan = plan_distribution(message, inputs);
  if (!plan.invalid.empty()) {
    const std::string& error = plan.invalid.front().error;
    throw ApiError(400, error.starts_with("no variable") ? "missing_variables" : "message_not_renderable",
                   "the message cannot be rendered for " + *to.e164 + ": " + error +
                       (recipient.rows() == 0 ? " (this phone is not a recipient, so it has no variables)" : ""),
                   "phone");
  }
  const PlannedRecipient& rendered = plan.recipients.front();
  SendRequest send;
  send.to = *to.e164;
  send.body = rendered.body;
  send.content_sid = message.content_sid;
  send.content_variables = rendered.content_variables;
  send.priority = send_queue::Priority::High;
  http::Response response = submit_message(request, context, caller, send, *to.e164);
  log::info("distribution_test_sent")
      .kv("req_id", request.request_id)
      .kv("tenant", caller.tenant_id)
      .kv("distribution", *id)
      .kv("status", response.status);
  return response;
}

}  // namespace wagate::api
