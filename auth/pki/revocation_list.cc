#include "auth/pki/revocation_list.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace refx::pki {
namespace {

constexpr char kFormatLine[] = "refx-revocation-list 1";
constexpr char kSignaturePrefix[] = "signature ";
constexpr char kHeaderComment[] =
    "# refx revocation list, written by refx-admin. Do not edit: the signature "
    "covers every line above it.\n";

using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;

bool IsUpperHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

absl::StatusOr<absl::Time> ParseTime(std::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", ToAbsl(text), absl::UTCTimeZone(),
                       &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad time \"", ToAbsl(text), "\": ", error));
  }
  return time;
}

const EVP_MD* DigestFor(const EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
}

}  // namespace

const std::vector<std::string>& RevocationReasonNames() {
  static const auto* const kNames = new std::vector<std::string>{
      "unspecified",         "key-compromise",
      "ca-compromise",       "affiliation-changed",
      "superseded",          "cessation-of-operation",
      "privilege-withdrawn"};
  return *kNames;
}

int RevocationReasonCode(std::string_view name) {
  static const std::pair<const char*, int> kCodes[] = {
      {"unspecified", CRL_REASON_UNSPECIFIED},
      {"key-compromise", CRL_REASON_KEY_COMPROMISE},
      {"ca-compromise", CRL_REASON_CA_COMPROMISE},
      {"affiliation-changed", CRL_REASON_AFFILIATION_CHANGED},
      {"superseded", CRL_REASON_SUPERSEDED},
      {"cessation-of-operation", CRL_REASON_CESSATION_OF_OPERATION},
      {"privilege-withdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN}};
  for (const auto& [text, code] : kCodes) {
    if (name == text) return code;
  }
  return -1;
}

std::string FormatRfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

absl::StatusOr<std::string> SignRevocationList(RevocationList list,
                                               const Certificate& signer,
                                               const PrivateKey& signer_key) {
  ERR_clear_error();
  absl::StatusOr<CertificateInfo> info = InspectCertificate(signer);
  if (!info.ok()) return info.status();
  if (X509_check_private_key(signer.get(), signer_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the signing key is not the key of the signing certificate");
  }
  if (list.next_update <= list.generated || list.sequence < 0) {
    return absl::InvalidArgumentError(
        "revocation list needs next_update after generated and sequence >= 0");
  }
  list.issuer_sha256 = info->sha256_fingerprint_hex;
  std::string body = kHeaderComment;
  absl::StrAppend(&body, kFormatLine, "\n", "issuer-sha256 ",
                  list.issuer_sha256, "\n", "sequence ", list.sequence, "\n",
                  "generated ", FormatRfc3339(list.generated), "\n",
                  "next-update ", FormatRfc3339(list.next_update), "\n");
  for (const RevokedCertificate& entry : list.revoked) {
    if (!IsUpperHex(entry.serial_hex) ||
        RevocationReasonCode(entry.reason) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad revocation entry: serial \"", entry.serial_hex,
                       "\" reason \"", entry.reason, "\""));
    }
    absl::StrAppend(&body, "revoked ", entry.serial_hex, " ",
                    FormatRfc3339(entry.revoked_at), " ", entry.reason, "\n");
  }

  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t signature_length = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(signer_key.get()),
                         nullptr, signer_key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &signature_length,
                     reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign the list");
  }
  std::string signature(signature_length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
                     &signature_length,
                     reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign the list");
  }
  signature.resize(signature_length);
  absl::StrAppend(&body, kSignaturePrefix, absl::Base64Escape(signature), "\n");
  return body;
}

