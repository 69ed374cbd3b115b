// The partnership's revocation list: the file refx-server reads to refuse
// revoked certificates in the TLS handshake.
//
// Why not just a CRL? gRPC 1.51 ignores a missing CRL (fail-open), never
// checks the intermediate and does not re-read a CRL replaced in place
// (grpc-security.md V7-V9, reliability.md section 0). This list is what the
// server's own verifier enforces, fail-closed; the CRLs in crl.h are for
// other relying parties and defence in depth.
//
// Format (UTF-8 text, one record per line, `\n` line ends):
//
//   # refx revocation list; written by refx-admin. Do not edit: ...
//   refx-revocation-list 1
//   issuer-sha256 <64 uppercase hex: SHA-256 of the signing CA certificate>
//   sequence <decimal, increases with every publication>
//   generated <RFC 3339 UTC, e.g. 2026-11-28T10:00:00Z>
//   next-update <RFC 3339 UTC: the list is void after this instant>
//   revoked <serial, uppercase hex> <revocation time, RFC 3339> <reason>
//   ...                                   (zero or more `revoked` lines)
//   signature <base64 signature over every byte before this line>
//
// The signature is ECDSA-SHA256 (or Ed25519) by the agency issuing CA's key,
// so the server accepts only a list made by a CA it already trusts for
// client certificates, and any edit, truncation or torn write is detected.
// Comment lines (#) may appear before the signature and are signed too.
#ifndef REFX_AUTH_PKI_REVOCATION_LIST_H_
#define REFX_AUTH_PKI_REVOCATION_LIST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"

namespace refx::pki {

// RFC 5280 reason names as refx spells them: "unspecified",
// "key-compromise", "ca-compromise", "affiliation-changed", "superseded",
// "cessation-of-operation", "privilege-withdrawn".
const std::vector<std::string>& RevocationReasonNames();
// The CRLReason code of a name above; -1 when it is not one.
int RevocationReasonCode(std::string_view name);

struct RevokedCertificate {
  std::string serial_hex;  // Uppercase, as CertificateInfo::serial_hex.
  absl::Time revoked_at;
  std::string reason;  // One of RevocationReasonNames().
};

struct RevocationList {
  std::string issuer_sha256;  // Uppercase hex, no separators.
  int64_t sequence = 0;
  absl::Time generated;
  absl::Time next_update;
  std::vector<RevokedCertificate> revoked;
};

// The signed text of `list`, signed by `signer_key`, the key of `signer`.
// `list.issuer_sha256` is filled from `signer`. InvalidArgument for a bad
// serial, reason or time order (next_update must follow generated).
absl::StatusOr<std::string> SignRevocationList(RevocationList list,
                                               const Certificate& signer,
                                               const PrivateKey& signer_key);

// Parses `text` and verifies its signature with the certificate among
// `trusted_signers` whose SHA-256 fingerprint the list names.
// InvalidArgument for a malformed or badly signed list (the message says
// which line or check failed); FailedPrecondition when no trusted signer
// matches. Does not look at next_update: that is the reader's policy.
absl::StatusOr<RevocationList> ParseRevocationList(
    std::string_view text, const std::vector<Certificate>& trusted_signers);

// RFC 3339 UTC with seconds, as used in the list ("2026-11-28T10:00:00Z").
std::string FormatRfc3339(absl::Time time);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_REVOCATION_LIST_H_
