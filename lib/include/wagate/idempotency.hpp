// idempotency.hpp — Idempotency-Key handling: key checks, request fingerprints, claiming and answering a key.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wagate::http {
struct Request;
}
namespace wagate::pg {
class Connection;
}

namespace wagate::idempotency {

inline constexpr size_t kMaxKeyLength = 255;
// Lower-case, as http::Request stores header names.
inline constexpr std::string_view kHeader = "idempotency-key";
inline constexpr std::string_view kLegacyHeader = "x-idempotency-key";
// Set on an answer that is the stored answer of an earlier request.
inline constexpr std::string_view kReplayedHeader = "Idempotent-Replayed";

// The key a request carries. No key: both empty. A key that cannot be used
// (too long, control characters, the two headers disagreeing): `error` says why.
struct RequestKey {
  std::optional<std::string> key;
  std::string error;
};
[[nodiscard]] RequestKey key_from(const http::Request& request);

// Why a key is refused ("is longer than 255 characters"), or "" when it is
// acceptable: 1 to kMaxKeyLength printable ASCII characters.
[[nodiscard]] std::string check_key(std::string_view key);

// SHA-256 (raw) over the method, the path and the exact body bytes: a retry
// must send the same bytes to count as the same request.
[[nodiscard]] std::string request_hash(std::string_view method, std::string_view path, std::string_view body);

// Advisory lock id of a (tenant, key): 64 bits of a SHA-256, so two live keys
// never share one in practice.
[[nodiscard]] long long lock_id(long long tenant_id, std::string_view key);

enum class Outcome {
  Claimed,   // first use (or the earlier use expired): go ahead, then complete()
  Replay,    // the same request was answered before: send `status` and `body` again
  Reused,    // the key was used for a different request
  InFlight,  // another request with this key is being processed right now
};
struct Claim {
  Outcome outcome = Outcome::Claimed;
  int status = 0;    // Replay
  std::string body;  // Replay
};

// Must run inside the caller's transaction, before its writes. Claimed takes
// a transaction-scoped advisory lock and writes the key's row (in_flight), so
// the key, the writes and the answer recorded by complete() commit together
// or not at all: a crash or a rollback leaves no half-claimed key behind.
// A concurrent request with the same key gets InFlight at once, without
// waiting for the lock. Throws DbError.
[[nodiscard]] Claim claim(pg::Connection& db, long long tenant_id, std::string_view key,
                          std::string_view request_hash, long long ttl_hours);

// claim() for this request (its method, path and body are what a replay
// must match), with the two refusals every route gives alike: ApiError 422
// idempotency_key_reused (the key named another request) and 409
// idempotency_key_in_flight (its first request is still running). What
// comes back is Claimed (go ahead) or Replay (answer the first answer again).
[[nodiscard]] Claim claim_or_refuse(pg::Connection& db, long long tenant_id, std::string_view key,
                                    const http::Request& request, long long ttl_hours);

// Stores the answer of a Claimed key (same transaction). Throws DbError.
void complete(pg::Connection& db, long long tenant_id, std::string_view key, int status, std::string_view body);

}  // namespace wagate::idempotency
