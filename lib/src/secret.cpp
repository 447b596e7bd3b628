// secret.cpp — wiping a credential's bytes on destruction and comparing credentials in constant time.
#include "wagate/secret.hpp"

#include <openssl/crypto.h>

namespace wagate {

Secret::~Secret() {
  // Wipe the whole buffer, not only size(): bytes past the end may still hold
  // a longer value this string had before. resize() within the capacity
  // neither reallocates nor frees.
  value_.resize(value_.capacity());
  OPENSSL_cleanse(value_.data(), value_.size());
}

// Lengths are compared first: a credential's length is not what an attacker
// is after, its bytes are, and CRYPTO_memcmp does not stop at the first
// difference.
bool Secret::operator==(const Secret& other) const {
  if (value_.size() != other.value_.size()) return false;
  return CRYPTO_memcmp(value_.data(), other.value_.data(), value_.size()) == 0;
}

}  // namespace wagate
