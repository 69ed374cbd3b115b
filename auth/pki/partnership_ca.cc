#include "auth/pki/partnership_ca.h"

#include <errno.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auth/pki/crl.h"
#include "auth/pki/csr.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/key_file.h"
#include "auth/pki/revocation_list.h"

namespace refx::pki {
namespace {

constexpr absl::Duration kClockSkewAllowance = absl::Minutes(5);

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

absl::Status MakeDirectory(const std::string& path, int mode) {
  if (mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0) return absl::OkStatus();
  const int saved = errno;
  struct stat info;
  if (saved == EEXIST && stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return absl::OkStatus();
  return absl::ErrnoToStatus(saved, absl::StrCat("cannot create directory ", path));
}

CertificateProfile CaProfile(const std::string& organization, const std::string& name, absl::Time now,
                             absl::Duration lifetime) {
  CertificateProfile profile;
  profile.common_name = absl::StrCat(organization, " ", name);
  profile.organization = organization;
  profile.is_ca = true;
  profile.not_before = now - kClockSkewAllowance;
  profile.not_after = now + lifetime;
  return profile;
}

absl::Status CheckLifetime(absl::Duration lifetime) {
  if (lifetime <= absl::ZeroDuration() || lifetime > kMaxLeafLifetime) {
    return absl::InvalidArgumentError(absl::StrCat("lifetime must be between 1 day and 366 days, not ",
                                                   absl::FormatDuration(lifetime)));
  }
  return absl::OkStatus();
}

// The newest lastUpdate among this CA's CRLs in `dir` (InfinitePast if none).
absl::Time NewestCrlUpdate(const std::string& dir, const Certificate& issuer) {
  absl::Time newest = absl::InfinitePast();
  const std::regex name(absl::StrCat("^", IssuerNameHash(issuer), "\\.r[0-9]+$"));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (!std::regex_match(entry.path().filename().string(), name)) continue;
    auto pem = ReadWholeFile(entry.path().string());
    if (!pem.ok()) continue;
    auto info = InspectCrlPem(*pem);
    if (info.ok() && info->last_update > newest) newest = info->last_update;
  }
  return newest;
}

LedgerCertificate RowFrom(const CertificateInfo& info, const std::string& kind, const std::string& subject_id,
                          absl::Time now) {
  LedgerCertificate row;
  row.serial_hex = info.serial_hex;
  row.kind = kind;
  row.subject_id = subject_id;
  row.subject = info.subject;
  row.sha256_fingerprint = info.sha256_fingerprint_hex;
  row.not_before = info.not_before;
  row.not_after = info.not_after;
  row.issued_at = now;
  return row;
}

}  // namespace

CaPaths CaPathsFor(const std::string& directory) {
  CaPaths p;
  p.directory = directory;
  p.root_cert = directory + "/root-ca.pem";
  p.root_key = directory + "/root-ca.key";
  p.issuing_cert = directory + "/agency-ca.pem";
  p.issuing_key = directory + "/agency-ca.key";
  p.ledger = directory + "/ledger.db";
  p.publish_dir = directory + "/publish";
  p.revocation_list = p.publish_dir + "/revocations.txt";
  p.crl_dir = p.publish_dir + "/crl";
  return p;
}

absl::Status CheckAgencyCertificateProfile(const Certificate& cert, const std::string& expected_uri) {
  X509* x = cert.get();
  auto fail = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("issued certificate breaks the agency profile: ", what));
  };
  if (X509_check_ca(x) != 0) return fail("it is a CA");
  const uint32_t ku = X509_get_key_usage(x);
  if (ku != KU_DIGITAL_SIGNATURE) return fail("keyUsage is not exactly digitalSignature");
  if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) == 0 || X509_get_extended_key_usage(x) != XKU_SSL_CLIENT) {
    return fail("extendedKeyUsage is not exactly clientAuth");
  }
  if (X509_get0_subject_key_id(x) == nullptr || X509_get0_authority_key_id(x) == nullptr) {
    return fail("SKI or AKI missing");
  }
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr || sk_GENERAL_NAME_num(names.get()) != 1) return fail("not exactly one SAN");
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  if (name->type != GEN_URI) return fail("the SAN is not a URI");
  const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
  if (std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                  static_cast<size_t>(ASN1_STRING_length(uri))) != expected_uri) {
    return fail("the URI SAN is not " + expected_uri);
  }
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
  if (serial == nullptr || BN_is_negative(serial.get()) || BN_num_bits(serial.get()) < 128) {
    return fail("serial is not a positive number of at least 128 bits");
  }
  ERR_clear_error();
  return absl::OkStatus();
}

