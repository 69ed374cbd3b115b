// IssueCertificate: turns a CertificateProfile into a signed X.509 v3
// certificate. Every rule the partnership's certificates follow (random
// positive serials, critical basicConstraints and keyUsage, SKI/AKI, SAN and
// name-constraint encoding, SHA-256) is applied here and nowhere else.
#include "auth/pki/certificate_authority.h"

#include <openssl/rand.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace refx::pki {
namespace {

constexpr int kSerialBytes = 20;  // RFC 5280's maximum.

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

absl::Status AddNameEntry(X509_NAME* name, int nid, std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (X509_NAME_add_entry_by_NID(
          name, nid, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(value.data()),
          static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("cannot put ", OBJ_nid2sn(nid), "=\"", ToAbsl(value),
                     "\" in a certificate subject"));
  }
  return absl::OkStatus();
}

// Builds a GENERAL_NAME directly rather than through "URI:..." config text,
// whose parser would split a value at a comma.
absl::StatusOr<GeneralNamePtr> MakeGeneralName(int type,
                                               std::string_view value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  if (name == nullptr) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "GENERAL_NAME");
  }
  if (type == GEN_IPADD) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(std::string(value).c_str());
    if (ip == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", ToAbsl(value), "\" is not an IPv4 or IPv6 address"));
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip);
    return name;
  }
  if (value.empty() || !IsPrintableAscii(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject alternative name \"", ToAbsl(value),
                     "\" must be non-empty printable ASCII without spaces"));
  }
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (text == nullptr || ASN1_STRING_set(text, value.data(),
                                         static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(text);
    return OpenSslError(absl::StatusCode::kResourceExhausted, "IA5String");
  }
  GENERAL_NAME_set0_value(name.get(), type, text);
  return name;
}

absl::Status AddSubjectAltNames(X509* cert, const CertificateProfile& profile) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  const std::pair<int, const std::vector<std::string>*> kinds[] = {
      {GEN_URI, &profile.uri_sans},
      {GEN_DNS, &profile.dns_sans},
      {GEN_IPADD, &profile.ip_sans}};
  for (const auto& [type, values] : kinds) {
    for (const std::string& value : *values) {
      absl::StatusOr<GeneralNamePtr> name = MakeGeneralName(type, value);
      if (!name.ok()) return name.status();
      if (sk_GENERAL_NAME_push(names.get(), name->get()) <= 0) {
        return OpenSslError(absl::StatusCode::kResourceExhausted, "SAN list");
      }
      name->release();
    }
  }
  if (sk_GENERAL_NAME_num(names.get()) == 0) return absl::OkStatus();
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot add subjectAltName");
  }
  return absl::OkStatus();
}

