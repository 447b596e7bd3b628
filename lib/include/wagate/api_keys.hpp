// api_keys.hpp — API keys: format, generation, hashing, scopes, lookup and a per-process verification cache.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace wagate::pg {
class Connection;
}

namespace wagate::api_keys {

// A key reads "wg_<key_id>_<secret>": key_id is 12 characters of lowercase
// base32 (public: it names the key in logs and in `wagate-admin key list`),
// the secret is 32 random bytes in unpadded base64url. Only the SHA-256 of
// the whole key is stored, so a database dump opens no door.
inline constexpr std::string_view kPrefix = "wg_";
inline constexpr size_t kKeyIdLength = 12;
inline constexpr size_t kSecretBytes = 32;
inline constexpr size_t kSecretLength = 43;  // base64url of 32 bytes without padding
inline constexpr size_t kKeyLength = kPrefix.size() + kKeyIdLength + 1 + kSecretLength;

// What a key may do. Admin is reserved: no route asks for it yet.
enum class Scope : unsigned { Send = 1U, Read = 2U, Admin = 4U };
using ScopeSet = unsigned;  // bits of Scope

[[nodiscard]] std::string_view scope_name(Scope scope);
[[nodiscard]] std::optional<Scope> parse_scope(std::string_view name);
[[nodiscard]] constexpr bool has(ScopeSet set, Scope scope) { return (set & static_cast<unsigned>(scope)) != 0; }

// "send,read" (blanks around names ignored) -> the set; `error` says what is
// wrong when a name is unknown or the list is empty.
struct ScopeList {
  ScopeSet scopes = 0;
  std::string error;
};
[[nodiscard]] ScopeList parse_scope_list(std::string_view text);
// The names of the scopes in a set, in Scope order ("send", "read", "admin").
[[nodiscard]] std::string scope_list_text(ScopeSet scopes);

// A freshly made key: `key` is shown to the operator once and never stored.
struct NewKey {
  std::string key_id;
  std::string key;
  std::string hash;  // raw SHA-256 of `key`, what api_keys.key_hash holds
};
[[nodiscard]] NewKey generate();

// Raw SHA-256 (32 bytes) of the whole key text.
[[nodiscard]] std::string hash(std::string_view key);

[[nodiscard]] bool valid_key_id(std::string_view key_id);
// The key_id of a well-formed key, nullopt for anything else (wrong length,
// prefix or alphabet, a secret that is not canonical base64url of 32 bytes).
[[nodiscard]] std::optional<std::string_view> key_id_of(std::string_view key);

// What a stored key grants, with the tenant settings every API call needs,
// loaded together so that an authenticated request costs no further query.
struct Key {
  std::string key_id;
  long long tenant_id = 0;
  std::string tenant_name;
  ScopeSet scopes = 0;
  std::string key_hash;  // raw SHA-256
  bool revoked = false;
  std::string default_country_code;
  std::optional<std::string> whatsapp_from;
  std::optional<std::string> messaging_service_sid;
};

// The api_keys row of key_id joined with its tenant; nullopt when unknown.
// Scope names this version does not know are ignored. Throws DbError.
[[nodiscard]] std::optional<Key> load(pg::Connection& db, std::string_view key_id);
// Records that the key was used; skipped when it was recorded in the last
// minute, so busy keys do not write on every cache refresh. Throws DbError.
void touch(pg::Connection& db, std::string_view key_id);

enum class Verdict {
  Ok,
  Malformed,  // not of the wg_<key_id>_<secret> form
  Unknown,    // no such key_id
  Mismatch,   // key_id known, secret wrong
  Revoked,
};
[[nodiscard]] std::string_view verdict_name(Verdict verdict);

struct Verification {
  Verdict verdict = Verdict::Malformed;
  std::shared_ptr<const Key> key;  // set when Ok
};

// Process-wide cache of stored keys by key_id, shared by the accepting
// threads. The secret is never kept: every request hashes the presented key
// and compares in constant time against the cached hash. An entry is reused
// for `ttl`, so a revocation takes effect within that time; unknown key_ids
// are cached too, so that junk keys cannot hammer the database.
class Cache {
 public:
  // Loads a key by key_id (api_keys::load in production). Called without the
  // cache's lock held; throws what it throws (DbError).
  using Loader = std::function<std::optional<Key>(std::string_view key_id)>;

  explicit Cache(size_t max_entries = 10000) : max_entries_(max_entries) {}

  // `fresh_load` is set to true when the loader ran and found the key (the
  // caller may then record its use).
  Verification verify(std::string_view presented, const Loader& loader, std::chrono::milliseconds ttl,
                      bool* fresh_load = nullptr);
  void clear();

 private:
  struct Entry {
    std::shared_ptr<const Key> key;  // null: no such key_id
    std::chrono::steady_clock::time_point loaded;
  };

  size_t max_entries_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace wagate::api_keys
