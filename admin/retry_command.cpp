// retry_command.cpp — wagate-admin retry: resend failed outbound messages as new ones when a resend can help.
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"
#include "wagate/pg.hpp"
#include "wagate/redis.hpp"
#include "wagate/send_queue.hpp"

namespace wagate::admin {
namespace {

constexpr const char* kUsage =
    "usage: wagate-admin retry --since TIME [--error-code N[,N...]] [--tenant NAME] [--limit N] [--dry-run] "
    "[--force]\n"
    "Sends failed outbound messages created since TIME again, each as a new message (retry_of = the original),\n"
    "when their error code says a resend can help. A message that already has a retry is never retried again;\n"
    "recipients who opted out, and free-form messages whose 24-hour window has closed, are skipped.\n"
    "  --since TIME        an RFC 3339 time (2024-05-01T00:00:00Z), a duration back from now (90m, 6h, 2d),\n"
    "                      or any time Postgres reads ('yesterday')\n"
    "  --error-code LIST   only these codes (default: every code the error table marks retryable);\n"
    "                      a code that is not retryable is refused unless --force\n"
    "  --tenant NAME       only this tenant's messages\n"
    "  --limit N           retry at most N messages (oldest first)\n"
    "  --dry-run           list what would be done, change nothing\n";

// Serialises retry runs: the check "has no retry yet" and the insert of the
// retry must not interleave with another run's.
constexpr std::string_view kRetryLockKey = "wagate-admin retry";

int usage(const std::string& problem) {
  std::cerr << "wagate-admin retry: " << problem << '\n' << kUsage;
  return kExitUsage;
}

struct Options {
  std::string since;
  std::vector<int> codes;
  std::optional<std::string> tenant;
  std::optional<long long> limit;
  bool dry_run = false;
  bool force = false;
};

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "90m" -> "90 minutes"; nullopt when the text is not such a duration.
std::optional<std::string> duration_interval(std::string_view text) {
  if (text.size() < 2 || !all_digits(text.substr(0, text.size() - 1)) || text.size() > 10) return std::nullopt;
  const std::string number(text.substr(0, text.size() - 1));
  switch (text.back()) {
    case 's': return number + " seconds";
    case 'm': return number + " minutes";
    case 'h': return number + " hours";
    case 'd': return number + " days";
    default: return std::nullopt;
  }
}

// Fills `options` or returns the problem.
std::string parse(std::span<const std::string> args, Options& options) {
  bool have_codes = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--dry-run") {
      options.dry_run = true;
      continue;
    }
    if (arg == "--force") {
      options.force = true;
      continue;
    }
    if (arg != "--since" && arg != "--error-code" && arg != "--tenant" && arg != "--limit") {
      return arg.starts_with("--") ? "unknown flag " + arg : "unexpected argument '" + arg + "'";
    }
    if (i + 1 >= args.size()) return arg + " needs a value";
    const std::string& value = args[++i];
    if (arg == "--since") {
      options.since = value;
    } else if (arg == "--tenant") {
      options.tenant = value;
    } else if (arg == "--limit") {
      if (!all_digits(value) || value.size() > 9 || std::stoll(value) < 1) return "--limit must be a positive number";
      options.limit = std::stoll(value);
    } else {
      have_codes = true;
      size_t start = 0;
      while (start <= value.size()) {
        const size_t comma = value.find(',', start);
        const std::string code = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? value.size() + 1 : comma + 1;
        if (!all_digits(code) || code.size() > 6) return "--error-code: '" + code + "' is not an error code";
        options.codes.push_back(std::stoi(code));
      }
    }
  }
  if (options.since.empty()) return "--since TIME is required";
  if (!have_codes) {
    for (const error_codes::ErrorCode& entry : error_codes::all()) {
      if (entry.retryable) options.codes.push_back(entry.code);
    }
  }
  return {};
}

std::string int_array(const std::vector<int>& codes) {
  std::string out = "{";
  for (const int code : codes) out += (out.size() > 1 ? "," : "") + std::to_string(code);
  return out + "}";
}

