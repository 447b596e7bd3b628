// crypto_test.cpp — HMAC and SHA-256 known answers, hex/base64 strictness, AES-256-GCM sealing, master key.
#include "wagate/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "wagate/error.hpp"

namespace wagate::crypto {
namespace {

const std::string kTestPhrase = "Test Using Larger Than Block-Size Key - Hash Key First";

TEST(Crypto, HmacSha1Rfc2202) {
  EXPECT_EQ(hex(hmac_sha1(std::string(20, '\x0b'), "Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(hex(hmac_sha1("Jefe", "what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(hex(hmac_sha1(std::string(80, '\xaa'), kTestPhrase)), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  EXPECT_EQ(hmac_sha1("k", "m").size(), 20U);
  // An empty key is a valid HMAC key, not "no key".
  EXPECT_EQ(hex(hmac_sha1("", "")), "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
}

TEST(Crypto, HmacSha256Rfc4231) {
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'), kTestPhrase)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, Sha256KnownAnswers) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HexRoundTripAndRejects) {
  EXPECT_EQ(hex(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
  EXPECT_EQ(unhex("007F80ff"), std::string("\x00\x7f\x80\xff", 4));
  EXPECT_EQ(unhex(""), std::string());
  EXPECT_FALSE(unhex("abc").has_value());
  EXPECT_FALSE(unhex("zz").has_value());
  EXPECT_FALSE(unhex("0x12").has_value());
  EXPECT_FALSE(unhex(" 12").has_value());
}

TEST(Crypto, Base64Rfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
}

TEST(Crypto, Base64RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(unbase64(base64(data)), data) << "length " << i;
    EXPECT_EQ(unbase64url(base64url(data)), data) << "length " << i;
    data.push_back(static_cast<char>(i * 37 + 200));
  }
}

TEST(Crypto, Base64DecodingIsStrict) {
  EXPECT_EQ(unbase64("Zm9vYg=="), "foob");
  EXPECT_FALSE(unbase64("Zm9vYg").has_value());     // padding required
  EXPECT_FALSE(unbase64("Zm9vYg=").has_value());
  EXPECT_FALSE(unbase64("Zm9vY===").has_value());
  EXPECT_FALSE(unbase64("Zm9v\nYmFy").has_value());  // no whitespace
  EXPECT_FALSE(unbase64("Zm9v YmFy").has_value());
  EXPECT_FALSE(unbase64("Zg==Zm9v").has_value());    // padding only at the end
  EXPECT_FALSE(unbase64("Z=g=").has_value());
  EXPECT_FALSE(unbase64("Zh==").has_value());        // non-zero unused bits: a second spelling of "f"
  EXPECT_FALSE(unbase64("Zm9=").has_value());
  EXPECT_FALSE(unbase64("-_8=").has_value());        // URL alphabet is not standard base64
  EXPECT_FALSE(unbase64("====").has_value());
  EXPECT_FALSE(unbase64url("+/8").has_value());
  EXPECT_FALSE(unbase64url("Zm9vYg==").has_value());  // base64url carries no padding
  EXPECT_FALSE(unbase64url("Zm9vY").has_value());     // a lone trailing character is never valid
  EXPECT_FALSE(unbase64url("Zh").has_value());
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("signature", "signature"));
  EXPECT_FALSE(constant_time_equal("signature", "signaturf"));
  EXPECT_FALSE(constant_time_equal("signature", "signatur"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(Crypto, RandomBytesAreFreshEachCall) {
  EXPECT_EQ(random_bytes(0), "");
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    const std::string bytes = random_bytes(16);
    EXPECT_EQ(bytes.size(), 16U);
    seen.insert(bytes);
  }
  EXPECT_EQ(seen.size(), 16U);
}

Secret test_key(char fill) { return Secret(std::string(kKeySize, fill)); }

TEST(Crypto, SealOpenRoundTrip) {
  const Secret key = test_key('k');
  for (const std::string& plaintext : {std::string(), std::string("auth-token-0123456789abcdef"),
                                      std::string(1000, '\x00')}) {
    const std::string sealed = seal(key, plaintext, "tenant:42:auth_token");
    EXPECT_EQ(sealed.size(), kNonceSize + plaintext.size() + kTagSize);
    EXPECT_EQ(open(key, sealed, "tenant:42:auth_token"), plaintext);
  }
  EXPECT_EQ(open(key, seal(key, "secret", ""), ""), "secret");
}

TEST(Crypto, SealUsesAFreshNonce) {
  const Secret key = test_key('k');
  const std::string first = seal(key, "same", "aad");
  const std::string second = seal(key, "same", "aad");
  EXPECT_NE(first.substr(0, kNonceSize), second.substr(0, kNonceSize));
  EXPECT_NE(first, second);
  EXPECT_EQ(first.find("same"), std::string::npos);
}

TEST(Crypto, OpenRejectsTampering) {
  const Secret key = test_key('k');
  const std::string sealed = seal(key, "auth-token", "tenant:1:auth_token");
  for (size_t i = 0; i < sealed.size(); ++i) {  // nonce, ciphertext and tag bytes alike
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(open(key, tampered, "tenant:1:auth_token").has_value()) << "byte " << i;
  }
  EXPECT_FALSE(open(key, sealed.substr(0, sealed.size() - 1), "tenant:1:auth_token").has_value());
  EXPECT_FALSE(open(key, sealed + "x", "tenant:1:auth_token").has_value());
  EXPECT_FALSE(open(key, "", "tenant:1:auth_token").has_value());
  EXPECT_FALSE(open(key, std::string(kNonceSize + kTagSize - 1, 'x'), "tenant:1:auth_token").has_value());
}

TEST(Crypto, OpenRejectsWrongAadOrKey) {
  const Secret key = test_key('k');
  const std::string sealed = seal(key, "auth-token", "tenant:1:auth_token");
  // A ciphertext copied into another tenant's row does not open there.
  EXPECT_FALSE(open(key, sealed, "tenant:2:auth_token").has_value());
  EXPECT_FALSE(open(key, sealed, "").has_value());
  EXPECT_FALSE(open(test_key('j'), sealed, "tenant:1:auth_token").has_value());
}

TEST(Crypto, KeyMustBe32Bytes) {
  EXPECT_THROW((void)seal(Secret("short"), "x", ""), ConfigError);
  EXPECT_THROW((void)open(Secret(std::string(33, 'k')), std::string(40, 'x'), ""), ConfigError);
}

TEST(Crypto, MasterKeyFromFile) {
  const std::string hex_key = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
  const Secret key = master_key_from(hex_key);
  ASSERT_EQ(key.reveal().size(), 32U);
  EXPECT_EQ(hex(key.reveal()), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(master_key_from("  " + hex_key + "\n"), key);
  EXPECT_EQ(open(key, seal(master_key_from(hex_key + "\r\n"), "x", "a"), "a"), "x");
}

TEST(Crypto, MasterKeyRejectsBadContentWithoutEchoingIt) {
  const std::string leaked = "deadbeefcafef00ddeadbeefcafef00ddeadbeefcafef00ddeadbeefcafef00";  // 63 chars
  for (const std::string& content : {std::string(), std::string("\n"), leaked, leaked + "00",
                                    std::string(64, 'g'), leaked.substr(0, 32) + " " + leaked.substr(32) + "0"}) {
    try {
      (void)master_key_from(content);
      ADD_FAILURE() << "accepted a bad master key of length " << content.size();
    } catch (const ConfigError& error) {
      EXPECT_STREQ(error.what(), "master key must be 64 hex characters (32 bytes)");
    }
  }
}

}  // namespace
}  // namespace wagate::crypto
