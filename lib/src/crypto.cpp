// crypto.cpp — OpenSSL-backed primitives: HMAC, SHA-256, hex/base64, constant-time compare, AES-256-GCM.
#include "wagate/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <memory>
#include <utility>

#include "wagate/error.hpp"
#include "wagate/text.hpp"

namespace wagate::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// OpenSSL takes unsigned bytes; an empty string_view may carry a null data()
// pointer, which some OpenSSL entry points treat as "no key" rather than "empty key".
const unsigned char* bytes(std::string_view s) {
  static constexpr unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

int int_size(std::string_view s, const char* what) {
  if (s.size() > static_cast<size_t>(INT_MAX)) throw Error(std::string(what) + " is too large");
  return static_cast<int>(s.size());
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  if (HMAC(md, bytes(key), int_size(key, "HMAC key"), bytes(message), message.size(), out.data(), &length) ==
      nullptr) {
    throw Error("HMAC failed in OpenSSL");
  }
  return {reinterpret_cast<const char*>(out.data()), length};
}

const Secret& checked_key(const Secret& key) {
  if (key.reveal().size() != kKeySize) throw ConfigError("encryption key must be 32 bytes");
  return key;
}

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode_base64(std::string_view data, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const unsigned group = static_cast<unsigned char>(data[i]) << 16U | static_cast<unsigned char>(data[i + 1]) << 8U |
                           static_cast<unsigned char>(data[i + 2]);
    out.push_back(alphabet[group >> 18U & 0x3FU]);
    out.push_back(alphabet[group >> 12U & 0x3FU]);
    out.push_back(alphabet[group >> 6U & 0x3FU]);
    out.push_back(alphabet[group & 0x3FU]);
  }
  const size_t rest = data.size() - i;
  if (rest == 0) return out;
  unsigned group = static_cast<unsigned char>(data[i]) << 16U;
  if (rest == 2) group |= static_cast<unsigned char>(data[i + 1]) << 8U;
  out.push_back(alphabet[group >> 18U & 0x3FU]);
  out.push_back(alphabet[group >> 12U & 0x3FU]);
  if (rest == 2) out.push_back(alphabet[group >> 6U & 0x3FU]);
  if (pad) out.append(rest == 1 ? "==" : "=");
  return out;
}

int base64_value(char c, std::string_view alphabet) {
  const size_t index = alphabet.find(c);
  return index == std::string_view::npos ? -1 : static_cast<int>(index);
}

std::optional<std::string> decode_base64(std::string_view text, std::string_view alphabet, bool padded) {
  if (padded) {
    if (text.size() % 4 != 0) return std::nullopt;
    for (int k = 0; k < 2 && !text.empty() && text.back() == '='; ++k) text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  unsigned group = 0;
  size_t count = 0;
  for (const char c : text) {
    const int value = base64_value(c, alphabet);
    if (value < 0) return std::nullopt;  // includes '=' anywhere but the final padding
    group = group << 6U | static_cast<unsigned>(value);
    if (++count == 4) {
      out.push_back(static_cast<char>(group >> 16U & 0xFFU));
      out.push_back(static_cast<char>(group >> 8U & 0xFFU));
      out.push_back(static_cast<char>(group & 0xFFU));
      group = 0;
      count = 0;
    }
  }
  // Leftover bits that no output byte uses must be zero: otherwise several
  // spellings would decode to the same bytes.
  if (count == 2) {
    if ((group & 0x0FU) != 0) return std::nullopt;
    out.push_back(static_cast<char>(group >> 4U & 0xFFU));
  } else if (count == 3) {
    if ((group & 0x03U) != 0) return std::nullopt;
    out.push_back(static_cast<char>(group >> 10U & 0xFFU));
    out.push_back(static_cast<char>(group >> 2U & 0xFFU));
  }
  return out;
}

}  // namespace

std::string hmac_sha1(std::string_view key, std::string_view message) { return hmac(EVP_sha1(), key, message); }

std::string hmac_sha256(std::string_view key, std::string_view message) { return hmac(EVP_sha256(), key, message); }

