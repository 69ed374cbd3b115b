// The partnership CA directory: init, issuance from a CSR with the registry's
// identity, the ledger and its action log, revocation and publication, and
// recovery from an interruption between ledger write and publication.
#include "auth/pki/partnership_ca.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
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
using ::testing::UnorderedElementsAre;

constexpr char kPassphrase[] = "correct horse battery staple";
constexpr char kTrustDomain[] = "llr.refx.example";

class PartnershipCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/refx-ca-unit-XXXXXX";
    parent_ = mkdtemp(pattern.data());
    dir_ = parent_ + "/ca";
    PartnershipCa::InitOptions options;
    options.directory = dir_;
    options.partnership_id = "llr";
    options.trust_domain = kTrustDomain;
    options.organization = "LLR partnership";
    options.issuing_passphrase = kPassphrase;
    options.root_passphrase = "the root's own passphrase";
    options.operator_name = "tester";
    auto init = PartnershipCa::Init(options);
    ASSERT_TRUE(init.ok()) << init.status();
    auto ca = PartnershipCa::Open(dir_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
    ASSERT_TRUE(ca_->UnlockIssuingKey(kPassphrase).ok());
  }
  void TearDown() override { std::filesystem::remove_all(parent_); }

  PartnershipCa::Issued IssuePolice() {
    auto key = PrivateKey::Generate();
    EXPECT_TRUE(key.ok());
    auto issued = ca_->IssueAgency({"leicestershire-police", "police"}, key->get(), "", kDefaultLeafLifetime,
                                   "tester", absl::Now());
    EXPECT_TRUE(issued.ok()) << issued.status();
    return *std::move(issued);
  }

  RevocationList ReadList() {
    auto text = ReadWholeFile(ca_->paths().revocation_list);
    EXPECT_TRUE(text.ok());
    auto list = ParseRevocationList(*text, {ca_->issuing_certificate()});
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : RevocationList{};
  }

  std::vector<std::string> CrlFiles() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(ca_->paths().crl_dir)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string parent_, dir_;
  std::unique_ptr<PartnershipCa> ca_;
};

TEST_F(PartnershipCaTest, InitWritesEncryptedKeysAt0600AndRefusesToOverwrite) {
  for (const std::string& key : {ca_->paths().root_key, ca_->paths().issuing_key}) {
    struct stat info;
    ASSERT_EQ(stat(key.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u) << key;
    EXPECT_THAT(*ReadWholeFile(key), HasSubstr("ENCRYPTED PRIVATE KEY"));
    EXPECT_FALSE(ReadPrivateKeyFile(key, "").ok());
    EXPECT_FALSE(ReadPrivateKeyFile(key, "wrong passphrase").ok());
  }
  PartnershipCa::InitOptions again;
  again.directory = dir_;
  again.trust_domain = kTrustDomain;
  again.organization = "x";
  again.issuing_passphrase = "p";
  again.root_passphrase = "q";
  EXPECT_EQ(PartnershipCa::Init(again).status().code(), absl::StatusCode::kAlreadyExists);
  // An empty list and CRL are published at once.
  EXPECT_EQ(ReadList().sequence, 1);
  EXPECT_TRUE(ReadList().revoked.empty());
  EXPECT_EQ(CrlFiles().size(), 1u);
}

TEST_F(PartnershipCaTest, IssuingCaIsConstrainedAsTheProfileSays) {
  X509* ca = ca_->issuing_certificate().get();
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_get_pathlen(ca), 0);
  EXPECT_EQ(X509_get_extended_key_usage(ca), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_NE(X509_get_ext_by_NID(ca, NID_name_constraints, -1), -1);
}

TEST_F(PartnershipCaTest, CsrAskingForAnotherAgencyGetsTheRegistrysIdentity) {
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  auto csr = CertificateRequest::Create(*key, "leicestershire-police",
                                        {"spiffe://llr.refx.example/agency/leicestershire-police"});
  ASSERT_TRUE(csr.ok());
  ASSERT_TRUE(csr->VerifyProofOfPossession().ok());
  auto issued = ca_->IssueAgency({"blaby-district-council", "district_council"}, csr->public_key(),
                                 csr->Sha256Hex(), kDefaultLeafLifetime, "tester", absl::Now());
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_THAT(issued->info.uri_sans, ElementsAre("spiffe://llr.refx.example/agency/blaby-district-council"));
  EXPECT_THAT(issued->info.subject, HasSubstr("CN=blaby-district-council"));
  EXPECT_TRUE(CheckAgencyCertificateProfile(issued->certificate,
                                            "spiffe://llr.refx.example/agency/blaby-district-council")
                  .ok());
  EXPECT_EQ(issued->info.serial_hex.size(), 40u);
  // The certificate carries the CSR's key, and the ledger has the row.
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(issued->certificate.get()), key->get()), 1);
  auto row = ca_->ledger().Find(issued->info.serial_hex);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->subject_id, "blaby-district-council");
  EXPECT_EQ(row->csr_sha256, csr->Sha256Hex());
  EXPECT_EQ(row->sha256_fingerprint, issued->info.sha256_fingerprint_hex);
  EXPECT_EQ(row->operator_name, "tester");
}

