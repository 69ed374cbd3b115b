#include "auth/pki/dev_pki.h"

#include <errno.h>
#include <sys/stat.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace refx::pki {
namespace {

// Enough for the clock skew between a laptop and a CI runner.
constexpr absl::Duration kClockSkewAllowance = absl::Minutes(5);
constexpr absl::Duration kRootLifetime = absl::Hours(24 * 3650);
constexpr absl::Duration kAgencyCaLifetime = absl::Hours(24 * 1825);
constexpr int kCertMode = 0644;
constexpr int kKeyMode = 0600;

bool OnlyChars(std::string_view s, std::string_view allowed_punctuation) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    allowed_punctuation.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return !s.empty();
}

absl::Status CheckOptions(const DevPkiOptions& options) {
  if (!OnlyChars(options.trust_domain, ".-_")) {
    return absl::InvalidArgumentError(
        absl::StrCat("trust domain \"", options.trust_domain,
                     "\" must be non-empty [a-z0-9._-]"));
  }
  if (options.server_dns_names.empty()) {
    return absl::InvalidArgumentError(
        "the server certificate needs at least one DNS name (it is the CN)");
  }
  if (options.leaf_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leaf_lifetime must be positive");
  }
  std::set<std::string> seen;
  for (const DevPkiAgency& agency : options.agencies) {
    // The server accepts exactly these characters in the SPIFFE path, so a
    // certificate with any other id would be useless.
    if (!OnlyChars(agency.id, "-")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "agency id \"", agency.id, "\" must be non-empty [a-z0-9-]"));
    }
    if (!seen.insert(agency.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("agency id \"", agency.id, "\" appears twice"));
    }
  }
  return absl::OkStatus();
}

CertificateProfile CaProfile(const DevPkiOptions& options, const char* name,
                             absl::Duration lifetime) {
  CertificateProfile profile;
  profile.common_name = absl::StrCat(options.organization, " ", name);
  profile.organization = options.organization;
  profile.is_ca = true;
  profile.not_before = options.now - kClockSkewAllowance;
  profile.not_after = options.now + lifetime;
  return profile;
}

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

absl::Status CheckNotOverwriting(const DevPkiOptions& options) {
  if (options.directory.empty()) {
    return absl::InvalidArgumentError("development PKI needs a directory");
  }
  const std::string root_path = absl::StrCat(options.directory, "/root-ca.pem");
  if (!options.overwrite && Exists(root_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        root_path, " already exists; set overwrite to replace that PKI"));
  }
  return absl::OkStatus();
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0) return absl::OkStatus();
  const int saved_errno = errno;
  struct stat info;
  if (saved_errno == EEXIST && stat(path.c_str(), &info) == 0 &&
      S_ISDIR(info.st_mode)) {
    return absl::OkStatus();
  }
  return absl::ErrnoToStatus(saved_errno,
                             absl::StrCat("cannot create directory ", path));
}

}  // namespace

std::string AgencySpiffeId(std::string_view trust_domain,
                           std::string_view agency_id) {
  return absl::StrCat("spiffe://", ToAbsl(trust_domain), "/agency/",
                      ToAbsl(agency_id));
}

CertificateProfile AgencyLeafProfile(const DevPkiOptions& options,
                                     const DevPkiAgency& agency) {
  CertificateProfile profile;
  profile.common_name = agency.id;
  profile.organization = options.organization;
  profile.organizational_unit = agency.organizational_unit;
  profile.uri_sans = {AgencySpiffeId(options.trust_domain, agency.id)};
  profile.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
  profile.not_before = options.now - kClockSkewAllowance;
  profile.not_after = options.now + options.leaf_lifetime;
  return profile;
}