std::string sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int length = 0;
  if (EVP_Digest(bytes(data), data.size(), out.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw Error("SHA-256 failed in OpenSSL");
  }
  return {reinterpret_cast<const char*>(out.data()), length};
}

std::string hex(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(kDigits[byte >> 4U]);
    out.push_back(kDigits[byte & 0x0FU]);
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = text::hex_value(text[i]);
    const int low = text::hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::string base64(std::string_view data) { return encode_base64(data, kBase64Alphabet, true); }
std::optional<std::string> unbase64(std::string_view text) { return decode_base64(text, kBase64Alphabet, true); }
std::string base64url(std::string_view data) { return encode_base64(data, kBase64UrlAlphabet, false); }
std::optional<std::string> unbase64url(std::string_view text) {
  return decode_base64(text, kBase64UrlAlphabet, false);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n == 0) return out;
  if (n > static_cast<size_t>(INT_MAX)) throw Error("random_bytes: request too large");
  if (RAND_bytes(bytes(out), static_cast<int>(n)) != 1) throw Error("RAND_bytes failed: CSPRNG unavailable");
  return out;
}

std::string seal(const Secret& key, std::string_view plaintext, std::string_view aad) {
  const std::string_view key_bytes = checked_key(key).reveal();
  const int plaintext_size = int_size(plaintext, "plaintext");
  const int aad_size = int_size(aad, "associated data");
  std::string sealed = random_bytes(kNonceSize);
  sealed.resize(kNonceSize + plaintext.size() + kTagSize);
  unsigned char* nonce = bytes(sealed);
  unsigned char* ciphertext = nonce + kNonceSize;

  const CipherCtx ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const bool ok =
      ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key_bytes), nonce) == 1 &&
      (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes(aad), aad_size) == 1) &&
      (plaintext.empty() || EVP_EncryptUpdate(ctx.get(), ciphertext, &length, bytes(plaintext), plaintext_size) == 1) &&
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + plaintext.size(), &length) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          ciphertext + plaintext.size()) == 1;
  if (!ok) throw Error("AES-256-GCM encryption failed in OpenSSL");
  return sealed;
}

std::optional<std::string> open(const Secret& key, std::string_view sealed, std::string_view aad) {
  const std::string_view key_bytes = checked_key(key).reveal();
  if (sealed.size() < kNonceSize + kTagSize) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kNonceSize);
  const std::string_view ciphertext = sealed.substr(kNonceSize, sealed.size() - kNonceSize - kTagSize);
  std::array<unsigned char, kTagSize> tag{};
  sealed.copy(reinterpret_cast<char*>(tag.data()), kTagSize, sealed.size() - kTagSize);
  const int ciphertext_size = int_size(ciphertext, "ciphertext");
  const int aad_size = int_size(aad, "associated data");

  std::string plaintext(ciphertext.size(), '\0');
  const CipherCtx ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const bool ready =
      ctx != nullptr && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key_bytes), bytes(nonce)) == 1 &&
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes(aad), aad_size) == 1) &&
      (ciphertext.empty() ||
       EVP_DecryptUpdate(ctx.get(), bytes(plaintext), &length, bytes(ciphertext), ciphertext_size) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag.data()) == 1;
  if (!ready) throw Error("AES-256-GCM decryption failed in OpenSSL");
  // The tag is checked here: a failure means altered data or another key, an expected outcome.
  if (EVP_DecryptFinal_ex(ctx.get(), bytes(plaintext) + plaintext.size(), &length) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  return plaintext;
}

Secret master_key_from(std::string_view file_content) {
  constexpr std::string_view kBlanks = " \t\r\n\v\f";
  const size_t begin = file_content.find_first_not_of(kBlanks);
  const size_t end = file_content.find_last_not_of(kBlanks);
  const std::string_view trimmed =
      begin == std::string_view::npos ? std::string_view() : file_content.substr(begin, end - begin + 1);
  std::optional<std::string> key = trimmed.size() == kKeySize * 2 ? unhex(trimmed) : std::nullopt;
  if (!key) throw ConfigError("master key must be 64 hex characters (32 bytes)");
  return Secret(std::move(*key));
}

}  // namespace wagate::crypto
