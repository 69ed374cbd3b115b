// Reading certificates that already exist: describing one for humans and
// for WhoAmI (InspectCertificate), checking a client leaf against the agency
// profile, and verifying a chain the way the gRPC server will.
#include "auth/pki/certificate_authority.h"

#include <openssl/core_names.h>

#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace refx::pki {
namespace {

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

}  // namespace refx::pki
