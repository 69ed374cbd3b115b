#include "auth/pki/certificate_authority.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace refx::pki {
namespace {

constexpr int kSerialBytes = 20;  // RFC 5280's maximum.

// OpenSSL asks for a passphrase through a callback; `user_data` points at the
// caller's std::string_view. Returning -1 makes decryption fail cleanly when
// there is no passphrase, instead of prompting on a terminal.
int PassphraseCallback(char* buffer, int size, int /*rwflag*/,
                       void* user_data) {
  const auto* passphrase = static_cast<const std::string_view*>(user_data);
  if (passphrase->empty() || passphrase->size() > static_cast<size_t>(size)) {
    return -1;
  }
  passphrase->copy(buffer, passphrase->size());
  return static_cast<int>(passphrase->size());
}

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

absl::StatusOr<absl::Time> ToAbslTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "unreadable certificate time");
  }
  return absl::FromTM(parts, absl::UTCTimeZone());
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  return MemoryBioContents(bio.get());
}

std::string UpperHex(const unsigned char* data, size_t size) {
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  for (char& c : hex) c = absl::ascii_toupper(static_cast<unsigned char>(c));
  return hex;
}

}  // namespace

absl::StatusOr<PrivateKey> PrivateKey::Generate(KeyType type) {
  ERR_clear_error();
  EvpPkeyPtr key(type == KeyType::kEd25519
                     ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "key generation failed");
  }
  return PrivateKey(std::move(key));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPem(std::string_view pem,
                                               std::string_view passphrase) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                         &PassphraseCallback, &passphrase));
  if (key == nullptr) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        passphrase.empty()
            ? "no private key in PEM (encrypted keys need a passphrase)"
            : "no private key in PEM, or wrong passphrase");
  }
  return PrivateKey(std::move(key));
}

absl::StatusOr<std::string> PrivateKey::ToPem(
    std::string_view passphrase) const {
  ERR_clear_error();
  BioPtr bio(BIO_new(BIO_s_mem()));
  const bool encrypt = !passphrase.empty();
  if (PEM_write_bio_PKCS8PrivateKey(
          bio.get(), key_.get(), encrypt ? EVP_aes_256_cbc() : nullptr,
          encrypt ? passphrase.data() : nullptr,
          static_cast<int>(passphrase.size()), nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot encode private key");
  }
  return MemoryBioContents(bio.get());
}

Certificate::Certificate(const Certificate& other) { *this = other; }

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_ != nullptr) X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
  }
  return *this;
}

absl::StatusOr<Certificate> Certificate::FromPem(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (x509 == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "no certificate in PEM");
  }
  return Certificate(std::move(x509));
}

absl::StatusOr<std::vector<Certificate>> Certificate::AllFromPem(
    std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  std::vector<Certificate> certs;
  while (true) {
    X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (x509 == nullptr) break;
    certs.emplace_back(std::move(x509));
  }
  // Running out of PEM blocks ends the loop with "no start line"; anything
  // else is a block that failed to parse.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                         ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (certs.empty() || !clean_end) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("cannot read certificate #", certs.size() + 1, " in PEM"));
  }
  ERR_clear_error();
  return certs;
}

std::string Certificate::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (x509_ == nullptr || PEM_write_bio_X509(bio.get(), x509_.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  return MemoryBioContents(bio.get());
}

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

absl::StatusOr<CertificateInfo> InspectCertificate(const Certificate& cert) {
  ERR_clear_error();
  X509* x509 = cert.get();
  if (x509 == nullptr) return absl::InvalidArgumentError("empty certificate");
  CertificateInfo info;

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nullptr));
  OpenSslStringPtr serial_hex(serial ? BN_bn2hex(serial.get()) : nullptr);
  if (serial_hex == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "serial number");
  }
  info.serial_hex = serial_hex.get();
  info.subject = NameToString(X509_get_subject_name(x509));
  info.issuer = NameToString(X509_get_issuer_name(x509));

  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
    info.uri_sans.emplace_back(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
        static_cast<size_t>(ASN1_STRING_length(uri)));
  }

  absl::StatusOr<absl::Time> not_before = ToAbslTime(X509_get0_notBefore(x509));
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after = ToAbslTime(X509_get0_notAfter(x509));
  if (!not_after.ok()) return not_after.status();
  info.not_before = *not_before;
  info.not_after = *not_after;

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (X509_digest(x509, EVP_sha256(), digest, &digest_length) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "fingerprint");
  }
  info.sha256_fingerprint_hex = UpperHex(digest, digest_length);
  return info;
}

absl::StatusOr<CertificateInfo> InspectCertificatePem(std::string_view pem) {
  absl::StatusOr<Certificate> cert = Certificate::FromPem(pem);
  if (!cert.ok()) return cert.status();
  return InspectCertificate(*cert);
}

