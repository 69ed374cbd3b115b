#include "auth/pki/certificate_authority.h"

#include <dirent.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/dev_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::pki {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAre;

constexpr char kTrustDomain[] = "llr.refx.example";

DevPkiOptions Options(absl::Time now = absl::Now()) {
  DevPkiOptions options;
  options.trust_domain = kTrustDomain;
  options.agencies = {{"met-police", "police"}, {"leeds-council", "council"}};
  options.now = now;
  return options;
}

DevPki Generate(const DevPkiOptions& options) {
  absl::StatusOr<DevPki> pki = GenerateDevelopmentPki(options);
  EXPECT_TRUE(pki.ok()) << pki.status();
  return std::move(pki).value();
}

// Issues an agency-shaped leaf under the PKI's agency CA after `tweak`
// changes the profile, so each test varies one property.
template <typename Tweak>
Certificate IssueLeaf(const DevPki& pki, const DevPkiOptions& options,
                      Tweak tweak) {
  CertificateProfile profile =
      AgencyLeafProfile(options, {"met-police", "police"});
  tweak(profile);
  absl::StatusOr<PrivateKey> key = PrivateKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  absl::StatusOr<Certificate> cert =
      IssueCertificate(profile, key->get(), &pki.agency_ca, pki.agency_ca_key);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return std::move(cert).value();
}

absl::Status VerifyAsServerDoes(const DevPki& pki, const Certificate& leaf,
                                absl::Time at) {
  return VerifyCertificate(leaf, {}, {pki.agency_ca},
                           ExtendedKeyUsage::kClientAuth, at);
}

bool ExtensionIsCritical(const Certificate& cert, int nid) {
  const int index = X509_get_ext_by_NID(cert.get(), nid, -1);
  return index >= 0 &&
         X509_EXTENSION_get_critical(X509_get_ext(cert.get(), index)) == 1;
}

std::string TempDirectory(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/", name, "-XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

int FileMode(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return -1;
  return static_cast<int>(info.st_mode & 07777);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::set<std::string> ListDirectory(const std::string& path) {
  std::set<std::string> names;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.insert(name);
    }
    closedir(dir);
  }
  return names;
}

TEST(IssueCertificateTest, AgencyLeafHasThePartnershipProfile) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  ASSERT_EQ(pki.agencies.size(), 2u);
  const Certificate& leaf = pki.agencies[0].certificate;

  absl::StatusOr<CertificateInfo> info = InspectCertificate(leaf);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->uri_sans,
              ElementsAre("spiffe://llr.refx.example/agency/met-police"));
  EXPECT_EQ(info->subject,
            "CN=met-police,OU=police,O=refx development partnership");

  X509* x509 = leaf.get();
  EXPECT_EQ(X509_get_extended_key_usage(x509), XKU_SSL_CLIENT);
  EXPECT_EQ(X509_get_key_usage(x509), KU_DIGITAL_SIGNATURE);
  EXPECT_TRUE(ExtensionIsCritical(leaf, NID_key_usage));
  EXPECT_EQ(X509_check_ca(x509), 0);
  EXPECT_TRUE(ExtensionIsCritical(leaf, NID_basic_constraints));
  EXPECT_EQ(X509_get_ext_by_NID(x509, NID_name_constraints, -1), -1);

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nullptr));
  ASSERT_NE(serial, nullptr);
  EXPECT_FALSE(BN_is_negative(serial.get()));
  EXPECT_GE(BN_num_bits(serial.get()), 128);
  EXPECT_LE(BN_num_bytes(serial.get()), 20);

  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(x509);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(x509);
  const ASN1_OCTET_STRING* issuer_ski =
      X509_get0_subject_key_id(pki.agency_ca.get());
  ASSERT_NE(ski, nullptr);
  ASSERT_NE(aki, nullptr);
  ASSERT_NE(issuer_ski, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, issuer_ski), 0);
  EXPECT_NE(ASN1_OCTET_STRING_cmp(ski, issuer_ski), 0);
  EXPECT_EQ(X509_get_signature_nid(x509), NID_ecdsa_with_SHA256);
}

