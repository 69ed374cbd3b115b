#include "core/victim_tokens.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::Victim Victim(const std::string& given, const std::string& family, const std::string& birth,
                  const std::string& phone, const std::string& email) {
  v1::Victim v;
  v.set_given_name(given);
  v.set_family_name(family);
  v.set_birth_date(birth);
  v.set_phone(phone);
  v.set_email(email);
  return v;
}

TEST(VictimIdentifiersTest, UkPhoneFormsAreOneNumber) {
  for (const char* phone : {"07700 900123", "+44 7700 900123", "+44 (0)7700 900-123", "0044 7700 900123",
                            "447700900123", " 07700-900-123 "}) {
    EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "", phone, "")), ElementsAre("phone:07700900123"))
        << phone;
  }
  // Another country's number stays international; too short is no identifier.
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "", "+33 6 12 34 56 78", "")),
              ElementsAre("phone:+33612345678"));
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "", "999", "")), IsEmpty());
}

TEST(VictimIdentifiersTest, EmailIsTrimmedAndLowerCased) {
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "", "", "  Sam.Example@Example.ORG ")),
              ElementsAre("email:sam.example@example.org"));
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "", "", "not an address")), IsEmpty());
}

TEST(VictimIdentifiersTest, NameCountsOnlyWithABirthDate) {
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("  Mary-Jane ", "O'BRIEN", "1990-01-02", "", "")),
              ElementsAre("name-dob:mary jane obrien|1990-01-02"));
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("mary jane", "o'brien", "1990-01-02", "", "")),
              ElementsAre("name-dob:mary jane obrien|1990-01-02"));
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("Mary", "O'Brien", "", "", "")), IsEmpty());
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("Mary", "O'Brien", "1990-02-30", "", "")), IsEmpty());
  EXPECT_THAT(NormalisedVictimIdentifiers(Victim("", "", "1990-01-02", "", "")), IsEmpty());
}

TEST(VictimTokensTest, TokensAreKeyedHexAndCarryNoPlaintext) {
  const v1::Victim v = Victim("Sam", "Example", "1990-01-02", "07700 900123", "sam@example.org");
  const auto a = VictimTokens(std::string(32, 'a'), v);
  const auto b = VictimTokens(std::string(32, 'b'), v);
  ASSERT_EQ(a.size(), 3u);
  for (const std::string& t : a) {
    EXPECT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  EXPECT_NE(a, b);  // another key, other tokens
  EXPECT_EQ(a, VictimTokens(std::string(32, 'a'),
                            Victim(" SAM ", "example", "1990-01-02", "+44 7700 900123", "SAM@example.org")));
  EXPECT_THAT(VictimTokens("", v), IsEmpty());
}

}  // namespace
}  // namespace refx::core
