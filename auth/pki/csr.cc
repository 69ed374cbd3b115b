#include "auth/pki/csr.h"

#include <openssl/pem.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace refx::pki {

absl::StatusOr<CertificateRequest> CertificateRequest::FromPem(
    std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (req == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "no certificate signing request in PEM");
  }
  return CertificateRequest(std::move(req));
}

absl::StatusOr<CertificateRequest> CertificateRequest::Create(
    const PrivateKey& key, std::string_view common_name,
    const std::vector<std::string>& uri_sans) {
  ERR_clear_error();
  X509ReqPtr req(X509_REQ_new());
  if (req == nullptr || X509_REQ_set_version(req.get(), 0) != 1) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "X509_REQ_new");
  }
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_NID(
          name, NID_commonName, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.data()),
          static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "CSR subject");
  }
  if (!uri_sans.empty()) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    for (const std::string& uri : uri_sans) {
      GENERAL_NAME* name_entry = GENERAL_NAME_new();
      ASN1_IA5STRING* text = ASN1_IA5STRING_new();
      ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size()));
      GENERAL_NAME_set0_value(name_entry, GEN_URI, text);
      sk_GENERAL_NAME_push(names.get(), name_entry);
    }
    STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
    X509V3_add1_i2d(&extensions, NID_subject_alt_name, names.get(), 0,
                    X509V3_ADD_DEFAULT);
    const int added = X509_REQ_add_extensions(req.get(), extensions);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    if (added != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "CSR extensions");
    }
  }
  const bool pure_eddsa = EVP_PKEY_is_a(key.get(), "ED25519");
  if (X509_REQ_sign(req.get(), key.get(),
                    pure_eddsa ? nullptr : EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "CSR signing failed");
  }
  return CertificateRequest(std::move(req));
}

absl::Status CertificateRequest::VerifyProofOfPossession() const {
  ERR_clear_error();
  EVP_PKEY* key = public_key();
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "the CSR carries no readable public key");
  }
  if (X509_REQ_verify(req_.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "the CSR's signature does not verify with its own "
                        "public key (no proof of possession; it was altered "
                        "or is corrupt)");
  }
  return absl::OkStatus();
}

EVP_PKEY* CertificateRequest::public_key() const {
  return X509_REQ_get0_pubkey(req_.get());
}

std::string CertificateRequest::RequestedSubject() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_REQ_get_subject_name(req_.get()), 0,
                     XN_FLAG_RFC2253);
  return MemoryBioContents(bio.get());
}

std::string CertificateRequest::Sha256Hex() const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_REQ_digest(req_.get(), EVP_sha256(), digest, &length) != 1) {
    ERR_clear_error();
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string CertificateRequest::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req_.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  return MemoryBioContents(bio.get());
}

absl::Status CheckKeyAllowed(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("no public key");
  if (EVP_PKEY_is_a(key, "ED25519")) return absl::OkStatus();
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {0};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) == 1 &&
        std::string_view(group, length) == "prime256v1") {
      return absl::OkStatus();
    }
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("EC key on curve \"", group,
                     "\" refused: the partnership profile is ECDSA P-256 "
                     "(prime256v1) or Ed25519"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(EVP_PKEY_get0_type_name(key) != nullptr
                       ? EVP_PKEY_get0_type_name(key)
                       : "unknown",
                   " key refused: the partnership profile is ECDSA P-256 or "
                   "Ed25519"));
}

}  // namespace refx::pki
