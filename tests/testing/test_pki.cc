#include "tests/testing/test_pki.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"

namespace refx::testing {
namespace {

using pki::Certificate;
using pki::CertificateProfile;
using pki::ExtendedKeyUsage;
using pki::PrivateKey;

constexpr char kTestOrganizationalUnit[] = "test";

absl::StatusOr<TestPki::ClientCert> ToClientCert(
    const PrivateKey& key, const std::vector<const Certificate*>& chain) {
  absl::StatusOr<std::string> key_pem = key.ToPem();
  if (!key_pem.ok()) return key_pem.status();
  TestPki::ClientCert cert;
  for (const Certificate* link : chain) {
    absl::StrAppend(&cert.cert_chain_pem, link->ToPem());
  }
  cert.key_pem = *std::move(key_pem);
  return cert;
}

}  // namespace

std::string_view VariantName(Variant variant) {
  switch (variant) {
    case Variant::kGood:
      return "Good";
    case Variant::kExpired:
      return "Expired";
    case Variant::kNotYetValid:
      return "NotYetValid";
    case Variant::kForeignCa:
      return "ForeignCa";
    case Variant::kCommonNameOnly:
      return "CommonNameOnly";
    case Variant::kTwoUriSans:
      return "TwoUriSans";
    case Variant::kUriOutsideTrustDomain:
      return "UriOutsideTrustDomain";
    case Variant::kServerAuthOnly:
      return "ServerAuthOnly";
    case Variant::kNoExtendedKeyUsage:
      return "NoExtendedKeyUsage";
    case Variant::kSelfSigned:
      return "SelfSigned";
    case Variant::kCaAsLeaf:
      return "CaAsLeaf";
    case Variant::kCaWithClientAuth:
      return "CaWithClientAuth";
    case Variant::kKeyCertSignLeaf:
      return "KeyCertSignLeaf";
    case Variant::kKeyAgreementOnly:
      return "KeyAgreementOnly";
    case Variant::kAnyExtendedKeyUsage:
      return "AnyExtendedKeyUsage";
    case Variant::kNoKeyUsage:
      return "NoKeyUsage";
    case Variant::kNoBasicConstraints:
      return "NoBasicConstraints";
    case Variant::kWeakRsaKey:
      return "WeakRsaKey";
    case Variant::kRsa2048Key:
      return "Rsa2048Key";
  }
  return "Unknown";
}

std::vector<Variant> AllVariants() {
  return {Variant::kGood,
          Variant::kExpired,
          Variant::kNotYetValid,
          Variant::kForeignCa,
          Variant::kCommonNameOnly,
          Variant::kTwoUriSans,
          Variant::kUriOutsideTrustDomain,
          Variant::kServerAuthOnly,
          Variant::kNoExtendedKeyUsage,
          Variant::kSelfSigned,
          Variant::kCaAsLeaf,
          Variant::kCaWithClientAuth,
          Variant::kKeyCertSignLeaf,
          Variant::kKeyAgreementOnly,
          Variant::kAnyExtendedKeyUsage,
          Variant::kNoKeyUsage,
          Variant::kNoBasicConstraints,
          Variant::kWeakRsaKey,
          Variant::kRsa2048Key};
}

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create(
    std::string directory, std::string trust_domain,
    std::vector<std::string> agency_ids) {
  pki::DevPkiOptions options;
  options.directory = std::move(directory);
  options.trust_domain = std::move(trust_domain);
  for (std::string& id : agency_ids) {
    options.agencies.push_back({std::move(id), kTestOrganizationalUnit});
  }
  // Test directories are reused across runs; a stale PKI is never wanted.
  options.overwrite = true;

  absl::StatusOr<pki::DevPki> material = pki::GenerateDevelopmentPki(options);
  if (!material.ok()) return material.status();
  absl::StatusOr<pki::DevPkiResult> written =
      pki::WriteDevelopmentPkiFiles(*material, options);
  if (!written.ok()) return written.status();

  std::map<std::string, ClientCert> agencies;
  for (const pki::DevPkiAgencyCredentials& agency : material->agencies) {
    absl::StatusOr<ClientCert> cert =
        ToClientCert(agency.key, {&agency.certificate, &material->agency_ca});
    if (!cert.ok()) return cert.status();
    agencies.emplace(agency.id, *std::move(cert));
  }
  return std::unique_ptr<TestPki>(new TestPki(
      std::move(options), *std::move(material), std::move(agencies)));
}

TestPki::TestPki(pki::DevPkiOptions options, pki::DevPki pki,
                 std::map<std::string, ClientCert> agencies)
    : options_(std::move(options)),
      pki_(std::move(pki)),
      agencies_(std::move(agencies)) {}

std::string TestPki::root_ca_pem_path() const {
  return absl::StrCat(options_.directory, "/root-ca.pem");
}
std::string TestPki::agency_ca_pem_path() const {
  return absl::StrCat(options_.directory, "/agency-ca.pem");
}
std::string TestPki::server_cert_path() const {
  return absl::StrCat(options_.directory, "/server.pem");
}
std::string TestPki::server_key_path() const {
  return absl::StrCat(options_.directory, "/server.key");
}
std::string TestPki::agency_cert_chain_path(
    const std::string& agency_id) const {
  return absl::StrCat(options_.directory, "/agencies/", agency_id, ".pem");
}
std::string TestPki::agency_key_path(const std::string& agency_id) const {
  return absl::StrCat(options_.directory, "/agencies/", agency_id, ".key");
}
std::string TestPki::root_ca_pem() const { return pki_.root_ca.ToPem(); }
std::string TestPki::agency_ca_pem() const { return pki_.agency_ca.ToPem(); }

TestPki::ClientCert TestPki::Agency(const std::string& agency_id) const {
  auto it = agencies_.find(agency_id);
  if (it == agencies_.end()) {
    std::fprintf(stderr, "TestPki::Agency: \"%s\" was not passed to Create\n",
                 agency_id.c_str());
    std::abort();
  }
  return it->second;
}

absl::StatusOr<TestPki::ClientCert> TestPki::IssueWithLifetime(
    const std::string& agency_id, absl::Duration lifetime) const {
  pki::DevPkiOptions options = options_;
  options.now = absl::Now();
  CertificateProfile profile = pki::AgencyLeafProfile(
      options, pki::DevPkiAgency{agency_id, kTestOrganizationalUnit});
  profile.not_before = options.now - absl::Minutes(1);
  profile.not_after = options.now + lifetime;
  absl::StatusOr<PrivateKey> key = PrivateKey::Generate();
  if (!key.ok()) return key.status();
  absl::StatusOr<Certificate> cert = pki::IssueCertificate(
      profile, key->get(), &pki_.agency_ca, pki_.agency_ca_key);
  if (!cert.ok()) return cert.status();
  return ToClientCert(*key, {&*cert, &pki_.agency_ca});
}

absl::StatusOr<TestPki::ClientCert> TestPki::Issue(const std::string& agency_id,
                                                   Variant variant) const {
  // Validity is relative to this call, not to Create, so a long test run
  // still gets a currently valid kGood certificate.
  pki::DevPkiOptions options = options_;
  options.now = absl::Now();
  const pki::DevPkiAgency agency{agency_id, kTestOrganizationalUnit};

  if (variant == Variant::kForeignCa) {
    options.agencies = {agency};
    absl::StatusOr<pki::DevPki> foreign = pki::GenerateDevelopmentPki(options);
    if (!foreign.ok()) return foreign.status();
    return ToClientCert(
        foreign->agencies.front().key,
        {&foreign->agencies.front().certificate, &foreign->agency_ca});
  }

  // Same check as GenerateDevelopmentPki, which the other variants bypass.
  if (agency_id.empty() ||
      agency_id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("agency id \"", agency_id, "\" must be [a-z0-9-]"));
  }
  CertificateProfile profile = pki::AgencyLeafProfile(options, agency);
  switch (variant) {
    case Variant::kGood:
    case Variant::kForeignCa:
    case Variant::kSelfSigned:
      break;
    case Variant::kExpired:
      profile.not_before = options.now - absl::Hours(48);
      profile.not_after = options.now - absl::Hours(24);
      break;
    case Variant::kNotYetValid:
      profile.not_before = options.now + absl::Hours(24);
      profile.not_after = options.now + absl::Hours(48);
      break;
    case Variant::kCommonNameOnly:
      profile.uri_sans.clear();
      break;
    case Variant::kTwoUriSans:
      profile.uri_sans.push_back(pki::AgencySpiffeId(
          options.trust_domain, absl::StrCat(agency_id, "-alias")));
      break;
    case Variant::kUriOutsideTrustDomain:
      profile.uri_sans = {pki::AgencySpiffeId("outside.invalid", agency_id)};
      break;
    case Variant::kServerAuthOnly:
      profile.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
      break;
    case Variant::kNoExtendedKeyUsage:
      profile.extended_key_usages.clear();
      break;
    case Variant::kCaAsLeaf:
      profile.is_ca = true;
      break;
    case Variant::kCaWithClientAuth:
      profile.is_ca = true;
      profile.key_usage_override = "critical,digitalSignature,keyCertSign";
      break;
    case Variant::kKeyCertSignLeaf:
      profile.key_usage_override = "critical,digitalSignature,keyCertSign";
      break;
    case Variant::kKeyAgreementOnly:
      profile.key_usage_override = "critical,keyAgreement";
      break;
    case Variant::kAnyExtendedKeyUsage:
      profile.extended_key_usages = {ExtendedKeyUsage::kAny};
      break;
    case Variant::kNoKeyUsage:
      profile.key_usage_override = "none";
      break;
    case Variant::kNoBasicConstraints:
      profile.omit_basic_constraints = true;
      break;
    case Variant::kWeakRsaKey:
    case Variant::kRsa2048Key:
      break;
  }

  absl::StatusOr<PrivateKey> key = [&]() -> absl::StatusOr<PrivateKey> {
    if (variant != Variant::kWeakRsaKey && variant != Variant::kRsa2048Key) return PrivateKey::Generate();
    const unsigned int bits = variant == Variant::kWeakRsaKey ? 1024 : 2048;
    EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
    if (rsa == nullptr) return absl::InternalError("RSA key generation failed");
    return PrivateKey(pki::EvpPkeyPtr(rsa));
  }();
  if (!key.ok()) return key.status();
  const bool self_signed = variant == Variant::kSelfSigned;
  absl::StatusOr<Certificate> cert = pki::IssueCertificate(
      profile, key->get(), self_signed ? nullptr : &pki_.agency_ca,
      self_signed ? *key : pki_.agency_ca_key);
  if (!cert.ok()) return cert.status();
  if (self_signed) return ToClientCert(*key, {&*cert});
  return ToClientCert(*key, {&*cert, &pki_.agency_ca});
}

}  // namespace refx::testing