absl::Status CheckAgencyClientProfile(const Certificate& leaf) {
  X509* x509 = leaf.get();
  if (x509 == nullptr) return absl::UnauthenticatedError("no client certificate");
  auto refuse = [](std::string_view why) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate is outside the agency profile: ", absl::string_view(why.data(), why.size())));
  };
  if (X509_get_version(x509) != X509_VERSION_3) return refuse("not an X.509 v3 certificate");
  // Caches the extensions; a certificate whose extensions do not parse is
  // marked invalid by OpenSSL.
  const uint32_t flags = X509_get_extension_flags(x509);
  if ((flags & EXFLAG_INVALID) != 0) return refuse("its extensions cannot be parsed");
  if ((flags & EXFLAG_XKUSAGE) == 0) {
    return refuse("no extendedKeyUsage (it must name clientAuth)");
  }
  if ((X509_get_extended_key_usage(x509) & XKU_SSL_CLIENT) == 0) {
    return refuse("extendedKeyUsage does not name clientAuth");
  }
  if ((flags & EXFLAG_CA) != 0) return refuse("basicConstraints says CA:TRUE");
  if ((flags & EXFLAG_KUSAGE) != 0) {
    const uint32_t usage = X509_get_key_usage(x509);
    if ((usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
      return refuse("keyUsage allows signing certificates or CRLs");
    }
    if ((usage & KU_DIGITAL_SIGNATURE) == 0) return refuse("keyUsage lacks digitalSignature");
  }
  if (X509_check_ca(x509) != 0) return refuse("it can act as a CA");
  const EVP_PKEY* key = X509_get0_pubkey(x509);
  if (key == nullptr) return refuse("its public key cannot be read");
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) return refuse("RSA key shorter than 2048 bits");
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char curve[64] = {0};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &length) != 1) {
      ERR_clear_error();
      return refuse("EC key on an unnamed curve");
    }
    const std::string_view name(curve, length);
    if (name != "prime256v1" && name != "secp384r1" && name != "secp521r1") {
      return refuse("EC key on a curve other than P-256, P-384 or P-521");
    }
  } else if (!EVP_PKEY_is_a(key, "ED25519")) {
    return refuse("key type other than EC, Ed25519 or RSA");
  }
  return absl::OkStatus();
}

absl::Status VerifyCertificate(const Certificate& leaf,
                               const std::vector<Certificate>& intermediates,
                               const std::vector<Certificate>& anchors,
                               ExtendedKeyUsage purpose, absl::Time at) {
  ERR_clear_error();
  if (anchors.empty()) {
    return absl::InvalidArgumentError("no trust anchors to verify against");
  }
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "X509 store");
  }
  for (const Certificate& anchor : anchors) {
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "cannot add trust anchor");
    }
  }
  for (const Certificate& intermediate : intermediates) {
    if (sk_X509_push(untrusted.get(), intermediate.get()) <= 0) {
      return OpenSslError(absl::StatusCode::kResourceExhausted, "chain");
    }
    X509_up_ref(intermediate.get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(),
                          untrusted.get()) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(),
                                 purpose == ExtendedKeyUsage::kClientAuth
                                     ? X509_PURPOSE_SSL_CLIENT
                                     : X509_PURPOSE_SSL_SERVER) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()),
                              X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(at));

  const int result = X509_verify_cert(ctx.get());
  if (result == 1) {
    ERR_clear_error();
    return absl::OkStatus();
  }
  const int error = X509_STORE_CTX_get_error(ctx.get());
  if (result < 0 || error == X509_V_OK) {
    return OpenSslError(absl::StatusCode::kInternal, "X509_verify_cert");
  }
  ERR_clear_error();
  const X509* culprit = X509_STORE_CTX_get_current_cert(ctx.get());
  return absl::UnauthenticatedError(absl::StrCat(
      "certificate refused: ", X509_verify_cert_error_string(error),
      " (X509_V_ERR ", error, ") at chain depth ",
      X509_STORE_CTX_get_error_depth(ctx.get()), ", subject \"",
      culprit != nullptr ? NameToString(X509_get_subject_name(culprit)) : "",
      "\""));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view contents, int mode) {
  if (path.empty() || path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\" is not a file path"));
  }
  if ((mode & ~07777) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad file mode ", mode));
  }
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "."
                                : slash == 0               ? "/"
                                             : path.substr(0, slash);
  std::string temp_path = path + ".tmp-XXXXXX";
  int fd = mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot create a file beside ", path));
  }
  auto fail = [&](std::string_view what) {
    const int saved_errno = errno;
    if (fd >= 0) close(fd);
    unlink(temp_path.c_str());
    return absl::ErrnoToStatus(saved_errno,
                               absl::StrCat(ToAbsl(what), " ", temp_path));
  };
  // mkostemp creates the file 0600; widen or keep it before any bytes land.
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot chmod");
  while (!contents.empty()) {
    const ssize_t written = write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    contents.remove_prefix(static_cast<size_t>(written));
  }
  if (fsync(fd) != 0) return fail("cannot fsync");
  const int close_result = close(fd);
  fd = -1;
  if (close_result != 0) return fail("cannot close");
  if (rename(temp_path.c_str(), path.c_str()) != 0) {
    return fail(absl::StrCat("cannot rename to ", path, " from"));
  }
  // Without this the rename itself may not survive a crash.
  const int dir_fd =
      open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || fsync(dir_fd) != 0) {
    const int saved_errno = errno;
    if (dir_fd >= 0) close(dir_fd);
    return absl::ErrnoToStatus(
        saved_errno, absl::StrCat("cannot fsync directory ", directory));
  }
  close(dir_fd);
  return absl::OkStatus();
}

}  // namespace refx::pki
