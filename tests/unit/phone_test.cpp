// phone_test.cpp — normalisation to E.164: accepted spellings, country codes, and every rejection reason.
#include "wagate/phone.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wagate::phone {
namespace {

std::string e164(std::string_view input, std::string_view country = "1") {
  const Normalized result = normalize(input, country);
  EXPECT_TRUE(result.ok()) << "'" << input << "': " << result.reason;
  return result.e164.value_or("");
}

Normalized rejected(std::string_view input, std::string_view country = "1") {
  const Normalized result = normalize(input, country);
  EXPECT_FALSE(result.ok()) << "'" << input << "' gave " << result.e164.value_or("");
  EXPECT_FALSE(result.reason.empty()) << input;
  return result;
}

TEST(Phone, InternationalSpellingsAllGiveTheSameNumber) {
  for (const char* input : {"+14155550123", "+1 415 555 0123", "+1 (415) 555-0123", "+1.415.555.0123",
                            "  +1-415-555-0123  ", "0014155550123", "00 1 415 555 0123", "whatsapp:+14155550123",
                            "WhatsApp:+1 415 555 0123", "whatsapp: +14155550123", "+1\t415\t5550123"}) {
    EXPECT_EQ(e164(input, "44"), "+14155550123") << input;
  }
}

TEST(Phone, NationalNumbersTakeTheTenantsCountryCodeAndLoseOneTrunkZero) {
  EXPECT_EQ(e164("020 7946 0958", "44"), "+442079460958");
  EXPECT_EQ(e164("(415) 555-0123", "1"), "+14155550123");
  EXPECT_EQ(e164("0151 23456789", "49"), "+4915123456789");
  // Only one trunk zero goes; "00" would have been the international prefix.
  EXPECT_EQ(e164("06 12345678", "33"), "+33612345678");
  // The tenant's setting may carry a '+'.
  EXPECT_EQ(e164("07911 123456", "+44"), "+447911123456");
  // The default country code is not applied to a number that has its own.
  EXPECT_EQ(e164("+33612345678", "44"), "+33612345678");
}

TEST(Phone, EmptyInputIsRejectedAsEmpty) {
  for (const char* input : {"", "   ", "whatsapp:", "whatsapp:  ", "+", "( ) - .", "00"}) {
    const Normalized result = rejected(input);
    EXPECT_TRUE(result.problem == Problem::Empty) << input;
  }
  EXPECT_EQ(rejected("").reason, "is empty");
}

TEST(Phone, LettersAreRejectedAndSaidSo) {
  for (const char* input : {"+1 415 CALL NOW", "abc", "+14155550123 x12", "+1415555012e", "tel:+14155550123"}) {
    const Normalized result = rejected(input);
    EXPECT_TRUE(result.problem == Problem::Letters) << input;
    EXPECT_NE(result.reason.find("letters"), std::string::npos) << result.reason;
  }
}

TEST(Phone, OtherCharactersAreRejectedNamingTheCharacter) {
  const Normalized slash = rejected("+1/415/5550123");
  EXPECT_TRUE(slash.problem == Problem::InvalidCharacter);
  EXPECT_NE(slash.reason.find("'/'"), std::string::npos) << slash.reason;
  EXPECT_TRUE(rejected("+1415555_0123").problem == Problem::InvalidCharacter);
  EXPECT_TRUE(rejected("+1 415 555 0123;").problem == Problem::InvalidCharacter);
  // Non-ASCII (a full-width digit, a no-break space) is not echoed raw into the message.
  const Normalized wide = rejected("+1 415 555 012\xef\xbc\x93");
  EXPECT_TRUE(wide.problem == Problem::InvalidCharacter);
  EXPECT_EQ(wide.reason.find('\xef'), std::string::npos);
  EXPECT_TRUE(rejected("+1\xc2\xa0" "4155550123").problem == Problem::InvalidCharacter);
  EXPECT_TRUE(rejected(std::string("+1415\0" "5550123", 12)).problem == Problem::InvalidCharacter);
}

TEST(Phone, PlusOnlyFirstAndOnlyOnce) {
  EXPECT_TRUE(rejected("1+4155550123").problem == Problem::MisplacedPlus);
  EXPECT_TRUE(rejected("++14155550123").problem == Problem::MisplacedPlus);
  EXPECT_TRUE(rejected("(+1) 415 555 0123").problem == Problem::MisplacedPlus);
}

TEST(Phone, NationalNumberWithoutAUsableDefaultCountryCodeIsRejected) {
  for (const char* country : {"", "abc", "0", "1234", "+"}) {
    const Normalized result = rejected("415 555 0123", country);
    EXPECT_TRUE(result.problem == Problem::NoCountryCode) << "'" << country << "'";
    EXPECT_NE(result.reason.find("country code"), std::string::npos);
  }
  // International numbers do not need one.
  EXPECT_EQ(e164("+14155550123", ""), "+14155550123");
}

TEST(Phone, CountryCodeCannotStartWithZero) {
  EXPECT_TRUE(rejected("+0123456789").problem == Problem::BadCountryCode);
  EXPECT_TRUE(rejected("000123456789").problem == Problem::BadCountryCode);
}

TEST(Phone, LengthBoundsCountTheCountryCode) {
  const Normalized short_number = normalize("+1234567", "1");
  EXPECT_TRUE(short_number.problem == Problem::TooShort);
  EXPECT_NE(short_number.reason.find("too short"), std::string::npos) << short_number.reason;
  EXPECT_NE(short_number.reason.find("7 digits"), std::string::npos) << short_number.reason;

  EXPECT_EQ(normalize("+12345678", "1").e164, "+12345678");                // 8: the minimum
  EXPECT_EQ(normalize("+123456789012345", "1").e164, "+123456789012345");  // 15: the maximum
  const Normalized long_number = rejected("+1234567890123456");
  EXPECT_TRUE(long_number.problem == Problem::TooLong);
  EXPECT_NE(long_number.reason.find("too long"), std::string::npos) << long_number.reason;
  EXPECT_NE(long_number.reason.find("16 digits"), std::string::npos) << long_number.reason;

  // A national number is measured with the country code added.
  EXPECT_TRUE(rejected("555 012", "1").problem == Problem::TooShort);
  EXPECT_TRUE(rejected("0 5550 1234 5678 90", "44").problem == Problem::TooLong);
}

TEST(Phone, IsE164) {
  EXPECT_TRUE(is_e164("+14155550123"));
  EXPECT_TRUE(is_e164("+12345678"));
  EXPECT_FALSE(is_e164("14155550123"));
  EXPECT_FALSE(is_e164("+1234567"));
  EXPECT_FALSE(is_e164("+1234567890123456"));
  EXPECT_FALSE(is_e164("+04155550123"));
  EXPECT_FALSE(is_e164("+1 415 555 0123"));
  EXPECT_FALSE(is_e164(""));
}

TEST(Phone, NormalisedNumbersAreE164) {
  for (const char* input : {"+14155550123", "020 7946 0958", "0049 151 23456789", "whatsapp:+447911123456"}) {
    EXPECT_TRUE(is_e164(e164(input, "44"))) << input;
  }
}

}  // namespace
}  // namespace wagate::phone
