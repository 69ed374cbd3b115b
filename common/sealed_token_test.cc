#include "common/sealed_token.h"

#include "absl/strings/escaping.h"
#include "common/hash.h"
#include "gtest/gtest.h"

namespace refx {
namespace {

TEST(TokenSealerTest, OpensWhatItSealedUnderTheSameBinding) {
  auto sealer = TokenSealer::Create(std::string(32, 'k'));
  ASSERT_TRUE(sealer.ok());
  const std::string token = sealer->Seal("list|police", "cursor 42");
  auto opened = sealer->Open("list|police", token);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "cursor 42");
  // The payload is not readable in the token.
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  EXPECT_EQ(raw.find("cursor"), std::string::npos);
  // A fresh nonce each time: the same payload never gives the same token.
  EXPECT_NE(sealer->Seal("list|police", "cursor 42"), token);
}

TEST(TokenSealerTest, RefusesAnotherBindingKeyAlterationAndGarbage) {
  auto sealer = TokenSealer::Create(std::string(32, 'k'));
  auto other = TokenSealer::Create(std::string(32, 'o'));
  ASSERT_TRUE(sealer.ok() && other.ok());
  const std::string token = sealer->Seal("list|police", "cursor 42");
  EXPECT_EQ(sealer->Open("list|council", token).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(other->Open("list|police", token).status().code(), absl::StatusCode::kInvalidArgument);
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string altered = raw;
    altered[i] ^= 0x01;
    EXPECT_FALSE(sealer->Open("list|police", absl::WebSafeBase64Escape(altered)).ok()) << "byte " << i;
  }
  EXPECT_FALSE(sealer->Open("list|police", absl::WebSafeBase64Escape(raw.substr(0, raw.size() - 1))).ok());
  EXPECT_FALSE(sealer->Open("list|police", "").ok());
  EXPECT_FALSE(sealer->Open("list|police", "not base64 !!").ok());
  EXPECT_FALSE(sealer->Open("list|police", absl::WebSafeBase64Escape("v1|123|abc")).ok());
  EXPECT_EQ(TokenSealer::Create("short").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace refx