TEST_F(PartnershipCaTest, LifetimeIsCappedAt366Days) {
  auto key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(ca_->IssueAgency({"x", "police"}, key->get(), "", absl::Hours(24 * 367), "t", absl::Now())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto ok = ca_->IssueAgency({"x", "police"}, key->get(), "", absl::Hours(24 * 366), "t", absl::Now());
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(PartnershipCaTest, RevokePublishesListAndCrlWithTheSerial) {
  const auto issued = IssuePolice();
  auto published = ca_->Revoke({issued.info.serial_hex}, "key-compromise", "tester", absl::Now());
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->sequence, 2);
  RevocationList list = ReadList();
  EXPECT_EQ(list.sequence, 2);
  ASSERT_EQ(list.revoked.size(), 1u);
  EXPECT_EQ(list.revoked[0].serial_hex, issued.info.serial_hex);
  auto crl = InspectCrlPem(*ReadWholeFile(published->crl_path));
  ASSERT_TRUE(crl.ok());
  EXPECT_THAT(crl->revoked_serials_hex, ElementsAre(issued.info.serial_hex));
  EXPECT_THAT(CrlFiles(), ElementsAre(IssuerNameHash(ca_->issuing_certificate()) + ".r0",
                                      IssuerNameHash(ca_->issuing_certificate()) + ".r1"));
  EXPECT_EQ(ca_->ledger().Find(issued.info.serial_hex)->status, "revoked");
  EXPECT_EQ(ca_->Revoke({issued.info.serial_hex}, "superseded", "tester", absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca_->Revoke({"ABCDEF"}, "superseded", "tester", absl::Now()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PartnershipCaTest, InterruptedRevocationIsCompletedByTheNextRun) {
  const auto issued = IssuePolice();
  ca_->after_ledger_write_for_testing = [] { return absl::AbortedError("simulated crash"); };
  EXPECT_EQ(ca_->Revoke({issued.info.serial_hex}, "key-compromise", "tester", absl::Now()).status().code(),
            absl::StatusCode::kAborted);
  // The ledger says revoked and pending; the list does not know yet.
  EXPECT_TRUE(ca_->ledger().Publication()->pending);
  EXPECT_TRUE(ReadList().revoked.empty());

  auto reopened = PartnershipCa::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->UnlockIssuingKey(kPassphrase).ok());
  auto completed = (*reopened)->CompletePendingPublication("tester", absl::Now());
  ASSERT_TRUE(completed.ok()) << completed.status();
  ASSERT_TRUE(completed->has_value());
  EXPECT_FALSE((*reopened)->ledger().Publication()->pending);
  RevocationList list = ReadList();
  ASSERT_EQ(list.revoked.size(), 1u);
  EXPECT_EQ(list.revoked[0].serial_hex, issued.info.serial_hex);
  auto crl = InspectCrlPem(*ReadWholeFile((*completed)->crl_path));
  EXPECT_THAT(crl->revoked_serials_hex, ElementsAre(issued.info.serial_hex));
  // Nothing pending any more: a second run publishes nothing.
  EXPECT_FALSE((*reopened)->CompletePendingPublication("tester", absl::Now())->has_value());
}

TEST_F(PartnershipCaTest, ActionLogIsHashChainedAndDetectsEdits) {
  const auto issued = IssuePolice();
  ASSERT_TRUE(ca_->Revoke({issued.info.serial_hex}, "superseded", "tester", absl::Now()).ok());
  auto count = ca_->ledger().VerifyActionLog();
  ASSERT_TRUE(count.ok()) << count.status();
  // ca-init x2, initial publish, issue, revoke, publish.
  EXPECT_EQ(*count, 6);
  auto actions = ca_->ledger().Actions();
  ASSERT_TRUE(actions.ok());
  EXPECT_EQ((*actions)[3].action, "issue-agency");
  EXPECT_EQ((*actions)[4].action, "revoke");
  EXPECT_EQ((*actions)[4].prev_hash, (*actions)[3].hash);

  // Someone edits the revocation's details behind the tool's back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(ca_->paths().ledger.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE actions SET details = 'nothing happened' WHERE seq = 5", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto broken = ca_->ledger().VerifyActionLog();
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(broken.status().message(), HasSubstr("entry 5"));
}

}  // namespace
}  // namespace refx::pki
