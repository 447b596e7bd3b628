// health.cpp — GET /api/v1/health: each dependency's state and latency; 503 names what is down.
#include "health.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/redis.hpp"
#include "wagate/spool.hpp"

namespace wagate::api {
namespace {

struct Check {
  const char* name = "";
  bool ok = false;
  double latency_ms = 0;
  const char* reason = "";
};

bool mentions(const std::string& text, std::initializer_list<const char*> words) {
  return std::any_of(words.begin(), words.end(), [&](const char* word) { return text.find(word) != std::string::npos; });
}

}  // namespace

const char* failure_reason(const Error& error) {
  if (const auto* query = dynamic_cast<const pg::QueryError*>(&error)) {
    if (query->sqlstate().starts_with("28")) return "auth_failed";
    if (query->sqlstate() == "57014") return "timeout";  // statement_timeout
    return "query_failed";
  }
  std::string text = error.what();
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (mentions(text, {"timeout", "timed out"})) return "timeout";
  if (mentions(text, {"password", "authentication", "auth failed", "noauth", "wrongpass", "no pg_hba.conf"})) {
    return "auth_failed";
  }
  if (mentions(text, {"connect", "connection", "no such file", "refused", "reset by peer", "broken pipe"})) {
    return "connect_failed";
  }
  return "query_failed";
}

namespace {

// The body is public (health needs no key): it says which check failed and
// a stable reason code, never the driver's text with hosts, ports and users;
// that goes to the log, once per failed check.
Check run_check(const char* name, const std::function<void()>& probe) {
  Check check;
  check.name = name;
  const auto start = std::chrono::steady_clock::now();
  try {
    probe();
    check.ok = true;
  } catch (const Error& e) {
    check.reason = failure_reason(e);
    log::warning("health_check_failed").kv("check", name).kv("reason", check.reason).kv("error", e.what());
  }
  check.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return check;
}

}  // namespace

http::Response health(http::Request& /*request*/, Context& context) {
  std::vector<Check> checks;
  checks.push_back(run_check("postgres", [&] {
    try {
      context.db().exec("SELECT 1");
    } catch (const DbError&) {
      context.drop_db();  // the next request reconnects instead of reusing a dead socket
      throw;
    }
  }));
  checks.push_back(run_check("redis", [&] {
    const redis::Reply reply = context.redis().command({"PING"});
    if (reply.is_error()) throw RedisError("redis: " + std::string(reply.str()));
  }));

  json::Value body = json::object();
  json::Value detail = json::object();
  std::string down;
  for (const Check& check : checks) {
    json::Value entry = json::object();
    json::set(entry.get(), "status", json::string(check.ok ? "ok" : "down"));
    json::set(entry.get(), "ok", json::boolean(check.ok));
    json::set(entry.get(), "latency_ms", json::real(check.latency_ms));
    if (!check.ok) {
      json::set(entry.get(), "reason", json::string(check.reason));
      if (!down.empty()) down += ", ";
      down += check.name;
    }
    json::set(detail.get(), check.name, std::move(entry));
  }
  json::set(body.get(), "status", json::string(down.empty() ? "ok" : "unavailable"));
  json::set(body.get(), "checks", std::move(detail));
  // Webhooks held on local disk while Postgres was unreachable: not an
  // error by itself (they replay when it is back), but an operator must see
  // it. Cheap by design (no file's contents are read; see spool::stats), as
  // anyone may call this.
  const spool::Stats spooled = spool::stats(context.config().str("spool_dir"));
  json::Value spool_info = json::object();
  json::set(spool_info.get(), "files", json::integer(static_cast<long long>(spooled.files)));
  json::set(spool_info.get(), "records", json::integer(static_cast<long long>(spooled.records)));
  json::set(spool_info.get(), "bytes", json::integer(static_cast<long long>(spooled.bytes)));
  json::set(spool_info.get(), "quarantine_files", json::integer(static_cast<long long>(spooled.quarantine_files)));
  json::set(body.get(), "spool", std::move(spool_info));
  if (!down.empty()) {
    json::Value error = json::object();
    json::set(error.get(), "code", json::string("dependency_down"));
    json::set(error.get(), "message", json::string(down + " unavailable"));
    json::set(body.get(), "error", std::move(error));
  }
  return http::Response::json(down.empty() ? 200 : 503, json::dump(body.get()));
}

}  // namespace wagate::api
