// api_keys.cpp — API keys: format, generation, hashing, scopes, lookup and a per-process verification cache.
#include "wagate/api_keys.hpp"

#include <array>

#include "wagate/crypto.hpp"
#include "wagate/pg.hpp"

namespace wagate::api_keys {
namespace {

// Lowercase base32: no characters that look alike in a terminal or a URL, and
// none that needs quoting in a shell.
constexpr std::string_view kKeyIdAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

constexpr std::array<Scope, 3> kScopes = {Scope::Send, Scope::Read, Scope::Admin};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string_view scope_name(Scope scope) {
  switch (scope) {
    case Scope::Send: return "send";
    case Scope::Read: return "read";
    case Scope::Admin: return "admin";
  }
  return "unknown";
}

std::optional<Scope> parse_scope(std::string_view name) {
  for (const Scope scope : kScopes) {
    if (scope_name(scope) == name) return scope;
  }
  return std::nullopt;
}

ScopeList parse_scope_list(std::string_view text) {
  ScopeList list;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view word = trim(text.substr(0, comma));
    if (!word.empty()) {
      const auto scope = parse_scope(word);
      if (!scope) {
        list.error = "unknown scope '" + std::string(word) + "' (known: send, read, admin)";
        return list;
      }
      list.scopes |= static_cast<unsigned>(*scope);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (list.scopes == 0) list.error = "no scope given (known: send, read, admin)";
  return list;
}

std::string scope_list_text(ScopeSet scopes) {
  std::string text;
  for (const Scope scope : kScopes) {
    if (!has(scopes, scope)) continue;
    if (!text.empty()) text += ',';
    text += scope_name(scope);
  }
  return text;
}

NewKey generate() {
  NewKey key;
  // 32 divides 256, so each random byte maps to a character without bias.
  for (const char byte : crypto::random_bytes(kKeyIdLength)) {
    key.key_id.push_back(kKeyIdAlphabet[static_cast<unsigned char>(byte) % kKeyIdAlphabet.size()]);
  }
  key.key = std::string(kPrefix) + key.key_id + "_" + crypto::base64url(crypto::random_bytes(kSecretBytes));
  key.hash = hash(key.key);
  return key;
}

std::string hash(std::string_view key) { return crypto::sha256(key); }

bool valid_key_id(std::string_view key_id) {
  if (key_id.size() != kKeyIdLength) return false;
  for (const char c : key_id) {
    if (kKeyIdAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::optional<std::string_view> key_id_of(std::string_view key) {
  if (key.size() != kKeyLength || !key.starts_with(kPrefix)) return std::nullopt;
  const std::string_view key_id = key.substr(kPrefix.size(), kKeyIdLength);
  if (!valid_key_id(key_id) || key[kPrefix.size() + kKeyIdLength] != '_') return std::nullopt;
  // The secret may itself contain '_' (base64url), hence fixed positions.
  const auto secret = crypto::unbase64url(key.substr(kPrefix.size() + kKeyIdLength + 1));
  if (!secret || secret->size() != kSecretBytes) return std::nullopt;
  return key_id;
}

std::optional<Key> load(pg::Connection& db, std::string_view key_id) {
  db.prepare("api_keys_load",
             "SELECT k.key_id, k.tenant_id, t.name, array_to_string(k.scopes, ','), encode(k.key_hash, 'hex'), "
             "k.revoked_at IS NOT NULL, t.default_country_code, t.whatsapp_from, t.messaging_service_sid "
             "FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id WHERE k.key_id = $1");
  const pg::Result row = db.exec_prepared("api_keys_load", {key_id});
  if (row.rows() == 0) return std::nullopt;
  Key key;
  key.key_id = row.get(0, 0);
  key.tenant_id = row.get_int(0, 1);
  key.tenant_name = row.get(0, 2);
  // Names from a newer version are skipped rather than refusing the key.
  std::string_view names = row.get(0, 3);
  while (!names.empty()) {
    const size_t comma = names.find(',');
    if (const auto scope = parse_scope(names.substr(0, comma))) key.scopes |= static_cast<unsigned>(*scope);
    if (comma == std::string_view::npos) break;
    names.remove_prefix(comma + 1);
  }
  key.key_hash = crypto::unhex(row.get(0, 4)).value_or("");
  key.revoked = row.get(0, 5) == "t";
  key.default_country_code = row.get(0, 6);
  key.whatsapp_from = row.optional(0, 7);
  key.messaging_service_sid = row.optional(0, 8);
  return key;
}

void touch(pg::Connection& db, std::string_view key_id) {
  db.prepare("api_keys_touch",
             "UPDATE api_keys SET last_used_at = now() WHERE key_id = $1 "
             "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')");
  db.exec_prepared("api_keys_touch", {key_id});
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Ok: return "ok";
    case Verdict::Malformed: return "malformed";
    case Verdict::Unknown: return "unknown";
    case Verdict::Mismatch: return "mismatch";
    case Verdict::Revoked: return "revoked";
  }
  return "unknown";
}

Verification Cache::verify(std::string_view presented, const Loader& loader, std::chrono::milliseconds ttl,
                           bool* fresh_load) {
  if (fresh_load != nullptr) *fresh_load = false;
  const auto key_id = key_id_of(presented);
  if (!key_id) return {Verdict::Malformed, nullptr};

  std::shared_ptr<const Key> key;
  bool cached = false;
  const auto now = std::chrono::steady_clock::now();
  {
    const std::lock_guard lock(mutex_);
    const auto it = entries_.find(*key_id);
    if (it != entries_.end() && now - it->second.loaded < ttl) {
      key = it->second.key;
      cached = true;
    }
  }
  if (!cached) {
    // Loaded without the lock: a slow query must not hold up other threads'
    // cached lookups. Two threads may load the same key; the last one wins.
    std::optional<Key> loaded = loader(*key_id);
    if (loaded) key = std::make_shared<const Key>(std::move(*loaded));
    if (fresh_load != nullptr) *fresh_load = key != nullptr;
    const std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) {
      // Bounded memory against a flood of made-up key_ids: drop what is
      // stale, and everything if that is not enough.
      std::erase_if(entries_, [&](const auto& entry) { return now - entry.second.loaded >= ttl; });
      if (entries_.size() >= max_entries_) entries_.clear();
    }
    entries_.insert_or_assign(std::string(*key_id), Entry{key, now});
  }

  if (key == nullptr) return {Verdict::Unknown, nullptr};
  if (!crypto::constant_time_equal(hash(presented), key->key_hash)) return {Verdict::Mismatch, nullptr};
  if (key->revoked) return {Verdict::Revoked, nullptr};
  return {Verdict::Ok, key};
}

void Cache::clear() {
  const std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace wagate::api_keys