absl::StatusOr<PartnershipCa::InitResult> PartnershipCa::Init(const InitOptions& o) {
  const CaPaths paths = CaPathsFor(o.directory);
  for (const std::string& path : {paths.ledger, paths.root_key, paths.issuing_key, paths.root_cert}) {
    if (Exists(path)) {
      return absl::AlreadyExistsError(
          absl::StrCat(o.directory, " already holds a CA (", path, " exists); refusing to overwrite it"));
    }
  }
  if (o.root_passphrase.empty() || o.issuing_passphrase.empty()) {
    return absl::InvalidArgumentError("a passphrase is required for each CA key (root and issuing)");
  }
  if (o.root_passphrase == o.issuing_passphrase) {
    return absl::InvalidArgumentError(
        "the root and issuing CA passphrases must differ: whatever unlocks the online issuing key (a cron job "
        "publishing the revocation list) must not unlock the offline root");
  }
  if (o.trust_domain.empty() || o.organization.empty()) {
    return absl::InvalidArgumentError("trust domain and organization are required");
  }
  // Everything is made in memory and verified before the first file.
  absl::StatusOr<PrivateKey> root_key = PrivateKey::Generate();
  if (!root_key.ok()) return root_key.status();
  CertificateProfile root_profile = CaProfile(o.organization, "Root CA", o.now, o.root_lifetime);
  root_profile.path_len = 1;
  absl::StatusOr<Certificate> root = IssueCertificate(root_profile, root_key->get(), nullptr, *root_key);
  if (!root.ok()) return root.status();

  absl::StatusOr<PrivateKey> issuing_key = PrivateKey::Generate();
  if (!issuing_key.ok()) return issuing_key.status();
  CertificateProfile issuing_profile = CaProfile(o.organization, "Agency Issuing CA", o.now, o.issuing_lifetime);
  issuing_profile.path_len = 0;
  issuing_profile.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
  issuing_profile.permitted_uri_domains = {o.trust_domain};
  if (issuing_profile.not_after > root_profile.not_after) issuing_profile.not_after = root_profile.not_after;
  absl::StatusOr<Certificate> issuing = IssueCertificate(issuing_profile, issuing_key->get(), &*root, *root_key);
  if (!issuing.ok()) return issuing.status();

  if (absl::Status s = MakeDirectory(o.directory, 0700); !s.ok()) return s;
  if (absl::Status s = MakeDirectory(paths.publish_dir, 0755); !s.ok()) return s;
  if (absl::Status s = MakeDirectory(paths.crl_dir, 0755); !s.ok()) return s;
  if (absl::Status s = WritePrivateKeyFile(paths.root_key, *root_key, o.root_passphrase, false); !s.ok()) return s;
  if (absl::Status s = WritePrivateKeyFile(paths.issuing_key, *issuing_key, o.issuing_passphrase, false); !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFileAtomically(paths.issuing_cert, issuing->ToPem(), 0644); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomically(paths.root_cert, root->ToPem(), 0644); !s.ok()) return s;

  absl::StatusOr<std::unique_ptr<IssuanceLedger>> ledger = IssuanceLedger::Open(paths.ledger, /*create=*/true);
  if (!ledger.ok()) return ledger.status();
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"trust_domain", o.trust_domain},
                                   {"partnership_id", o.partnership_id},
                                   {"organization", o.organization}}) {
    if (absl::Status s = (*ledger)->SetMeta(key, value); !s.ok()) return s;
  }
  InitResult result;
  result.paths = paths;
  for (const auto& [cert, kind, name] : {std::tuple<const Certificate*, const char*, const char*>{
                                             &*root, kKindRootCa, "root-ca"},
                                         {&*issuing, kKindIssuingCa, "agency-ca"}}) {
    absl::StatusOr<CertificateInfo> info = InspectCertificate(*cert);
    if (!info.ok()) return info.status();
    LedgerCertificate row = RowFrom(*info, kind, name, o.now);
    row.operator_name = o.operator_name;
    row.pem = cert->ToPem();
    if (absl::Status s = (*ledger)->RecordIssued(row, "ca-init", absl::StrCat("kind=", kind, " serial=",
                                                                              info->serial_hex),
                                                 o.now);
        !s.ok()) {
      return s;
    }
    (kind == std::string(kKindRootCa) ? result.root : result.issuing) = *info;
  }
  ledger->reset();

  // An empty list and CRL at once, so the server can be configured now.
  absl::StatusOr<std::unique_ptr<PartnershipCa>> ca = Open(o.directory);
  if (!ca.ok()) return ca.status();
  (*ca)->issuing_key_ = std::move(*issuing_key);
  absl::StatusOr<Publication> published = (*ca)->Publish(o.operator_name, o.now);
  if (!published.ok()) return published.status();
  return result;
}

