// crypto.hpp — OpenSSL-backed primitives: HMAC, SHA-256, hex/base64, constant-time compare, AES-256-GCM.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "wagate/secret.hpp"

namespace wagate::crypto {

inline constexpr size_t kKeySize = 32;    // AES-256
inline constexpr size_t kNonceSize = 12;  // GCM's native nonce size
inline constexpr size_t kTagSize = 16;

// Raw digests (20 bytes for SHA-1, 32 for SHA-256), not hex.
[[nodiscard]] std::string hmac_sha1(std::string_view key, std::string_view message);
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view message);
[[nodiscard]] std::string sha256(std::string_view data);

[[nodiscard]] std::string hex(std::string_view bytes);  // lowercase
[[nodiscard]] std::optional<std::string> unhex(std::string_view hex);  // either case; nullopt on odd length or non-hex

// Standard alphabet with '=' padding. Decoding is strict: no whitespace, exact
// padding, and unused trailing bits must be zero, so each value has one spelling.
[[nodiscard]] std::string base64(std::string_view bytes);
[[nodiscard]] std::optional<std::string> unbase64(std::string_view text);
// URL-safe alphabet ('-', '_') without padding, as JWT uses; decoding as strict.
[[nodiscard]] std::string base64url(std::string_view bytes);
[[nodiscard]] std::optional<std::string> unbase64url(std::string_view text);

// Time depends only on the lengths, never on where the bytes differ.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// n bytes from OpenSSL's CSPRNG; throws wagate::Error if it fails.
[[nodiscard]] std::string random_bytes(size_t n);

// AES-256-GCM with a fresh 12-byte random nonce: sealed = nonce || ciphertext || 16-byte tag.
// aad binds the ciphertext to its row (e.g. "tenant:42:auth_token") so that a
// ciphertext copied into another row does not open. The key must be 32 bytes
// (throws ConfigError otherwise).
[[nodiscard]] std::string seal(const Secret& key, std::string_view plaintext, std::string_view aad);
// nullopt when the ciphertext, tag, nonce or aad was altered, or the key is not the sealing key.
[[nodiscard]] std::optional<std::string> open(const Secret& key, std::string_view sealed, std::string_view aad);

// The master key file: 64 hex characters (surrounding whitespace ignored) ->
// 32-byte key. Anything else throws ConfigError without echoing the content.
[[nodiscard]] Secret master_key_from(std::string_view file_content);

}  // namespace wagate::crypto
