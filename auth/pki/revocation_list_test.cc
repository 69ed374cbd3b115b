// The revocation list format (signed text) and the CRL writer: round trips,
// every kind of tampering refused, and CRL files that never overwrite.
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "auth/pki/crl.h"
#include "auth/pki/csr.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/key_file.h"
#include "auth/pki/revocation_list.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::pki {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempDir() {
  std::string pattern = "/tmp/refx-pki-unit-XXXXXX";
  return mkdtemp(pattern.data());
}

class RevocationListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DevPkiOptions options;
    options.trust_domain = "llr.refx.example";
    options.agencies = {{"leicestershire-police", "police"}};
    auto pki = GenerateDevelopmentPki(options);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    list_.sequence = 7;
    list_.generated = absl::FromUnixSeconds(1800000000);
    list_.next_update = list_.generated + absl::Hours(24 * 30);
    list_.revoked = {{"4A0B", list_.generated - absl::Hours(1), "key-compromise"}};
  }
  std::optional<DevPki> pki_;
  RevocationList list_;
};

TEST_F(RevocationListTest, SignedListRoundTrips) {
  auto text = SignRevocationList(list_, pki_->agency_ca, pki_->agency_ca_key);
  ASSERT_TRUE(text.ok()) << text.status();
  auto parsed = ParseRevocationList(*text, {pki_->agency_ca});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->sequence, 7);
  EXPECT_EQ(parsed->next_update, list_.next_update);
  ASSERT_EQ(parsed->revoked.size(), 1u);
  EXPECT_EQ(parsed->revoked[0].serial_hex, "4A0B");
  EXPECT_EQ(parsed->revoked[0].reason, "key-compromise");
}

TEST_F(RevocationListTest, EveryAlterationIsRefused) {
  auto text = SignRevocationList(list_, pki_->agency_ca, pki_->agency_ca_key);
  ASSERT_TRUE(text.ok());
  const std::string edits[] = {
      absl::StrReplaceAll(*text, {{"revoked 4A0B", "revoked 4A0C"}}),  // un-revoke by editing
      absl::StrReplaceAll(*text, {{"sequence 7", "sequence 8"}}),
      text->substr(0, text->size() / 2),  // torn write
      "",
      "garbage\n",
  };
  for (const std::string& edited : edits) {
    EXPECT_FALSE(ParseRevocationList(edited, {pki_->agency_ca}).ok()) << edited;
  }
  // Dropping the revoked line breaks the signature as well.
  std::string dropped = *text;
  dropped.erase(dropped.find("revoked 4A0B"), dropped.find('\n', dropped.find("revoked 4A0B")) -
                                                   dropped.find("revoked 4A0B") + 1);
  EXPECT_THAT(ParseRevocationList(dropped, {pki_->agency_ca}).status().message(), HasSubstr("signature"));
}

TEST_F(RevocationListTest, ListFromAnotherCaIsRefused) {
  auto text = SignRevocationList(list_, pki_->agency_ca, pki_->agency_ca_key);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(ParseRevocationList(*text, {pki_->root_ca}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RevocationListTest, CrlsAreNeverOverwrittenAndCarryTheSerials) {
  const std::string dir = TempDir();
  CrlContents contents;
  contents.crl_number = 3;
  contents.last_update = absl::Now();
  contents.next_update = contents.last_update + absl::Hours(24);
  contents.revoked = list_.revoked;
  auto pem = MakeCrlPem(contents, pki_->agency_ca, pki_->agency_ca_key);
  ASSERT_TRUE(pem.ok()) << pem.status();
  auto first = PublishCrlFile(dir, pki_->agency_ca, *pem);
  auto second = PublishCrlFile(dir, pki_->agency_ca, *pem);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, absl::StrCat(dir, "/", IssuerNameHash(pki_->agency_ca), ".r0"));
  EXPECT_EQ(*second, absl::StrCat(dir, "/", IssuerNameHash(pki_->agency_ca), ".r1"));
  auto info = InspectCrlPem(*ReadWholeFile(*second));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->crl_number, 3);
  EXPECT_THAT(info->revoked_serials_hex, ElementsAre("4A0B"));
  std::filesystem::remove_all(dir);
}

TEST(KeyFileTest, GroupOrWorldReadableKeysAreRefused) {
  const std::string dir = TempDir();
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string path = dir + "/k.key";
  ASSERT_TRUE(WritePrivateKeyFile(path, *key, "", false).ok());
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_TRUE(ReadPrivateKeyFile(path, "").ok());
  EXPECT_EQ(WritePrivateKeyFile(path, *key, "", false).code(), absl::StatusCode::kAlreadyExists);
  for (mode_t mode : {0644, 0640, 0604}) {
    chmod(path.c_str(), mode);
    auto read = ReadPrivateKeyFile(path, "");
    EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition) << mode;
    EXPECT_THAT(read.status().message(), HasSubstr("chmod 600"));
  }
  std::filesystem::remove_all(dir);
}

TEST(CsrTest, ProofOfPossessionIsChecked) {
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  auto csr = CertificateRequest::Create(*key, "x", {"spiffe://llr.refx.example/agency/x"});
  ASSERT_TRUE(csr.ok()) << csr.status();
  auto parsed = CertificateRequest::FromPem(csr->ToPem());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->VerifyProofOfPossession().ok());
  EXPECT_EQ(parsed->Sha256Hex().size(), 64u);
  // Flip one byte inside the base64 signature area: the request no longer
  // verifies with its own key.
  std::string pem = csr->ToPem();
  const size_t end = pem.find("-----END");
  pem[end - 10] = pem[end - 10] == 'A' ? 'B' : 'A';
  auto tampered = CertificateRequest::FromPem(pem);
  if (tampered.ok()) {
    EXPECT_FALSE(tampered->VerifyProofOfPossession().ok());
  }
}

TEST(CsrTest, OnlyP256AndEd25519KeysAreAllowed) {
  auto p256 = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto ed = PrivateKey::Generate(KeyType::kEd25519);
  ASSERT_TRUE(p256.ok() && ed.ok());
  EXPECT_TRUE(CheckKeyAllowed(p256->get()).ok());
  EXPECT_TRUE(CheckKeyAllowed(ed->get()).ok());
  EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_NE(p384, nullptr);
  EXPECT_THAT(CheckKeyAllowed(p384.get()).message(), HasSubstr("secp384r1"));
}

}  // namespace
}  // namespace refx::pki
