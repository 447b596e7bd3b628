// reconcile.cpp — the reconcile job: sends whose outcome was lost, resolved against Twilio's own message list.
//
// The rule that lets a lost send go out again: only Twilio's list can prove
// that a request never created a message, and only once enough time has
// passed for the message to be listed. Until then the message stays
// 'unknown' and is looked at again; a lookup that fails proves nothing.
#include "reconcile.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <memory>

#include "wagate/config.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/tenants.hpp"
#include "wagate/time.hpp"

namespace wagate::maint {
namespace {

using Clock = std::chrono::system_clock;

// Twilio lists newest first; a lost send is recent, so a few pages hold it.
constexpr int kMaxPages = 5;
constexpr int kPageSize = 100;
// A claim older than the request timeout plus this was left by a dead sender.
constexpr long long kStaleMarginMs = 60000;

constexpr std::string_view kDueUnknown =
    "SELECT tenant_id, created_at, id, coalesce(to_addr, ''), coalesce(from_addr, ''), coalesce(body, ''), "
    "attempts, extract(epoch from created_at)::float8, "
    "now() - coalesce(last_attempt_at, created_at) > make_interval(mins => $2::int) "
    "FROM messages WHERE status = 'unknown' AND message_sid IS NULL AND direction = 'outbound' "
    "AND coalesce(next_attempt_at, now()) <= now() "
    "ORDER BY next_attempt_at NULLS FIRST LIMIT $1";

constexpr std::string_view kLookAgainLater =
    "UPDATE messages SET next_attempt_at = now() + interval '1 minute' "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND status = 'unknown' AND message_sid IS NULL";

// The attempt count fences the update: a message claimed again meanwhile is
// not touched.
constexpr std::string_view kSendAgain =
    "UPDATE messages SET status = 'retrying', status_rank = wagate_status_rank('retrying'), next_attempt_at = now(), "
    "requeued_at = NULL, "
    "last_error = $5 "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND attempts = $4 AND status = 'unknown' "
    "AND message_sid IS NULL";

constexpr std::string_view kGiveUp =
    "UPDATE messages SET status = 'failed', status_rank = wagate_status_rank('failed'), next_attempt_at = NULL, "
    "error_message = $5, last_error = $5, failed_at = coalesce(failed_at, now()), "
    "last_status_at = greatest(last_status_at, now()) "
    "WHERE tenant_id = $1 AND created_at = $2 AND id = $3 AND attempts = $4 AND status = 'unknown' "
    "AND message_sid IS NULL";

struct Row {
  long long tenant_id = 0;
  std::string created_at;
  std::string id;
  std::string to;
  std::string from;
  std::string body;
  int attempts = 0;
  Clock::time_point created{};
  bool window_passed = false;
};

// Statuses Twilio reports on its own; an initial one is not a callback.
bool is_reportable(std::string_view status) {
  return !status.empty() && status != "queued" && status != "accepted" && status != "scheduled";
}

bool is_sid(std::string_view text) {
  if (text.size() < 3 || text.size() > 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

// The SIDs among the listed ones that some message already holds.
std::vector<std::string> taken_sids(pg::Connection& db, const std::vector<twilio::MessageResource>& listed) {
  std::string array = "{";
  for (const auto& message : listed) {
    if (!is_sid(message.sid)) continue;
    if (array.size() > 1) array += ',';
    array += message.sid;
  }
  array += '}';
  std::vector<std::string> taken;
  if (array == "{}") return taken;
  const pg::Result rows = db.exec("SELECT message_sid FROM message_index WHERE message_sid = ANY($1::text[])", {array});
  for (int r = 0; r < rows.rows(); ++r) taken.emplace_back(rows.get(r, 0));
  return taken;
}

// Every listed message for the lookup back to the send's time, following
// next_page_uri. nullopt when Twilio could not be asked, gave an answer
// that is not a list, or the pages ran out before reaching back that far
// (the list then proves nothing).
//
// No DateSent filter: Twilio's DateSent matches only messages already sent,
// and a message still in Twilio's queue (it holds them for hours under a
// sender's rate limit) would look never created. The list is newest first,
// so reading back by date_created finds queued messages too.
std::optional<std::vector<twilio::MessageResource>> list_candidates(const config::Config& config,
                                                                    const twilio::Credentials& credentials,
                                                                    const twilio::LostSend& send,
                                                                    std::string& problem) {
  twilio::TransportOptions options;
  options.timeout = std::chrono::milliseconds(config.integer("send_timeout_ms"));
  options.connect_timeout = std::min(options.timeout, std::chrono::milliseconds(5000));
  options.ca_file = config.str("twilio_ca_file");
  const std::string& api_base = config.str("twilio_api_base");

  twilio::ListFilter filter;
  filter.to = send.to;
  filter.from = send.from;
  filter.page_size = kPageSize;
  twilio::Request request = twilio::list_messages(api_base, credentials, filter);
  std::vector<twilio::MessageResource> listed;
  for (int page = 1;; ++page) {
    const PageRead read = read_page(twilio::perform(request, options), send.not_before, page, kMaxPages, listed);
    if (read.step == PageStep::Complete) return listed;
    if (read.step == PageStep::Inconclusive) {
      problem = read.problem;
      return std::nullopt;
    }
    auto next = twilio::next_page(api_base, credentials, read.next_page_uri);
    if (!next) {
      problem = "next_page_uri is not under this account";
      return std::nullopt;
    }
    request = std::move(*next);
  }
}

// Records the SID the way the sender does, and Twilio's current status as
// a callback would have: one transaction.
std::string record_found(pg::Connection& db, const Row& row, const twilio::MessageResource& found) {
  pg::Transaction transaction(db);
  const std::string tenant = std::to_string(row.tenant_id);
  const pg::Result recorded =
      db.exec("SELECT wagate_record_sent($1, $2, $3, $4)", {tenant, row.created_at, row.id, found.sid});
  const std::string result(recorded.get(0, 0));
  if (result == "recorded" && is_reportable(found.status)) {
    json::Value event = json::object();
    json::set(event.get(), "tenant_id", json::integer(row.tenant_id));
    json::set(event.get(), "sid", json::string(found.sid));
    json::set(event.get(), "status", json::string(found.status));
    if (found.error_code) json::set(event.get(), "error_code", json::integer(*found.error_code));
    if (!found.error_message.empty()) json::set(event.get(), "error_message", json::string(found.error_message));
    json::set(event.get(), "received_at", json::string(time::format_iso8601(time::now_micros(), 0)));
    json::Value batch = json::array();
    json::append(batch.get(), std::move(event));
    db.exec("SELECT count(*) FROM wagate_store_status_callbacks($1::jsonb)", {json::dump(batch.get())});
  }
  transaction.commit();
  return result;
}

Clock::time_point from_epoch(std::string_view text) {
  double seconds = 0;
  std::from_chars(text.data(), text.data() + text.size(), seconds);
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
}

}  // namespace

PageRead read_page(const twilio::Response& response, Clock::time_point not_before, int page, int max_pages,
                   std::vector<twilio::MessageResource>& listed) {
  PageRead read;
  if (response.failure != twilio::Failure::None) {
    read.problem = "transport: " + response.error;
    return read;
  }
  if (response.http_status != 200) {
    read.problem = "HTTP " + std::to_string(response.http_status);
    return read;
  }
  auto parsed = twilio::parse_message_page(response.body);
  if (!parsed) {
    read.problem = "the answer is not a message list";
    return read;
  }
  bool older_than_send = false;
  for (auto& message : parsed->messages) {
    if (message.date_created && *message.date_created < not_before) older_than_send = true;
    listed.push_back(std::move(message));
  }
  // Newest first: once a page reaches back before the send, later pages
  // hold only older messages.
  if (older_than_send || parsed->next_page_uri.empty()) {
    read.step = PageStep::Complete;
    return read;
  }
  if (page >= max_pages) {
    read.problem = "more than " + std::to_string(static_cast<long long>(max_pages) * kPageSize) +
                   " messages since the send: the list is inconclusive";
    return read;
  }
  read.step = PageStep::NextPage;
  read.next_page_uri = std::move(parsed->next_page_uri);
  return read;
}

UnknownDecision resolve_unknown(const UnknownSend& message, const std::vector<twilio::MessageResource>* listed,
                                const std::vector<std::string>& taken, long long max_attempts) {
  UnknownDecision decision;
  // A lookup that failed proves nothing.
  if (listed == nullptr) return decision;
  if (const twilio::MessageResource* found = twilio::find_lost_send(message.send, *listed, taken)) {
    decision.resolution = Resolution::Found;
    decision.found = found;
    return decision;
  }
  // Not listed yet may only mean not listed yet.
  if (!message.window_passed) return decision;
  // Twilio's list proves the request never created a message: sending it
  // again cannot make a duplicate.
  if (message.attempts >= max_attempts) {
    decision.resolution = Resolution::GiveUp;
    decision.why = "not created at Twilio after " + std::to_string(message.attempts) +
                   " attempts (the last one's answer was lost)";
  } else {
    decision.resolution = Resolution::SendAgain;
    decision.why = "reconcile: not in Twilio's message list after the window; sent again";
  }
  return decision;
}

ReconcileStats reconcile(pg::Connection& db, const config::Config& config, int limit) {
  ReconcileStats stats;
  const long long timeout_ms = config.integer("send_timeout_ms");
  const std::string stale_seconds = std::to_string((timeout_ms + kStaleMarginMs + 999) / 1000);
  stats.stale_claims =
      db.exec("SELECT wagate_mark_stale_dispatching(make_interval(secs => $1::float8))", {stale_seconds}).get_int(0, 0);
  if (stats.stale_claims > 0) log::warning("reconcile_stale_claims").kv("count", stats.stale_claims);
  stats.orphaned_events = db.exec("SELECT wagate_apply_orphaned_events(1000)").get_int(0, 0);
  if (stats.orphaned_events > 0) log::info("reconcile_orphaned_events").kv("count", stats.orphaned_events);

  const std::string limit_text = std::to_string(limit);
  const std::string window_text = std::to_string(config.integer("reconcile_window_minutes"));
  const pg::Result due = db.exec(kDueUnknown, {limit_text, window_text});
  if (due.rows() == 0) return stats;
  const Secret& master_file = config.secret("master_key_file");
  if (master_file.empty()) throw ConfigError("master_key_file is not set: tenant credentials cannot be opened");
  const Secret master_key = crypto::master_key_from(master_file.reveal());
  const long long max_attempts = config.integer("send_max_attempts");
  std::map<long long, std::shared_ptr<const tenants::Tenant>> tenant_cache;

  for (int r = 0; r < due.rows(); ++r) {
    Row row;
    row.tenant_id = due.get_int(r, 0);
    row.created_at = due.get(r, 1);
    row.id = due.get(r, 2);
    row.to = due.get(r, 3);
    row.from = due.get(r, 4);
    row.body = due.get(r, 5);
    row.attempts = static_cast<int>(due.get_int(r, 6));
    row.created = from_epoch(due.get(r, 7));
    row.window_passed = due.get(r, 8) == "t";
    const std::string tenant_text = std::to_string(row.tenant_id);
    const auto look_again_later = [&] {
      ++stats.pending;
      db.exec(kLookAgainLater, {tenant_text, row.created_at, row.id});
    };

    auto cached = tenant_cache.find(row.tenant_id);
    if (cached == tenant_cache.end()) {
      std::shared_ptr<const tenants::Tenant> tenant;
      try {
        if (auto loaded = tenants::load_by_id(db, master_key, row.tenant_id)) {
          tenant = std::make_shared<const tenants::Tenant>(std::move(*loaded));
        }
      } catch (const DbError&) {
        throw;
      } catch (const Error& e) {
        log::error("reconcile_tenant_unusable").kv("tenant", row.tenant_id).kv("error", e.what());
      }
      cached = tenant_cache.emplace(row.tenant_id, tenant).first;
    }
    const auto& tenant = cached->second;
    if (!tenant || tenant->auth_tokens.empty()) {
      look_again_later();
      continue;
    }
    ++stats.checked;
    twilio::LostSend send;
    send.to = row.to;
    if (!row.from.empty()) {
      send.from = row.from;
    } else if (!tenant->messaging_service_sid.empty()) {
      send.messaging_service_sid = tenant->messaging_service_sid;
    } else {
      send.from = tenant->whatsapp_from;
    }
    send.body = row.body;
    send.not_before = row.created - std::chrono::minutes(1);
    const twilio::Credentials credentials{tenant->account_sid, tenant->auth_tokens.front()};
    std::string problem;
    const auto listed = list_candidates(config, credentials, send, problem);
    if (!listed) {
      log::warning("reconcile_lookup_failed").kv("tenant", row.tenant_id).kv("message_id", row.id).kv("error", problem);
      look_again_later();
      continue;
    }
    const std::vector<std::string> taken = taken_sids(db, *listed);
    const UnknownSend message{send, row.attempts, row.window_passed};
    const UnknownDecision decision = resolve_unknown(message, &*listed, taken, max_attempts);
    const std::string attempts_text = std::to_string(row.attempts);
    switch (decision.resolution) {
      case Resolution::Found: {
        const std::string result = record_found(db, row, *decision.found);
        ++stats.found;
        auto line = result == "sid_conflict" ? log::error("reconcile_found") : log::info("reconcile_found");
        line.kv("tenant", row.tenant_id).kv("message_id", row.id).kv("sid", decision.found->sid)
            .kv("status", decision.found->status).kv("record", result);
        break;
      }
      case Resolution::LookAgainLater:
        look_again_later();
        break;
      case Resolution::GiveUp:
        db.exec(kGiveUp, {tenant_text, row.created_at, row.id, attempts_text, decision.why});
        ++stats.gave_up;
        log::warning("reconcile_gave_up").kv("tenant", row.tenant_id).kv("message_id", row.id)
            .kv("attempts", row.attempts);
        break;
      case Resolution::SendAgain:
        db.exec(kSendAgain, {tenant_text, row.created_at, row.id, attempts_text, decision.why});
        ++stats.resent;
        log::info("reconcile_send_again").kv("tenant", row.tenant_id).kv("message_id", row.id)
            .kv("attempts", row.attempts);
        break;
    }
  }
  return stats;
}

}  // namespace wagate::maint