absl::StatusOr<std::unique_ptr<PartnershipCa>> PartnershipCa::Open(const std::string& directory) {
  std::unique_ptr<PartnershipCa> ca(new PartnershipCa());
  ca->paths_ = CaPathsFor(directory);
  absl::StatusOr<std::unique_ptr<IssuanceLedger>> ledger = IssuanceLedger::Open(ca->paths_.ledger, false);
  if (!ledger.ok()) return ledger.status();
  ca->ledger_ = *std::move(ledger);
  for (auto [key, out] : {std::pair<const char*, std::string*>{"trust_domain", &ca->trust_domain_},
                          {"partnership_id", &ca->partnership_id_},
                          {"organization", &ca->organization_}}) {
    absl::StatusOr<std::string> value = ca->ledger_->GetMeta(key);
    if (!value.ok()) return value.status();
    *out = *value;
  }
  for (auto [path, out] : {std::pair<std::string, Certificate*>{ca->paths_.root_cert, &ca->root_},
                           {ca->paths_.issuing_cert, &ca->issuing_}}) {
    absl::StatusOr<std::string> pem = ReadWholeFile(path);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<Certificate> cert = Certificate::FromPem(*pem);
    if (!cert.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", cert.status().message()));
    *out = *std::move(cert);
  }
  return ca;
}

absl::Status PartnershipCa::UnlockIssuingKey(std::string_view passphrase) {
  absl::StatusOr<PrivateKey> key = ReadPrivateKeyFile(paths_.issuing_key, passphrase);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(issuing_.get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        absl::StrCat(paths_.issuing_key, " is not the key of ", paths_.issuing_cert));
  }
  issuing_key_ = *std::move(key);
  return absl::OkStatus();
}

absl::Status PartnershipCa::UnlockRootKey(std::string_view passphrase) {
  absl::StatusOr<PrivateKey> key = ReadPrivateKeyFile(paths_.root_key, passphrase);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(root_.get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(paths_.root_key, " is not the key of ", paths_.root_cert));
  }
  root_key_ = *std::move(key);
  return absl::OkStatus();
}

absl::StatusOr<PartnershipCa::Issued> PartnershipCa::Record(Certificate cert, const std::string& kind,
                                                            const std::string& subject_id,
                                                            const std::string& chain_pem,
                                                            const std::string& csr_sha256,
                                                            const std::string& operator_name, absl::Time now) {
  absl::StatusOr<CertificateInfo> info = InspectCertificate(cert);
  if (!info.ok()) return info.status();
  LedgerCertificate row = RowFrom(*info, kind, subject_id, now);
  row.operator_name = operator_name;
  row.csr_sha256 = csr_sha256;
  row.pem = cert.ToPem();
  if (absl::Status s = ledger_->RecordIssued(
          row, absl::StrCat("issue-", kind),
          absl::StrCat("subject=", subject_id, " serial=", info->serial_hex, " not_after=",
                       FormatRfc3339(info->not_after), csr_sha256.empty() ? "" : " csr_sha256=", csr_sha256),
          now);
      !s.ok()) {
    return s;
  }
  return Issued{std::move(cert), *std::move(info), chain_pem};
}