absl::StatusOr<DevPki> GenerateDevelopmentPki(const DevPkiOptions& options) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;

  absl::StatusOr<PrivateKey> root_key = PrivateKey::Generate();
  if (!root_key.ok()) return root_key.status();
  // pathlen:1 leaves room for the agency issuing CA and nothing deeper.
  CertificateProfile root_profile =
      CaProfile(options, "Root CA", kRootLifetime);
  root_profile.path_len = 1;
  absl::StatusOr<Certificate> root_ca =
      IssueCertificate(root_profile, root_key->get(), nullptr, *root_key);
  if (!root_ca.ok()) return root_ca.status();

  // Both constraints on the issuing CA bind every certificate below it, so
  // even a mis-issued agency leaf cannot be a server or name another domain.
  absl::StatusOr<PrivateKey> agency_ca_key = PrivateKey::Generate();
  if (!agency_ca_key.ok()) return agency_ca_key.status();
  CertificateProfile agency_ca_profile =
      CaProfile(options, "Agency Issuing CA", kAgencyCaLifetime);
  agency_ca_profile.path_len = 0;
  agency_ca_profile.extended_key_usages = {ExtendedKeyUsage::kClientAuth};
  agency_ca_profile.permitted_uri_domains = {options.trust_domain};
  absl::StatusOr<Certificate> agency_ca = IssueCertificate(
      agency_ca_profile, agency_ca_key->get(), &*root_ca, *root_key);
  if (!agency_ca.ok()) return agency_ca.status();

  absl::StatusOr<PrivateKey> server_key = PrivateKey::Generate();
  if (!server_key.ok()) return server_key.status();
  CertificateProfile server_profile;
  server_profile.common_name = options.server_dns_names.front();
  server_profile.organization = options.organization;
  server_profile.dns_sans = options.server_dns_names;
  server_profile.ip_sans = options.server_ips;
  server_profile.extended_key_usages = {ExtendedKeyUsage::kServerAuth};
  server_profile.not_before = options.now - kClockSkewAllowance;
  server_profile.not_after = options.now + options.leaf_lifetime;
  absl::StatusOr<Certificate> server_certificate =
      IssueCertificate(server_profile, server_key->get(), &*root_ca, *root_key);
  if (!server_certificate.ok()) return server_certificate.status();
  if (absl::Status status =
          VerifyCertificate(*server_certificate, {}, {*root_ca},
                            ExtendedKeyUsage::kServerAuth, options.now);
      !status.ok()) {
    return absl::InternalError(absl::StrCat(
        "issued server certificate fails verification: ", status.message()));
  }

  DevPki pki{std::move(*root_key),
             std::move(*root_ca),
             std::move(*agency_ca_key),
             std::move(*agency_ca),
             std::move(*server_key),
             std::move(*server_certificate),
             {}};
  for (const DevPkiAgency& agency : options.agencies) {
    absl::StatusOr<PrivateKey> key = PrivateKey::Generate();
    if (!key.ok()) return key.status();
    absl::StatusOr<Certificate> certificate =
        IssueCertificate(AgencyLeafProfile(options, agency), key->get(),
                         &pki.agency_ca, pki.agency_ca_key);
    if (!certificate.ok()) return certificate.status();
    // Once as a client building the full path to the root, once as the
    // server does with agency-ca.pem as its only anchor.
    absl::Status status =
        VerifyCertificate(*certificate, {pki.agency_ca}, {pki.root_ca},
                          ExtendedKeyUsage::kClientAuth, options.now);
    if (status.ok()) {
      status = VerifyCertificate(*certificate, {}, {pki.agency_ca},
                                 ExtendedKeyUsage::kClientAuth, options.now);
    }
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("issued certificate for agency ", agency.id,
                       " fails verification: ", status.message()));
    }
    pki.agencies.push_back(
        {agency.id, std::move(*key), std::move(*certificate)});
  }
  return pki;
}

absl::StatusOr<DevPkiResult> WriteDevelopmentPkiFiles(
    const DevPki& pki, const DevPkiOptions& options) {
  const std::string& dir = options.directory;
  if (absl::Status status = CheckNotOverwriting(options); !status.ok()) {
    return status;
  }
  const std::string agencies_dir = absl::StrCat(dir, "/agencies");
  if (absl::Status status = MakeDirectory(dir); !status.ok()) return status;
  if (absl::Status status = MakeDirectory(agencies_dir); !status.ok()) {
    return status;
  }

  DevPkiResult result;
  auto write = [&result](const std::string& path, std::string_view contents,
                         int mode) {
    absl::Status status = WriteFileAtomically(path, contents, mode);
    if (status.ok()) result.files_written.push_back(path);
    return status;
  };
  auto write_key = [&write](const std::string& path, const PrivateKey& key) {
    absl::StatusOr<std::string> pem = key.ToPem();
    return pem.ok() ? write(path, *pem, kKeyMode) : pem.status();
  };

  const std::string agency_ca_pem = pki.agency_ca.ToPem();
  absl::Status status =
      write(absl::StrCat(dir, "/agency-ca.pem"), agency_ca_pem, kCertMode);
  if (status.ok()) {
    status = write(absl::StrCat(dir, "/server.pem"),
                   pki.server_certificate.ToPem(), kCertMode);
  }
  if (status.ok()) {
    status = write_key(absl::StrCat(dir, "/server.key"), pki.server_key);
  }
  for (const DevPkiAgencyCredentials& agency : pki.agencies) {
    if (!status.ok()) break;
    const std::string base = absl::StrCat(agencies_dir, "/", agency.id);
    status = write(absl::StrCat(base, ".pem"),
                   absl::StrCat(agency.certificate.ToPem(), agency_ca_pem),
                   kCertMode);
    if (status.ok()) status = write_key(absl::StrCat(base, ".key"), agency.key);
  }
  if (status.ok()) {
    status = write(absl::StrCat(dir, "/root-ca.pem"), pki.root_ca.ToPem(),
                   kCertMode);
  }
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<DevPkiResult> WriteDevelopmentPki(const DevPkiOptions& options) {
  // Fail before spending time on keys when the answer is already known.
  if (absl::Status status = CheckNotOverwriting(options); !status.ok()) {
    return status;
  }
  absl::StatusOr<DevPki> pki = GenerateDevelopmentPki(options);
  if (!pki.ok()) return pki.status();
  return WriteDevelopmentPkiFiles(*pki, options);
}

}  // namespace refx::pki