std::string code_text(int code) {
  return std::to_string(code) + " (" + std::string(error_codes::describe(code).description) + ")";
}

// The time --since names, as Postgres prints it; usage errors become
// nullopt with `problem` set.
std::optional<std::string> resolve_since(pg::Connection& db, const std::string& since, std::string& problem) {
  try {
    if (const auto interval = duration_interval(since)) {
      return std::string(db.exec("SELECT (now() - $1::interval)::text", {*interval}).get(0, 0));
    }
    return std::string(db.exec("SELECT $1::timestamptz::text", {since}).get(0, 0));
  } catch (const pg::QueryError& e) {
    // Class 22: data exception (a time Postgres cannot read).
    if (!e.sqlstate().starts_with("22")) throw;
    problem = "--since: '" + since + "' is neither a time nor a duration like 6h";
    return std::nullopt;
  }
}

// Columns of the candidate query, in order.
enum Candidate : int {
  kTenantId, kTenantName, kId, kCreatedAt, kTo, kErrorCode, kStatus, kFreeForm, kOptedOut, kWindowOpen, kRetryId,
};

}  // namespace

int retry_command(const Globals& globals, std::span<const std::string> args) {
  Options options;
  if (const std::string problem = parse(args, options); !problem.empty()) return usage(problem);

  std::vector<std::string> refused;
  for (const int code : options.codes) {
    const error_codes::ErrorCode* entry = error_codes::find(code);
    if (entry == nullptr) {
      refused.push_back(std::to_string(code) + " (not in the error table)");
    } else if (!entry->retryable) {
      refused.push_back(code_text(code) + ": " + std::string(entry->action));
    }
  }
  if (!refused.empty() && !options.force) {
    std::cerr << "wagate-admin retry: a resend cannot help with these codes; pass --force to resend anyway:\n";
    for (const std::string& line : refused) std::cerr << "  " << line << '\n';
    return kExitUsage;
  }

  const config::Config config = load_config(globals);
  pg::Connection db(config.str("pg_dsn"));
  std::string problem;
  const std::optional<std::string> since = resolve_since(db, options.since, problem);
  if (!since) return usage(problem);
  std::optional<std::string> tenant_id;
  if (options.tenant) {
    const pg::Result found = db.exec("SELECT tenant_id FROM tenants WHERE name = $1", {*options.tenant});
    if (found.rows() == 0) throw Error("no tenant named " + *options.tenant);
    tenant_id = std::string(found.get(0, 0));
  }
  std::cerr << (options.dry_run ? "dry run: " : "") << "failed outbound messages since " << *since
            << (options.tenant ? " of tenant " + *options.tenant : std::string()) << " with error codes "
            << int_array(options.codes) << '\n';

  pg::Transaction tx(db);
  db.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {kRetryLockKey});
  // Retries are created after their original, so those of the candidates
  // are all among the messages created since `since`: one pass finds them.
  const std::string limit = options.limit ? std::to_string(*options.limit) : "ALL";
  const pg::Result candidates = db.exec(
      "SELECT m.tenant_id, t.name, m.id::text, m.created_at::text, m.to_addr, m.error_code, m.status, "
      "m.content_sid IS NULL, coalesce(c.opted_out, false), "
      "coalesce(c.window_expires_at > now(), false), r.retry_id "
      "FROM messages m JOIN tenants t ON t.tenant_id = m.tenant_id "
      "LEFT JOIN conversations c ON c.tenant_id = m.tenant_id AND c.phone = wagate_contact_phone(m.to_addr) "
      "LEFT JOIN (SELECT tenant_id, retry_of, min(id::text) AS retry_id FROM messages "
      "           WHERE retry_of IS NOT NULL AND created_at >= $1::timestamptz GROUP BY tenant_id, retry_of) r "
      "       ON r.tenant_id = m.tenant_id AND r.retry_of = m.id "
      "WHERE m.direction = 'outbound' AND m.status IN ('failed', 'undelivered') "
      "AND m.created_at >= $1::timestamptz AND m.error_code = ANY($2::int[]) "
      "AND ($3::bigint IS NULL OR m.tenant_id = $3::bigint) "
      "ORDER BY m.created_at, m.id LIMIT " + limit,
      {*since, int_array(options.codes), tenant_id ? pg::Param(*tenant_id) : std::nullopt});

  db.prepare("retry_insert",
             "INSERT INTO messages (tenant_id, direction, from_addr, to_addr, body, content_sid, content_variables, "
             "media, status, status_rank, client_ref, priority, attempts, next_attempt_at, retry_of) "
             "SELECT tenant_id, 'outbound', from_addr, to_addr, body, content_sid, content_variables, media, "
             "'accepted', wagate_status_rank('accepted'), client_ref, priority, 0, now(), id "
             "FROM messages WHERE tenant_id = $1 AND created_at = $2::timestamptz AND id = $3::uuid "
             "RETURNING id::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
             "priority");

  struct Created {
    std::string id;
    long long tenant_id;
    std::string created_at;
    send_queue::Priority priority;
  };
  std::vector<Created> created;
  long long already = 0;
  long long opted_out = 0;
  long long outside_window = 0;
  for (int i = 0; i < candidates.rows(); ++i) {
    const std::string id(candidates.get(i, kId));
    const std::string what = id + " (tenant " + std::string(candidates.get(i, kTenantName)) + ", to " +
                             std::string(candidates.get(i, kTo)) + ", " + std::string(candidates.get(i, kStatus)) +
                             " " + code_text(static_cast<int>(candidates.get_int(i, kErrorCode))) + ")";
    if (!candidates.is_null(i, kRetryId)) {
      ++already;
      std::cout << "skip " << what << ": already retried as " << candidates.get(i, kRetryId) << '\n';
      continue;
    }
    if (candidates.get(i, kOptedOut) == "t") {
      ++opted_out;
      std::cout << "skip " << what << ": the recipient opted out\n";
      continue;
    }
    if (candidates.get(i, kFreeForm) == "t" && candidates.get(i, kWindowOpen) != "t") {
      ++outside_window;
      std::cout << "skip " << what << ": free-form and the 24-hour window is closed; send a template instead\n";
      continue;
    }
    if (options.dry_run) {
      std::cout << "would retry " << what << '\n';
      created.push_back({id, candidates.get_int(i, kTenantId), {}, send_queue::Priority::Normal});
      continue;
    }
    const pg::Result row = db.exec_prepared(
        "retry_insert", {candidates.get(i, kTenantId), candidates.get(i, kCreatedAt), candidates.get(i, kId)});
    created.push_back({std::string(row.get(0, 0)), candidates.get_int(i, kTenantId), std::string(row.get(0, 1)),
                       row.get_int(0, 2) > 1 ? send_queue::Priority::High : send_queue::Priority::Normal});
    std::cout << "retried " << what << " as " << row.get(0, 0) << '\n';
  }
  tx.commit();  // a dry run wrote nothing: this only ends it and releases the lock
  if (!options.dry_run) {
    // The rows are committed with next_attempt_at = now(): if the queue is
    // unreachable, the sender's sweeper finds them anyway.
    if (!created.empty()) {
      try {
        redis::Client redis(config.str("redis_url"), std::chrono::milliseconds(config.integer("health_timeout_ms")));
        for (const Created& message : created) {
          send_queue::enqueue(redis, message.priority, message.id, message.tenant_id, message.created_at);
        }
      } catch (const RedisError& e) {
        std::cerr << "note: could not queue the new messages (" << e.what()
                  << "); the sender's sweeper sends them anyway, as they are due now\n";
      }
    }
  }
  const long long skipped = already + opted_out + outside_window;
  std::cout << created.size() << (options.dry_run ? " would be retried, " : " retried, ") << skipped << " skipped ("
            << already << " already retried, " << opted_out << " opted out, " << outside_window
            << " outside the 24-hour window)\n";
  return 0;
}

}  // namespace wagate::admin