TEST(IssueCertificateTest, AgencyCaIsConstrained) {
  const DevPki pki = Generate(Options());
  X509* ca = pki.agency_ca.get();
  EXPECT_NE(X509_check_ca(ca), 0);
  EXPECT_EQ(X509_get_pathlen(ca), 0);
  EXPECT_EQ(X509_get_extended_key_usage(ca), XKU_SSL_CLIENT);
  EXPECT_EQ(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  EXPECT_TRUE(ExtensionIsCritical(pki.agency_ca, NID_name_constraints));
  // The root is self-signed and signed nothing but the CA and server.
  EXPECT_EQ(X509_check_issued(pki.root_ca.get(), pki.root_ca.get()), X509_V_OK);
  EXPECT_NE(X509_get0_authority_key_id(pki.root_ca.get()), nullptr);
}

TEST(IssueCertificateTest, RejectsInconsistentRequests) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  CertificateProfile profile =
      AgencyLeafProfile(options, {"met-police", "police"});
  absl::StatusOr<PrivateKey> key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());

  // The root key did not certify the agency CA's public key.
  EXPECT_EQ(IssueCertificate(profile, key->get(), &pki.agency_ca, pki.root_key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A leaf cannot issue.
  EXPECT_EQ(IssueCertificate(profile, key->get(), &pki.agencies[0].certificate,
                             pki.agencies[0].key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Self-signed with someone else's key.
  EXPECT_EQ(IssueCertificate(profile, key->get(), nullptr, pki.root_key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  CertificateProfile bad = profile;
  bad.not_after = bad.not_before;
  EXPECT_EQ(IssueCertificate(bad, key->get(), &pki.agency_ca, pki.agency_ca_key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  bad = profile;
  bad.ip_sans = {"not-an-ip"};
  EXPECT_EQ(IssueCertificate(bad, key->get(), &pki.agency_ca, pki.agency_ca_key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  bad = profile;
  bad.permitted_uri_domains = {kTrustDomain};
  EXPECT_EQ(IssueCertificate(bad, key->get(), &pki.agency_ca, pki.agency_ca_key)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IssueCertificateTest, CommaInUriStaysOneSan) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  const Certificate leaf = IssueLeaf(pki, options, [](CertificateProfile& p) {
    p.uri_sans = {"spiffe://llr.refx.example/agency/a,URI:spiffe://x/y"};
  });
  absl::StatusOr<CertificateInfo> info = InspectCertificate(leaf);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->uri_sans.size(), 1u);
}

TEST(IssueCertificateTest, Ed25519IssuerSignsWithoutDigest) {
  absl::StatusOr<PrivateKey> ca_key = PrivateKey::Generate(KeyType::kEd25519);
  absl::StatusOr<PrivateKey> leaf_key = PrivateKey::Generate(KeyType::kEd25519);
  ASSERT_TRUE(ca_key.ok() && leaf_key.ok());
  const absl::Time now = absl::Now();
  CertificateProfile ca_profile;
  ca_profile.common_name = "ed25519 ca";
  ca_profile.is_ca = true;
  ca_profile.not_before = now - absl::Hours(1);
  ca_profile.not_after = now + absl::Hours(1);
  absl::StatusOr<Certificate> ca =
      IssueCertificate(ca_profile, ca_key->get(), nullptr, *ca_key);
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertificateProfile leaf_profile = ca_profile;
  leaf_profile.common_name = "ed25519 leaf";
  leaf_profile.is_ca = false;
  leaf_profile.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
  absl::StatusOr<Certificate> leaf =
      IssueCertificate(leaf_profile, leaf_key->get(), &*ca, *ca_key);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(X509_get_signature_nid(leaf->get()), NID_ED25519);
  EXPECT_TRUE(
      VerifyCertificate(*leaf, {}, {*ca}, ExtendedKeyUsage::kClientAuth, now)
          .ok());
}

TEST(VerifyCertificateTest, AcceptsTheGoodChains) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  const Certificate& leaf = pki.agencies[1].certificate;
  EXPECT_TRUE(VerifyCertificate(leaf, {pki.agency_ca}, {pki.root_ca},
                                ExtendedKeyUsage::kClientAuth, options.now)
                  .ok());
  EXPECT_TRUE(VerifyAsServerDoes(pki, leaf, options.now).ok());
  EXPECT_TRUE(VerifyCertificate(pki.server_certificate, {}, {pki.root_ca},
                                ExtendedKeyUsage::kServerAuth, options.now)
                  .ok());
}

TEST(VerifyCertificateTest, RefusesExpiredAndNotYetValid) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  const Certificate& leaf = pki.agencies[0].certificate;
  absl::Status expired = VerifyAsServerDoes(
      pki, leaf, options.now + options.leaf_lifetime + absl::Minutes(1));
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.message(), HasSubstr("(X509_V_ERR 10)"));

  absl::Status early =
      VerifyAsServerDoes(pki, leaf, options.now - absl::Minutes(10));
  EXPECT_EQ(early.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(early.message(), HasSubstr("(X509_V_ERR 9)"));
}

TEST(VerifyCertificateTest, RefusesForeignCa) {
  const DevPkiOptions options = Options();
  const DevPki ours = Generate(options);
  const DevPki theirs = Generate(options);
  absl::Status status = VerifyCertificate(
      theirs.agencies[0].certificate, {theirs.agency_ca}, {ours.agency_ca},
      ExtendedKeyUsage::kClientAuth, options.now);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("(X509_V_ERR 20)"));
}

TEST(VerifyCertificateTest, RefusesWrongExtendedKeyUsage) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  const Certificate server_only = IssueLeaf(pki, options, [](auto& p) {
    p.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
  });
  absl::Status status = VerifyAsServerDoes(pki, server_only, options.now);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("(X509_V_ERR 26)"));

  // The server certificate is not a client certificate either.
  EXPECT_EQ(VerifyCertificate(pki.server_certificate, {}, {pki.root_ca},
                              ExtendedKeyUsage::kClientAuth, options.now)
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(VerifyCertificateTest, RefusesUriOutsideNameConstraint) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  const Certificate outside = IssueLeaf(pki, options, [](auto& p) {
    p.uri_sans = {"spiffe://elsewhere.example/agency/met-police"};
  });
  absl::Status status = VerifyAsServerDoes(pki, outside, options.now);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("(X509_V_ERR 47)"));
}

TEST(VerifyCertificateTest, NeedsAnAnchor) {
  const DevPkiOptions options = Options();
  const DevPki pki = Generate(options);
  EXPECT_EQ(VerifyCertificate(pki.agencies[0].certificate, {pki.agency_ca}, {},
                              ExtendedKeyUsage::kClientAuth, options.now)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PrivateKeyTest, PemRoundTripWithoutPassphrase) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEd25519}) {
    absl::StatusOr<PrivateKey> key = PrivateKey::Generate(type);
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> pem = key->ToPem();
    ASSERT_TRUE(pem.ok()) << pem.status();
    EXPECT_TRUE(absl::StartsWith(*pem, "-----BEGIN PRIVATE KEY-----\n"));
    absl::StatusOr<PrivateKey> back = PrivateKey::FromPem(*pem);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(EVP_PKEY_eq(key->get(), back->get()), 1);
  }
}

TEST(PrivateKeyTest, PemRoundTripWithPassphrase) {
  absl::StatusOr<PrivateKey> key = PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<std::string> pem = key->ToPem("correct horse");
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_TRUE(
      absl::StartsWith(*pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));

  absl::StatusOr<PrivateKey> back = PrivateKey::FromPem(*pem, "correct horse");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EVP_PKEY_eq(key->get(), back->get()), 1);

  absl::StatusOr<PrivateKey> wrong = PrivateKey::FromPem(*pem, "battery");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<PrivateKey> none = PrivateKey::FromPem(*pem);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrivateKey::FromPem("not a key").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CertificateTest, PemRoundTripAndChains) {
  const DevPki pki = Generate(Options());
  const std::string chain =
      absl::StrCat(pki.agencies[0].certificate.ToPem(), pki.agency_ca.ToPem());
  absl::StatusOr<std::vector<Certificate>> certs =
      Certificate::AllFromPem(chain);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp((*certs)[0].get(), pki.agencies[0].certificate.get()), 0);
  EXPECT_EQ(X509_cmp((*certs)[1].get(), pki.agency_ca.get()), 0);

  EXPECT_EQ(Certificate::AllFromPem("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Certificate::AllFromPem(absl::StrCat(chain,
                                           "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                           "-----END CERTIFICATE-----\n"))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);

  Certificate copy = pki.root_ca;
  EXPECT_EQ(copy.get(), pki.root_ca.get());
}

TEST(InspectCertificateTest, ReportsTheFields) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const DevPkiOptions options = Options(now);
  const DevPki pki = Generate(options);
  const Certificate& leaf = pki.agencies[0].certificate;

  absl::StatusOr<CertificateInfo> info =
      InspectCertificatePem(absl::StrCat(leaf.ToPem(), pki.agency_ca.ToPem()));
  ASSERT_TRUE(info.ok()) << info.status();

  BignumPtr serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
  OpenSslStringPtr serial_hex(BN_bn2hex(serial.get()));
  EXPECT_EQ(info->serial_hex, serial_hex.get());
  EXPECT_THAT(info->serial_hex, MatchesRegex("[0-9A-F]{40}"));
  EXPECT_EQ(info->subject,
            "CN=met-police,OU=police,O=refx development partnership");
  EXPECT_EQ(info->issuer,
            "CN=refx development partnership Agency Issuing CA,"
            "O=refx development partnership");
  EXPECT_THAT(info->uri_sans,
              ElementsAre("spiffe://llr.refx.example/agency/met-police"));
  EXPECT_EQ(info->not_before, now - absl::Minutes(5));
  EXPECT_EQ(info->not_after, now + absl::Hours(24 * 90));

  // Recompute the fingerprint over the DER by a different route.
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(leaf.get(), &der);
  ASSERT_GT(der_length, 0);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  ASSERT_EQ(EVP_Digest(der, der_length, digest, &digest_length, EVP_sha256(),
                       nullptr),
            1);
  OPENSSL_free(der);
  std::string expected;
  for (unsigned int i = 0; i < digest_length; ++i) {
    absl::StrAppend(&expected, absl::Hex(digest[i], absl::kZeroPad2));
  }
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  EXPECT_EQ(info->sha256_fingerprint_hex, expected);
  EXPECT_EQ(info->sha256_fingerprint_hex.size(), 64u);

  EXPECT_EQ(InspectCertificatePem("garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WriteDevelopmentPkiTest, LaysOutFilesWithModes) {
  DevPkiOptions options = Options();
  options.directory = TempDirectory("dev-pki") + "/pki";
  absl::StatusOr<DevPkiResult> result = WriteDevelopmentPki(options);
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string& dir = options.directory;

  EXPECT_THAT(ListDirectory(dir),
              UnorderedElementsAre("root-ca.pem", "agency-ca.pem", "server.pem",
                                   "server.key", "agencies"));
  EXPECT_THAT(ListDirectory(dir + "/agencies"),
              UnorderedElementsAre("met-police.pem", "met-police.key",
                                   "leeds-council.pem", "leeds-council.key"));
  EXPECT_EQ(result->files_written.size(), 8u);
  EXPECT_EQ(result->files_written.back(), dir + "/root-ca.pem");

  EXPECT_EQ(FileMode(dir), 0700);
  EXPECT_EQ(FileMode(dir + "/agencies"), 0700);
  EXPECT_EQ(FileMode(dir + "/root-ca.pem"), 0644);
  EXPECT_EQ(FileMode(dir + "/agency-ca.pem"), 0644);
  EXPECT_EQ(FileMode(dir + "/server.pem"), 0644);
  EXPECT_EQ(FileMode(dir + "/server.key"), 0600);
  EXPECT_EQ(FileMode(dir + "/agencies/met-police.pem"), 0644);
  EXPECT_EQ(FileMode(dir + "/agencies/met-police.key"), 0600);

  // The files form the chains the server and clients will use.
  absl::StatusOr<Certificate> root =
      Certificate::FromPem(ReadFile(dir + "/root-ca.pem"));
  absl::StatusOr<Certificate> agency_ca =
      Certificate::FromPem(ReadFile(dir + "/agency-ca.pem"));
  absl::StatusOr<std::vector<Certificate>> chain =
      Certificate::AllFromPem(ReadFile(dir + "/agencies/met-police.pem"));
  absl::StatusOr<PrivateKey> key =
      PrivateKey::FromPem(ReadFile(dir + "/agencies/met-police.key"));
  ASSERT_TRUE(root.ok() && agency_ca.ok() && chain.ok() && key.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ(X509_cmp((*chain)[1].get(), agency_ca->get()), 0);
  EXPECT_EQ(X509_check_private_key((*chain)[0].get(), key->get()), 1);
  EXPECT_TRUE(VerifyCertificate((*chain)[0], {}, {*agency_ca},
                                ExtendedKeyUsage::kClientAuth, absl::Now())
                  .ok());
  absl::StatusOr<Certificate> server =
      Certificate::FromPem(ReadFile(dir + "/server.pem"));
  absl::StatusOr<PrivateKey> server_key =
      PrivateKey::FromPem(ReadFile(dir + "/server.key"));
  ASSERT_TRUE(server.ok() && server_key.ok());
  EXPECT_EQ(X509_check_private_key(server->get(), server_key->get()), 1);
  EXPECT_EQ(X509_check_host(server->get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server->get(), "::1", 0), 1);
  EXPECT_TRUE(VerifyCertificate(*server, {}, {*root},
                                ExtendedKeyUsage::kServerAuth, absl::Now())
                  .ok());
}

TEST(WriteDevelopmentPkiTest, RefusesToOverwriteUnlessAsked) {
  DevPkiOptions options = Options();
  options.directory = TempDirectory("dev-pki-twice");
  ASSERT_TRUE(WriteDevelopmentPki(options).ok());
  const std::string first_root = ReadFile(options.directory + "/root-ca.pem");

  absl::StatusOr<DevPkiResult> again = WriteDevelopmentPki(options);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(options.directory + "/root-ca.pem"), first_root);

  options.overwrite = true;
  ASSERT_TRUE(WriteDevelopmentPki(options).ok());
  EXPECT_NE(ReadFile(options.directory + "/root-ca.pem"), first_root);
}

TEST(WriteDevelopmentPkiTest, RejectsBadOptions) {
  DevPkiOptions options = Options();
  options.directory = TempDirectory("dev-pki-bad");
  options.agencies.push_back({"Met Police", "police"});
  EXPECT_EQ(WriteDevelopmentPki(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.agencies = {{"a", "x"}, {"a", "y"}};
  EXPECT_EQ(WriteDevelopmentPki(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.agencies = {};
  options.trust_domain = "";
  EXPECT_EQ(WriteDevelopmentPki(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListDirectory(options.directory).empty());
}

TEST(WriteFileAtomicallyTest, ReplacesContentsWithMode) {
  const std::string dir = TempDirectory("atomic");
  const std::string path = dir + "/file";
  ASSERT_TRUE(WriteFileAtomically(path, "first", 0600).ok());
  EXPECT_EQ(FileMode(path), 0600);
  ASSERT_TRUE(WriteFileAtomically(path, "second", 0644).ok());
  EXPECT_EQ(ReadFile(path), "second");
  EXPECT_EQ(FileMode(path), 0644);
  EXPECT_THAT(ListDirectory(dir), ElementsAre("file"));

  EXPECT_EQ(WriteFileAtomically(dir + "/missing/file", "x", 0644).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace refx::pki