absl::StatusOr<RevocationList> ParseRevocationList(
    std::string_view text, const std::vector<Certificate>& trusted_signers) {
  ERR_clear_error();
  // The signature line is the last line; everything before it is signed.
  std::string_view trimmed = text;
  if (!trimmed.empty() && trimmed.back() == '\n') trimmed.remove_suffix(1);
  const size_t last_newline = trimmed.rfind('\n');
  if (last_newline == std::string_view::npos) {
    return absl::InvalidArgumentError("revocation list is empty or truncated");
  }
  const std::string_view signed_part = text.substr(0, last_newline + 1);
  const std::string_view signature_line = trimmed.substr(last_newline + 1);
  if (signature_line.substr(0, sizeof(kSignaturePrefix) - 1) !=
      kSignaturePrefix) {
    return absl::InvalidArgumentError(
        "revocation list does not end with its signature line (truncated?)");
  }
  std::string signature;
  if (!absl::Base64Unescape(
          ToAbsl(signature_line.substr(sizeof(kSignaturePrefix) - 1)),
          &signature)) {
    return absl::InvalidArgumentError("revocation list signature is not base64");
  }

  RevocationList list;
  bool saw_format = false, saw_sequence = false, saw_generated = false,
       saw_next_update = false;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(ToAbsl(signed_part), '\n', absl::SkipEmpty())) {
    ++line_number;
    if (line.front() == '#') continue;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "revocation list line ", line_number, ": ", why));
    };
    if (!saw_format) {
      if (line != kFormatLine) return fail("not a refx revocation list v1");
      saw_format = true;
      continue;
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    const absl::string_view key = fields[0];
    if (key == "issuer-sha256" && fields.size() == 2 &&
        IsUpperHex(std::string_view(fields[1].data(), fields[1].size()))) {
      list.issuer_sha256 = std::string(fields[1]);
    } else if (key == "sequence" && fields.size() == 2 &&
               absl::SimpleAtoi(fields[1], &list.sequence) &&
               list.sequence >= 0) {
      saw_sequence = true;
    } else if ((key == "generated" || key == "next-update") &&
               fields.size() == 2) {
      absl::StatusOr<absl::Time> time =
          ParseTime(std::string_view(fields[1].data(), fields[1].size()));
      if (!time.ok()) return fail(time.status().message());
      (key == "generated" ? list.generated : list.next_update) = *time;
      (key == "generated" ? saw_generated : saw_next_update) = true;
    } else if (key == "revoked" && fields.size() == 4) {
      RevokedCertificate entry;
      entry.serial_hex = std::string(fields[1]);
      entry.reason = std::string(fields[3]);
      absl::StatusOr<absl::Time> time =
          ParseTime(std::string_view(fields[2].data(), fields[2].size()));
      if (!time.ok()) return fail(time.status().message());
      entry.revoked_at = *time;
      if (!IsUpperHex(entry.serial_hex) ||
          RevocationReasonCode(entry.reason) < 0) {
        return fail("bad revoked entry");
      }
      list.revoked.push_back(std::move(entry));
    } else {
      return fail(absl::StrCat("unexpected \"", key, "\""));
    }
  }
  if (!saw_format || list.issuer_sha256.empty() || !saw_sequence ||
      !saw_generated || !saw_next_update) {
    return absl::InvalidArgumentError(
        "revocation list lacks one of: format, issuer-sha256, sequence, "
        "generated, next-update");
  }
  // What SignRevocationList refuses to write, the reader refuses too (found
  // by fuzzing: the two disagreed).
  if (list.next_update <= list.generated) {
    return absl::InvalidArgumentError(
        "revocation list's next-update is not after its generated time");
  }

  const Certificate* signer = nullptr;
  for (const Certificate& candidate : trusted_signers) {
    absl::StatusOr<CertificateInfo> info = InspectCertificate(candidate);
    if (info.ok() && info->sha256_fingerprint_hex == list.issuer_sha256) {
      signer = &candidate;
      break;
    }
  }
  if (signer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "revocation list is signed by CA ", list.issuer_sha256,
        ", which is not among the trusted agency CAs (tls.client_ca_file)"));
  }
  EVP_PKEY* key = X509_get0_pubkey(signer->get());
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(key), nullptr, key) !=
          1 ||
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
          signature.size(),
          reinterpret_cast<const unsigned char*>(signed_part.data()),
          signed_part.size()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "revocation list signature does not verify (edited, corrupt or "
        "forged)");
  }
  return list;
}

}  // namespace refx::pki
