// api_keys_test.cpp — key format, hashing, scopes, and the verification cache (revocation, unknown keys, TTL).
#include "wagate/api_keys.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "wagate/crypto.hpp"

namespace wagate::api_keys {
namespace {

TEST(ApiKeys, GeneratedKeyHasTheDocumentedFormat) {
  const NewKey key = generate();
  ASSERT_EQ(key.key.size(), kKeyLength);
  EXPECT_TRUE(key.key.starts_with("wg_" + key.key_id + "_"));
  EXPECT_TRUE(valid_key_id(key.key_id));
  EXPECT_EQ(key_id_of(key.key), key.key_id);
  const auto secret = crypto::unbase64url(key.key.substr(kPrefix.size() + kKeyIdLength + 1));
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ(secret->size(), kSecretBytes);
}

// A fixed key and its SHA-256, computed outside the project
// (python3 -c 'import hashlib; print(hashlib.sha256(b"wg_...").hexdigest())'):
// what api_keys.key_hash holds for it, byte for byte.
constexpr std::string_view kFixedKey = "wg_abcdefghjkmn_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
constexpr std::string_view kFixedKeyHash = "2752f5d5dfc7e3a193005c6bfdb4d4157319c18948df1f42bf03c38157b9053b";

TEST(ApiKeys, StoredHashIsSha256OfTheWholeKey) {
  ASSERT_EQ(key_id_of(kFixedKey), "abcdefghjkmn");
  EXPECT_EQ(crypto::hex(hash(kFixedKey)), kFixedKeyHash);
  const NewKey key = generate();
  EXPECT_EQ(crypto::hex(key.hash), crypto::hex(crypto::sha256(key.key)));
  EXPECT_EQ(hash(key.key), key.hash);
}

TEST(ApiKeys, KeysAreUnique) {
  std::set<std::string> ids, keys;
  for (int i = 0; i < 200; ++i) {
    const NewKey key = generate();
    ids.insert(key.key_id);
    keys.insert(key.key);
  }
  EXPECT_EQ(ids.size(), 200U);
  EXPECT_EQ(keys.size(), 200U);
}

TEST(ApiKeys, MalformedKeysHaveNoKeyId) {
  const std::string good = generate().key;
  EXPECT_FALSE(key_id_of("").has_value());
  EXPECT_FALSE(key_id_of("wg_").has_value());
  EXPECT_FALSE(key_id_of(good.substr(0, good.size() - 1)).has_value());  // too short
  EXPECT_FALSE(key_id_of(good + "A").has_value());                       // too long
  EXPECT_FALSE(key_id_of("xx" + good.substr(2)).has_value());            // prefix
  std::string upper = good;
  upper[3] = 'A';  // key_ids are lower-case base32
  EXPECT_FALSE(key_id_of(upper).has_value());
  std::string digit = good;
  digit[3] = '1';  // not in the base32 alphabet
  EXPECT_FALSE(key_id_of(digit).has_value());
  std::string separator = good;
  separator[15] = '-';
  EXPECT_FALSE(key_id_of(separator).has_value());
  std::string secret = good;
  secret[20] = '+';  // standard base64, not base64url
  EXPECT_FALSE(key_id_of(secret).has_value());
  // A secret whose unused trailing bits are set is not the canonical
  // spelling of 32 bytes: refused, so each key has exactly one spelling.
  std::string noncanonical = good;
  noncanonical.back() = 'B';  // 'B' is 000001: sets one of the two unused bits
  EXPECT_FALSE(key_id_of(noncanonical).has_value());
}

TEST(ApiKeys, ScopeListsParseAndPrint) {
  const ScopeList both = parse_scope_list("send, read");
  EXPECT_TRUE(both.error.empty());
  EXPECT_TRUE(has(both.scopes, Scope::Send));
  EXPECT_TRUE(has(both.scopes, Scope::Read));
  EXPECT_FALSE(has(both.scopes, Scope::Admin));
  EXPECT_EQ(scope_list_text(both.scopes), "send,read");
  EXPECT_EQ(scope_list_text(parse_scope_list("read").scopes), "read");
  EXPECT_EQ(scope_list_text(parse_scope_list("admin,send,send").scopes), "send,admin");

  const ScopeList unknown = parse_scope_list("send,write");
  EXPECT_NE(unknown.error.find("'write'"), std::string::npos) << unknown.error;
  EXPECT_FALSE(parse_scope_list("").error.empty());
  EXPECT_FALSE(parse_scope_list(" , ").error.empty());
  EXPECT_FALSE(parse_scope_list("Send").error.empty());  // names are exact
}

// ---- the cache ----

struct FakeStore {
  std::map<std::string, Key, std::less<>> keys;
  int loads = 0;
  Cache::Loader loader() {
    return [this](std::string_view key_id) -> std::optional<Key> {
      ++loads;
      const auto it = keys.find(key_id);
      if (it == keys.end()) return std::nullopt;
      return it->second;
    };
  }
  std::string add(ScopeSet scopes, long long tenant_id = 7) {
    const NewKey made = generate();
    Key key;
    key.key_id = made.key_id;
    key.tenant_id = tenant_id;
    key.scopes = scopes;
    key.key_hash = made.hash;
    keys[made.key_id] = key;
    return made.key;
  }
};

constexpr std::chrono::milliseconds kLong = std::chrono::hours(1);
constexpr std::chrono::milliseconds kNoCache{0};

TEST(ApiKeyCache, ValidKeyIsVerifiedWithItsTenantAndScopes) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Send), 42);
  Cache cache;
  bool fresh = false;
  const Verification verification = cache.verify(key, store.loader(), kLong, &fresh);
  ASSERT_TRUE(verification.verdict == Verdict::Ok);
  EXPECT_TRUE(fresh);
  EXPECT_EQ(verification.key->tenant_id, 42);
  EXPECT_TRUE(has(verification.key->scopes, Scope::Send));
  EXPECT_FALSE(has(verification.key->scopes, Scope::Read));
}