absl::StatusOr<PartnershipCa::Issued> PartnershipCa::IssueAgency(const AgencyIdentity& agency,
                                                                 const EVP_PKEY* public_key,
                                                                 const std::string& csr_sha256,
                                                                 absl::Duration lifetime,
                                                                 const std::string& operator_name, absl::Time now) {
  if (!issuing_key_.has_value()) return absl::FailedPreconditionError("the issuing CA key is locked");
  if (absl::Status s = CheckLifetime(lifetime); !s.ok()) return s;
  if (absl::Status s = CheckKeyAllowed(public_key); !s.ok()) return s;
  DevPkiOptions options;
  options.trust_domain = trust_domain_;
  options.organization = organization_;
  options.now = now;
  options.leaf_lifetime = lifetime;
  CertificateProfile profile = AgencyLeafProfile(options, {agency.id, agency.organizational_unit});
  absl::StatusOr<Certificate> cert = IssueCertificate(profile, public_key, &issuing_, *issuing_key_);
  if (!cert.ok()) return cert.status();
  const std::string uri = AgencySpiffeId(trust_domain_, agency.id);
  // The profile, then the chain exactly as a client builds it (to the root)
  // and as the server does (the issuing CA as its only anchor).
  absl::Status status = CheckAgencyCertificateProfile(*cert, uri);
  if (status.ok()) {
    status = VerifyCertificate(*cert, {issuing_}, {root_}, ExtendedKeyUsage::kClientAuth, now);
  }
  if (status.ok()) status = VerifyCertificate(*cert, {}, {issuing_}, ExtendedKeyUsage::kClientAuth, now);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("refusing to hand out a certificate for ", agency.id,
                                            " that fails its own checks: ", status.message()));
  }
  const std::string chain = absl::StrCat(cert->ToPem(), issuing_.ToPem());
  return Record(*std::move(cert), kKindAgency, agency.id, chain, csr_sha256, operator_name, now);
}

absl::StatusOr<PartnershipCa::Issued> PartnershipCa::IssueServer(const std::vector<std::string>& dns_names,
                                                                 const std::vector<std::string>& ips,
                                                                 const EVP_PKEY* public_key,
                                                                 const std::string& csr_sha256,
                                                                 absl::Duration lifetime,
                                                                 const std::string& operator_name, absl::Time now) {
  if (!root_key_.has_value()) return absl::FailedPreconditionError("the root CA key is locked");
  if (dns_names.empty()) return absl::InvalidArgumentError("a server certificate needs at least one --dns name");
  if (absl::Status s = CheckLifetime(lifetime); !s.ok()) return s;
  if (absl::Status s = CheckKeyAllowed(public_key); !s.ok()) return s;
  CertificateProfile profile;
  profile.common_name = dns_names.front();
  profile.organization = organization_;
  profile.dns_sans = dns_names;
  profile.ip_sans = ips;
  profile.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
  profile.not_before = now - kClockSkewAllowance;
  profile.not_after = now + lifetime;
  absl::StatusOr<Certificate> cert = IssueCertificate(profile, public_key, &root_, *root_key_);
  if (!cert.ok()) return cert.status();
  if (absl::Status s = VerifyCertificate(*cert, {}, {root_}, ExtendedKeyUsage::kServerAuth, now); !s.ok()) {
    return absl::InternalError(absl::StrCat("issued server certificate fails verification: ", s.message()));
  }
  const std::string chain = cert->ToPem();
  return Record(*std::move(cert), kKindServer, dns_names.front(), chain, csr_sha256, operator_name, now);
}

