// idempotency.cpp — Idempotency-Key handling: key checks, request fingerprints, claiming and answering a key.
#include "wagate/idempotency.hpp"

#include <cstring>

#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/http.hpp"
#include "wagate/pg.hpp"

namespace wagate::idempotency {

RequestKey key_from(const http::Request& request) {
  RequestKey result;
  const auto primary = request.header(kHeader);
  const auto legacy = request.header(kLegacyHeader);
  if (primary && legacy && *primary != *legacy) {
    result.error = "Idempotency-Key and X-Idempotency-Key differ; send one of them";
    return result;
  }
  const auto value = primary ? primary : legacy;
  if (!value) return result;
  const std::string problem = check_key(*value);
  if (!problem.empty()) {
    result.error = std::string(primary ? "Idempotency-Key " : "X-Idempotency-Key ") + problem;
    return result;
  }
  result.key = std::string(*value);
  return result;
}

std::string check_key(std::string_view key) {
  if (key.empty()) return "is empty";
  if (key.size() > kMaxKeyLength) {
    return "is " + std::to_string(key.size()) + " characters long; at most " + std::to_string(kMaxKeyLength) +
           " are allowed";
  }
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) return "may hold printable ASCII characters only";
  }
  return {};
}

std::string request_hash(std::string_view method, std::string_view path, std::string_view body) {
  // Neither a method nor a path contains a newline, so the joined text has
  // exactly one reading.
  std::string text;
  text.reserve(method.size() + path.size() + body.size() + 2);
  text.append(method).append("\n").append(path).append("\n").append(body);
  return crypto::sha256(text);
}

long long lock_id(long long tenant_id, std::string_view key) {
  const std::string digest = crypto::sha256("idempotency\n" + std::to_string(tenant_id) + "\n" + std::string(key));
  long long id = 0;
  std::memcpy(&id, digest.data(), sizeof id);  // any 64 bits make a lock id
  return id;
}

Claim claim(pg::Connection& db, long long tenant_id, std::string_view key, std::string_view request_hash,
            long long ttl_hours) {
  db.prepare("idempotency_lock", "SELECT pg_try_advisory_xact_lock($1::bigint)");
  db.prepare("idempotency_find",
             "SELECT request_hash = decode($3, 'hex'), state, response_status, response_body FROM idempotency_keys "
             "WHERE tenant_id = $1 AND idem_key = $2 AND expires_at > now()");
  // An expired row is taken over in place; a live one is never overwritten
  // (the lock already told that nobody else is claiming it).
  db.prepare("idempotency_claim",
             "INSERT INTO idempotency_keys AS k (tenant_id, idem_key, request_hash, state, expires_at) "
             "VALUES ($1, $2, decode($3, 'hex'), 'in_flight', now() + make_interval(hours => $4::int)) "
             "ON CONFLICT (tenant_id, idem_key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
             "state = 'in_flight', response_status = NULL, response_body = NULL, created_at = now(), "
             "expires_at = EXCLUDED.expires_at WHERE k.expires_at <= now()");

  const std::string tenant = std::to_string(tenant_id);
  const std::string lock = std::to_string(lock_id(tenant_id, key));
  const std::string hash_hex = crypto::hex(request_hash);
  const std::string ttl = std::to_string(ttl_hours);

  // Try, never wait: the holder is a request with this key that has not
  // committed yet, and its caller should hear so now rather than queue.
  if (db.exec_prepared("idempotency_lock", {lock}).get(0, 0) != "t") return {Outcome::InFlight, 0, {}};

  // A new statement, so a new snapshot: an earlier holder of the lock has
  // committed by the time the lock is ours, and its row is visible here.
  const pg::Result found = db.exec_prepared("idempotency_find", {tenant, key, hash_hex});
  if (found.rows() > 0) {
    if (found.get(0, 0) != "t") return {Outcome::Reused, 0, {}};
    // This module never commits in_flight (the row is written and answered
    // in one transaction); a writer that does is still in progress.
    if (found.get(0, 1) != "done") return {Outcome::InFlight, 0, {}};
    return {Outcome::Replay, static_cast<int>(found.get_int(0, 2)), std::string(found.get(0, 3))};
  }
  const pg::Result inserted = db.exec_prepared("idempotency_claim", {tenant, key, hash_hex, ttl});
  if (inserted.affected() == 0) {
    // A live row that the lookup did not see: only a writer that does not
    // take the lock can cause it. Answer as for a request in progress.
    return {Outcome::InFlight, 0, {}};
  }
  return {Outcome::Claimed, 0, {}};
}

void complete(pg::Connection& db, long long tenant_id, std::string_view key, int status, std::string_view body) {
  db.prepare("idempotency_complete",
             "UPDATE idempotency_keys SET state = 'done', response_status = $3::int, response_body = $4 "
             "WHERE tenant_id = $1 AND idem_key = $2");
  const std::string tenant = std::to_string(tenant_id);
  const std::string status_text = std::to_string(status);
  db.exec_prepared("idempotency_complete", {tenant, key, status_text, body});
}

Claim claim_or_refuse(pg::Connection& db, long long tenant_id, std::string_view key, const http::Request& request,
                      long long ttl_hours) {
  Claim got = claim(db, tenant_id, key, request_hash(request.method, request.path, request.body), ttl_hours);
  switch (got.outcome) {
    case Outcome::Claimed:
    case Outcome::Replay:
      return got;
    case Outcome::Reused:
      throw ApiError(422, "idempotency_key_reused",
                     "this Idempotency-Key was used for a different request; use a new key for a new request",
                     "Idempotency-Key");
    case Outcome::InFlight:
      throw ApiError(409, "idempotency_key_in_flight",
                     "a request with this Idempotency-Key is being processed; retry shortly to get its answer",
                     "Idempotency-Key");
  }
  return got;
}

}  // namespace wagate::idempotency
