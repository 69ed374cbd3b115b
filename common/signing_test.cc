#include "common/signing.h"

#include "gtest/gtest.h"

namespace refx {
namespace {

TEST(SigningTest, SignsVerifiesAndRoundTripsThroughPem) {
  auto key = SigningKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string signature = key->Sign("head 42");
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(key->Public().Verify("head 42", signature));
  EXPECT_FALSE(key->Public().Verify("head 43", signature));
  std::string altered = signature;
  altered[0] ^= 1;
  EXPECT_FALSE(key->Public().Verify("head 42", altered));
  EXPECT_FALSE(key->Public().Verify("head 42", ""));

  auto again = SigningKey::FromPem(key->PrivatePem());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Public().Verify("x", key->Sign("x")));
  auto from_public = VerifyingKey::FromPem(key->Public().PublicPem());
  ASSERT_TRUE(from_public.ok());
  EXPECT_TRUE(from_public->Verify("x", key->Sign("x")));
  auto from_private = VerifyingKey::FromPem(key->PrivatePem());
  ASSERT_TRUE(from_private.ok());
  EXPECT_EQ(from_private->KeyId(), key->Public().KeyId());
  EXPECT_EQ(key->Public().KeyId().size(), 64u);

  auto other = SigningKey::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Public().Verify("head 42", signature));
  EXPECT_NE(other->Public().KeyId(), key->Public().KeyId());
  EXPECT_FALSE(SigningKey::FromPem("not a key").ok());
  EXPECT_FALSE(VerifyingKey::FromPem("").ok());
}

}  // namespace
}  // namespace refx