absl::Status AddNameConstraints(X509* cert,
                                const std::vector<std::string>& domains) {
  if (domains.empty()) return absl::OkStatus();
  NameConstraintsPtr constraints(NAME_CONSTRAINTS_new());
  constraints->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
  for (const std::string& domain : domains) {
    absl::StatusOr<GeneralNamePtr> base = MakeGeneralName(GEN_URI, domain);
    if (!base.ok()) return base.status();
    GENERAL_SUBTREE* subtree = GENERAL_SUBTREE_new();
    GENERAL_NAME_free(subtree->base);
    subtree->base = base->release();
    if (sk_GENERAL_SUBTREE_push(constraints->permittedSubtrees, subtree) <= 0) {
      GENERAL_SUBTREE_free(subtree);
      return OpenSslError(absl::StatusCode::kResourceExhausted,
                          "name constraint list");
    }
  }
  if (X509_add1_ext_i2d(cert, NID_name_constraints, constraints.get(), 1,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot add nameConstraints");
  }
  return absl::OkStatus();
}

// For extensions whose value is fixed text chosen by this file, where
// OpenSSL's config syntax is the clearest way to say it.
absl::Status AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid,
                              const std::string& value) {
  X509ExtensionPtr extension(
      X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(
        absl::StatusCode::kInternal,
        absl::StrCat("cannot add ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status CheckProfile(const CertificateProfile& profile) {
  if (profile.common_name.empty()) {
    return absl::InvalidArgumentError(
        "certificate profile needs a common name");
  }
  if (profile.not_before >= profile.not_after) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate validity is empty: not_before ",
                     absl::FormatTime(profile.not_before), " >= not_after ",
                     absl::FormatTime(profile.not_after)));
  }
  if (profile.path_len < -1 || (!profile.is_ca && profile.path_len != -1)) {
    return absl::InvalidArgumentError(
        "path_len must be -1, or >= 0 on a CA certificate");
  }
  if (!profile.is_ca && !profile.permitted_uri_domains.empty()) {
    return absl::InvalidArgumentError(
        "name constraints are only meaningful on a CA certificate");
  }
  return absl::OkStatus();
}

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[kSerialBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "RAND_bytes");
  }
  // Clearing the top bit keeps the DER integer positive; setting the next one
  // keeps it exactly 20 octets, so serials never shrink below 128 bits.
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  BignumPtr serial(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) ==
          nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "serial number");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Certificate> IssueCertificate(const CertificateProfile& profile,
                                             const EVP_PKEY* subject_public_key,
                                             const Certificate* issuer,
                                             const PrivateKey& issuer_key) {
  ERR_clear_error();
  if (absl::Status status = CheckProfile(profile); !status.ok()) return status;
  if (subject_public_key == nullptr || issuer_key.get() == nullptr) {
    return absl::InvalidArgumentError("missing subject or issuer key");
  }
  if (issuer == nullptr) {
    if (EVP_PKEY_eq(subject_public_key, issuer_key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "a self-signed certificate must be signed by the subject's own key");
    }
  } else {
    if (issuer->get() == nullptr || X509_check_ca(issuer->get()) == 0) {
      return absl::InvalidArgumentError("issuer certificate is not a CA");
    }
    if (X509_check_private_key(issuer->get(), issuer_key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "issuer_key is not the key of the issuer certificate");
    }
  }

  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "X509_new");
  }
  if (absl::Status status = SetRandomSerial(cert.get()); !status.ok()) {
    return status;
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const auto& [nid, value] :
       {std::pair<int, const std::string*>{NID_organizationName,
                                           &profile.organization},
        {NID_organizationalUnitName, &profile.organizational_unit},
        {NID_commonName, &profile.common_name}}) {
    if (absl::Status status = AddNameEntry(subject, nid, *value);
        !status.ok()) {
      return status;
    }
  }
  const X509_NAME* issuer_name =
      issuer == nullptr ? subject : X509_get_subject_name(issuer->get());
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(profile.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(profile.not_after)) == nullptr ||
      // X509_set_pubkey only encodes the key; it takes a non-const pointer
      // for historical reasons.
      X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(subject_public_key)) !=
          1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "cannot set issuer, validity or public key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer == nullptr ? cert.get() : issuer->get(),
                 cert.get(), nullptr, nullptr, 0);
  if (issuer == nullptr) X509V3_set_issuer_pkey(&ctx, issuer_key.get());

  std::string basic_constraints =
      profile.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  std::string key_usage = profile.key_usage_override;
  if (key_usage.empty()) {
    key_usage = profile.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature";
  }
  if (profile.path_len >= 0) {
    absl::StrAppend(&basic_constraints, ",pathlen:", profile.path_len);
  }
  std::vector<std::string> usages;
  for (ExtendedKeyUsage usage : profile.extended_key_usages) {
    usages.push_back(usage == ExtendedKeyUsage::kClientAuth   ? "clientAuth"
                     : usage == ExtendedKeyUsage::kServerAuth ? "serverAuth"
                                                              : "anyExtendedKeyUsage");
  }
  absl::Status status;
  if (!profile.omit_basic_constraints) {
    status = AddConfExtension(cert.get(), &ctx, NID_basic_constraints,
                              basic_constraints);
  }
  if (status.ok() && key_usage != "none") {
    status = AddConfExtension(cert.get(), &ctx, NID_key_usage, key_usage);
  }
  if (status.ok() && !usages.empty()) {
    status = AddConfExtension(cert.get(), &ctx, NID_ext_key_usage,
                              absl::StrJoin(usages, ","));
  }
  if (status.ok()) status = AddSubjectAltNames(cert.get(), profile);
  if (status.ok()) {
    status = AddNameConstraints(cert.get(), profile.permitted_uri_domains);
  }
  // SKI before AKI: a self-signed certificate's AKI is copied from its SKI.
  if (status.ok()) {
    status =
        AddConfExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  }
  if (status.ok()) {
    status = AddConfExtension(cert.get(), &ctx, NID_authority_key_identifier,
                              "keyid:always");
  }
  if (!status.ok()) return status;

  // Ed25519 signs the message itself, so OpenSSL requires no digest.
  const bool pure_eddsa = EVP_PKEY_is_a(issuer_key.get(), "ED25519") ||
                          EVP_PKEY_is_a(issuer_key.get(), "ED448");
  if (X509_sign(cert.get(), issuer_key.get(),
                pure_eddsa ? nullptr : EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing failed");
  }

  // Re-parse the signed DER: OpenSSL caches decoded extensions on first use,
  // and building the AKI above may have filled that cache from a half-built
  // certificate. A fresh object sees exactly what a relying party sees.
  unsigned char* der = nullptr;
  const int der_length = i2d_X509(cert.get(), &der);
  if (der_length <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode");
  }
  const unsigned char* cursor = der;
  X509Ptr parsed(d2i_X509(nullptr, &cursor, der_length));
  OPENSSL_free(der);
  if (parsed == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot re-read");
  }
  return Certificate(std::move(parsed));
}

}  // namespace refx::pki
