// health.cpp — GET /api/v1/health: each dependency's state and latency; 503 names what is down.
#include "health.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/json.hpp"
#include "wagate/pg.hpp"
#include "wagate/redis.hpp"
#include "wagate/spool.hpp"

namespace wagate::api {
namespace {

struct Check {
  const char* name = "";
  bool ok = false;
  double latency_ms = 0;
  std::string error;
};

Check run_check(const char* name, const std::function<void()>& probe) {
  Check check;
  check.name = name;
  const auto start = std::chrono::steady_clock::now();
  try {
    probe();
    check.ok = true;
  } catch (const Error& e) {
    check.error = e.what();
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
    json::set(entry.get(), "ok", json::boolean(check.ok));
    json::set(entry.get(), "latency_ms", json::real(check.latency_ms));
    if (!check.ok) {
      json::set(entry.get(), "error", json::string(check.error));
      if (!down.empty()) down += ", ";
      down += check.name;
    }
    json::set(detail.get(), check.name, std::move(entry));
  }
  json::set(body.get(), "status", json::string(down.empty() ? "ok" : "unavailable"));
  json::set(body.get(), "checks", std::move(detail));
  // Webhooks held on local disk while Postgres was unreachable: not an
  // error by itself (they replay when it is back), but an operator must see it.
  const spool::Stats spooled = spool::stats(context.config().str("spool_dir"));
  json::Value spool_info = json::object();
  json::set(spool_info.get(), "files", json::integer(static_cast<long long>(spooled.files)));
  json::set(spool_info.get(), "records", json::integer(static_cast<long long>(spooled.records)));
  json::set(spool_info.get(), "bytes", json::integer(static_cast<long long>(spooled.bytes)));
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