absl::StatusOr<PartnershipCa::Publication> PartnershipCa::Revoke(const std::vector<std::string>& serials,
                                                                 const std::string& reason,
                                                                 const std::string& operator_name, absl::Time now,
                                                                 absl::Duration validity) {
  if (!issuing_key_.has_value()) return absl::FailedPreconditionError("the issuing CA key is locked");
  if (RevocationReasonCode(reason) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown reason \"", reason, "\"; one of: ",
                                                   absl::StrJoin(RevocationReasonNames(), ", ")));
  }
  for (const std::string& serial : serials) {
    absl::StatusOr<LedgerCertificate> cert = ledger_->Find(serial);
    if (!cert.ok()) return cert.status();
    if (cert->kind == kKindRootCa) {
      return absl::InvalidArgumentError("the root cannot be revoked; retire the whole partnership PKI instead");
    }
  }
  if (absl::Status s = ledger_->MarkRevoked(serials, reason, operator_name, now); !s.ok()) return s;
  if (after_ledger_write_for_testing) {
    if (absl::Status s = after_ledger_write_for_testing(); !s.ok()) return s;
  }
  return Publish(operator_name, now, validity);
}

absl::StatusOr<PartnershipCa::Publication> PartnershipCa::Publish(const std::string& operator_name,
                                                                  absl::Time now, absl::Duration validity) {
  if (!issuing_key_.has_value()) return absl::FailedPreconditionError("the issuing CA key is locked");
  if (validity <= absl::ZeroDuration()) return absl::InvalidArgumentError("validity must be positive");
  absl::StatusOr<PublicationState> state = ledger_->Publication();
  if (!state.ok()) return state.status();
  absl::StatusOr<std::vector<LedgerCertificate>> revoked = ledger_->Revoked();
  if (!revoked.ok()) return revoked.status();

  Publication result;
  result.sequence = state->next_sequence;
  result.list_path = paths_.revocation_list;
  result.revoked = revoked->size();
  // Strictly after the newest CRL already there, or OpenSSL may keep using
  // that one (it prefers the latest lastUpdate).
  absl::Time generated = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  const absl::Time newest = NewestCrlUpdate(paths_.crl_dir, issuing_);
  if (generated <= newest) generated = newest + absl::Seconds(1);
  result.next_update = generated + validity;

  RevocationList list;
  list.sequence = result.sequence;
  list.generated = generated;
  list.next_update = result.next_update;
  CrlContents crl;
  crl.crl_number = result.sequence;
  crl.last_update = generated;
  crl.next_update = result.next_update;
  for (const LedgerCertificate& cert : *revoked) {
    RevokedCertificate entry{cert.serial_hex, cert.revoked_at.value_or(now), cert.revocation_reason};
    list.revoked.push_back(entry);
    // The issuing CA's CRL covers what it issued; its own revocation is the
    // root's business (and is in the list the server reads).
    if (cert.kind == kKindAgency) crl.revoked.push_back(entry);
  }
  absl::StatusOr<std::string> text = SignRevocationList(list, issuing_, *issuing_key_);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> crl_pem = MakeCrlPem(crl, issuing_, *issuing_key_);
  if (!crl_pem.ok()) return crl_pem.status();
  if (absl::Status s = WriteFileAtomically(paths_.revocation_list, *text, 0644); !s.ok()) return s;
  absl::StatusOr<std::string> crl_path = PublishCrlFile(paths_.crl_dir, issuing_, *crl_pem);
  if (!crl_path.ok()) return crl_path.status();
  result.crl_path = *crl_path;
  if (absl::Status s = ledger_->CompletePublication(
          result.sequence, operator_name,
          absl::StrCat("sequence=", result.sequence, " revoked=", result.revoked,
                       " next_update=", FormatRfc3339(result.next_update), " crl=", result.crl_path),
          now);
      !s.ok()) {
    return s;
  }
  return result;
}

absl::StatusOr<std::optional<PartnershipCa::Publication>> PartnershipCa::CompletePendingPublication(
    const std::string& operator_name, absl::Time now, absl::Duration validity) {
  absl::StatusOr<PublicationState> state = ledger_->Publication();
  if (!state.ok()) return state.status();
  if (!state->pending) return std::optional<Publication>();
  absl::StatusOr<Publication> published = Publish(operator_name, now, validity);
  if (!published.ok()) return published.status();
  return std::optional<Publication>(*std::move(published));
}

}  // namespace refx::pki
