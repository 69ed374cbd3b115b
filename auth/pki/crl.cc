#include "auth/pki/crl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace refx::pki {
namespace {

using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL_free>>;
using X509RevokedPtr =
    std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME_free>>;
using Asn1EnumeratedPtr =
    std::unique_ptr<ASN1_ENUMERATED, OpenSslDeleter<ASN1_ENUMERATED_free>>;

Asn1TimePtr MakeTime(absl::Time time) {
  return Asn1TimePtr(ASN1_TIME_set(nullptr, absl::ToTimeT(time)));
}

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "CRL time");
  }
  return absl::FromTM(parts, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::string> MakeCrlPem(const CrlContents& contents,
                                       const Certificate& issuer,
                                       const PrivateKey& issuer_key) {
  ERR_clear_error();
  if (contents.next_update <= contents.last_update) {
    return absl::InvalidArgumentError("CRL next_update must follow last_update");
  }
  X509CrlPtr crl(X509_CRL_new());
  Asn1TimePtr last = MakeTime(contents.last_update);
  Asn1TimePtr next = MakeTime(contents.next_update);
  if (crl == nullptr || last == nullptr || next == nullptr ||
      X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get())) !=
          1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "CRL header");
  }
  for (const RevokedCertificate& entry : contents.revoked) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, entry.serial_hex.c_str()) == 0) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("serial ", entry.serial_hex));
    }
    BignumPtr serial_bn(raw);
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(serial_bn.get(), nullptr));
    X509RevokedPtr revoked(X509_REVOKED_new());
    Asn1TimePtr when = MakeTime(entry.revoked_at);
    Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
    const int code = RevocationReasonCode(entry.reason);
    if (serial == nullptr || revoked == nullptr || when == nullptr ||
        reason == nullptr || code < 0 ||
        X509_REVOKED_set_serialNumber(revoked.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), when.get()) != 1 ||
        ASN1_ENUMERATED_set(reason.get(), code) != 1 ||
        X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, reason.get(),
                                  0, 0) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("CRL entry ", entry.serial_hex));
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "CRL entry");
    }
    revoked.release();
  }
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (number == nullptr ||
      ASN1_INTEGER_set_int64(number.get(), contents.crl_number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) !=
          1) {
    return OpenSslError(absl::StatusCode::kInternal, "cRLNumber");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.get(), nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx,
                                           NID_authority_key_identifier,
                                           "keyid:always"));
  if (aki == nullptr || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "CRL AKI");
  }
  X509_CRL_sort(crl.get());
  const bool pure_eddsa = EVP_PKEY_is_a(issuer_key.get(), "ED25519");
  if (X509_CRL_sign(crl.get(), issuer_key.get(),
                    pure_eddsa ? nullptr : EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "CRL signing failed");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "CRL encoding");
  }
  return MemoryBioContents(bio.get());
}

std::string IssuerNameHash(const Certificate& issuer) {
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(
      X509_get_subject_name(issuer.get()), nullptr, nullptr, &ok);
  if (ok != 1) ERR_clear_error();
  return absl::StrFormat("%08lx", hash);
}

absl::StatusOr<std::string> PublishCrlFile(const std::string& directory,
                                           const Certificate& issuer,
                                           std::string_view crl_pem) {
  const std::string base = absl::StrCat(directory, "/", IssuerNameHash(issuer));
  const std::string temp = absl::StrCat(directory, "/.crl-publish.tmp");
  if (absl::Status status = WriteFileAtomically(temp, crl_pem, 0644);
      !status.ok()) {
    return status;
  }
  for (int n = 0; n < 100000; ++n) {
    const std::string path = absl::StrCat(base, ".r", n);
    if (link(temp.c_str(), path.c_str()) == 0) {
      unlink(temp.c_str());
      const int dir_fd =
          open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd >= 0) {
        fsync(dir_fd);
        close(dir_fd);
      }
      return path;
    }
    if (errno != EEXIST) {
      const int saved = errno;
      unlink(temp.c_str());
      return absl::ErrnoToStatus(saved, absl::StrCat("cannot create ", path));
    }
  }
  unlink(temp.c_str());
  return absl::ResourceExhaustedError(
      absl::StrCat("no free CRL name ", base, ".rN"));
}

absl::StatusOr<CrlInfo> InspectCrlPem(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (crl == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "no CRL in PEM");
  }
  CrlInfo info;
  absl::StatusOr<absl::Time> last = ToTime(X509_CRL_get0_lastUpdate(crl.get()));
  absl::StatusOr<absl::Time> next = ToTime(X509_CRL_get0_nextUpdate(crl.get()));
  if (!last.ok()) return last.status();
  if (!next.ok()) return next.status();
  info.last_update = *last;
  info.next_update = *next;
  Asn1IntegerPtr number(static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  int64_t value = -1;
  if (number != nullptr && ASN1_INTEGER_get_int64(&value, number.get()) == 1) {
    info.crl_number = value;
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    BignumPtr serial(ASN1_INTEGER_to_BN(
        X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)),
        nullptr));
    OpenSslStringPtr hex(serial ? BN_bn2hex(serial.get()) : nullptr);
    if (hex != nullptr) info.revoked_serials_hex.push_back(hex.get());
  }
  ERR_clear_error();
  return info;
}

}  // namespace refx::pki