// The stored row holds only the known digest: the right key verifies
// against it, any other secret under the same key_id does not.
TEST(ApiKeyCache, KnownDigestVerifiesItsKeyAndNoOther) {
  FakeStore store;
  Key stored;
  stored.key_id = "abcdefghjkmn";
  stored.tenant_id = 9;
  stored.scopes = static_cast<unsigned>(Scope::Read);
  stored.key_hash = *crypto::unhex(kFixedKeyHash);
  store.keys[stored.key_id] = stored;
  Cache cache;
  const Verification right = cache.verify(kFixedKey, store.loader(), kLong);
  ASSERT_TRUE(right.verdict == Verdict::Ok);
  EXPECT_EQ(right.key->tenant_id, 9);
  std::string wrong(kFixedKey);
  wrong[20] = wrong[20] == 'A' ? 'B' : 'A';  // a character of the secret
  ASSERT_TRUE(key_id_of(wrong).has_value()) << "still a well-formed key";
  EXPECT_TRUE(cache.verify(wrong, store.loader(), kLong).verdict == Verdict::Mismatch);
}

TEST(ApiKeyCache, WrongSecretForAKnownKeyIdIsAMismatch) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Send));
  // Same key_id, another valid secret.
  const std::string forged = key.substr(0, 16) + generate().key.substr(16);
  Cache cache;
  EXPECT_TRUE(cache.verify(forged, store.loader(), kLong).verdict == Verdict::Mismatch);
  EXPECT_TRUE(cache.verify(key, store.loader(), kLong).verdict == Verdict::Ok);
  // And after the right key was cached, the forged one still fails.
  EXPECT_TRUE(cache.verify(forged, store.loader(), kLong).verdict == Verdict::Mismatch);
}

TEST(ApiKeyCache, MalformedKeysNeverReachTheStore) {
  FakeStore store;
  Cache cache;
  EXPECT_TRUE(cache.verify("hunter2", store.loader(), kLong).verdict == Verdict::Malformed);
  EXPECT_TRUE(cache.verify("", store.loader(), kLong).verdict == Verdict::Malformed);
  EXPECT_EQ(store.loads, 0);
}

TEST(ApiKeyCache, UnknownKeysAreCachedToo) {
  FakeStore store;
  Cache cache;
  const std::string stranger = generate().key;
  EXPECT_TRUE(cache.verify(stranger, store.loader(), kLong).verdict == Verdict::Unknown);
  EXPECT_TRUE(cache.verify(stranger, store.loader(), kLong).verdict == Verdict::Unknown);
  EXPECT_EQ(store.loads, 1);
}

TEST(ApiKeyCache, CachedKeyIsNotReloadedWithinTheTtl) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Read));
  Cache cache;
  bool fresh = true;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(cache.verify(key, store.loader(), kLong, &fresh).verdict == Verdict::Ok);
  EXPECT_EQ(store.loads, 1);
  EXPECT_FALSE(fresh);  // the last call used the cache
}

TEST(ApiKeyCache, RevocationIsSeenOnceTheEntryExpires) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Send));
  const std::string key_id(*key_id_of(key));
  Cache cache;
  ASSERT_TRUE(cache.verify(key, store.loader(), kLong).verdict == Verdict::Ok);
  store.keys[key_id].revoked = true;
  // Within the TTL the process still trusts its copy: that is the documented delay.
  EXPECT_TRUE(cache.verify(key, store.loader(), kLong).verdict == Verdict::Ok);
  // Past it (a TTL of 0 is always past), the revocation applies.
  EXPECT_TRUE(cache.verify(key, store.loader(), kNoCache).verdict == Verdict::Revoked);
  EXPECT_TRUE(cache.verify(key, store.loader(), kLong).verdict == Verdict::Revoked);
}

TEST(ApiKeyCache, ShortTtlExpiresByTheClock) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Send));
  Cache cache;
  const auto ttl = std::chrono::milliseconds(20);
  ASSERT_TRUE(cache.verify(key, store.loader(), ttl).verdict == Verdict::Ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ASSERT_TRUE(cache.verify(key, store.loader(), ttl).verdict == Verdict::Ok);
  EXPECT_EQ(store.loads, 2);
}

TEST(ApiKeyCache, FloodOfMadeUpKeysStaysBounded) {
  FakeStore store;
  const std::string key = store.add(static_cast<unsigned>(Scope::Send));
  Cache cache(16);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(cache.verify(generate().key, store.loader(), kLong).verdict == Verdict::Unknown);
  }
  // Still correct afterwards: the real key verifies.
  EXPECT_TRUE(cache.verify(key, store.loader(), kLong).verdict == Verdict::Ok);
}

}  // namespace
}  // namespace wagate::api_keys
