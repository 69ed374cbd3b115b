// The issuance ledger: an SQLite file in the CA directory that records every
// certificate the partnership CA has issued, its status and revocation, the
// state of revocation-list publication, and a hash-chained log of every
// administrative action.
//
// Crash safety rests on one rule: the ledger is written first. A revocation
// commits "revoked" and "publication pending" in one transaction; the list
// and CRL are written after it, and a later transaction clears "pending".
// Whatever is interrupted, rerunning any command that holds the CA key (or
// `crl publish`) sees "pending" and publishes again from the ledger, so the
// ledger, the list and the CRL end consistent.
//
// The action log is append-only by convention and tamper-evident by
// construction: each entry stores SHA-256(previous hash, its own fields), so
// editing or deleting an entry breaks every later hash (VerifyActionLog).
//
// It runs on the store's SQLite driver (storage/sqlite/sqlite_connection.h):
// WAL mode, synchronous=FULL, and bound parameters for every value.
#ifndef REFX_AUTH_PKI_ISSUANCE_LEDGER_H_
#define REFX_AUTH_PKI_ISSUANCE_LEDGER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/sql_driver.h"


namespace refx::pki {

// Certificate kinds in the ledger.
inline constexpr char kKindRootCa[] = "root-ca";
inline constexpr char kKindIssuingCa[] = "issuing-ca";
inline constexpr char kKindServer[] = "server";
inline constexpr char kKindAgency[] = "agency";

struct LedgerCertificate {
  std::string serial_hex;
  std::string kind;        // One of the kinds above.
  std::string subject_id;  // Agency id, server DNS name or CA name.
  std::string subject;     // RFC 2253.
  std::string sha256_fingerprint;
  absl::Time not_before;
  absl::Time not_after;
  absl::Time issued_at;
  std::string status = "valid";  // "valid" or "revoked".
  std::optional<absl::Time> revoked_at;
  std::string revocation_reason;
  std::string operator_name;
  std::string csr_sha256;  // Empty when the CA generated the key.
  std::string pem;
};

struct PublicationState {
  bool pending = false;
  std::string pending_reason;
  int64_t next_sequence = 1;  // Sequence and CRL number of the next publication.
  std::optional<absl::Time> last_published;
};

struct ActionLogEntry {
  int64_t seq = 0;
  absl::Time at;
  std::string operator_name;
  std::string action;
  std::string details;
  std::string prev_hash;
  std::string hash;
};

class IssuanceLedger {
 public:
  // Opens (with `create`, creates) the ledger at `path`. Creating refuses an
  // existing file (AlreadyExists); opening refuses a missing one (NotFound).
  static absl::StatusOr<std::unique_ptr<IssuanceLedger>> Open(const std::string& path, bool create);
  ~IssuanceLedger();
  IssuanceLedger(const IssuanceLedger&) = delete;
  IssuanceLedger& operator=(const IssuanceLedger&) = delete;

  // Settings written at `ca init` (trust domain, partnership id, ...).
  absl::Status SetMeta(const std::string& key, const std::string& value);
  absl::StatusOr<std::string> GetMeta(const std::string& key) const;

  // Inserts `cert` and logs `action` in one transaction. AlreadyExists for a
  // serial already recorded.
  absl::Status RecordIssued(const LedgerCertificate& cert, const std::string& action,
                            const std::string& details, absl::Time now);

  // Marks every serial revoked, sets publication pending and logs the
  // action, in one transaction. NotFound for an unknown serial,
  // FailedPrecondition for one already revoked; nothing changes then.
  absl::Status MarkRevoked(const std::vector<std::string>& serials, const std::string& reason,
                           const std::string& operator_name, absl::Time now);

  // One certificate; NotFound if the serial is not in the ledger.
  absl::StatusOr<LedgerCertificate> Find(const std::string& serial_hex) const;
  // Certificates, newest first; `agency` (subject_id) and `kind` filter when
  // non-empty.
  absl::StatusOr<std::vector<LedgerCertificate>> List(const std::string& subject_id = "",
                                                      const std::string& kind = "") const;
  // Every revoked certificate, oldest revocation first.
  absl::StatusOr<std::vector<LedgerCertificate>> Revoked() const;

  absl::StatusOr<PublicationState> Publication() const;
  // Marks publication pending (e.g. `crl publish` forced) with `reason`.
  absl::Status SetPending(const std::string& reason);
  // Records a finished publication of `sequence`: pending cleared,
  // next_sequence = sequence + 1, action logged.
  absl::Status CompletePublication(int64_t sequence, const std::string& operator_name,
                                   const std::string& details, absl::Time now);

  // Appends one action in its own transaction.
  absl::Status AppendAction(const std::string& operator_name, const std::string& action,
                            const std::string& details, absl::Time now);
  absl::StatusOr<std::vector<ActionLogEntry>> Actions() const;
  // Recomputes the chain. Returns the number of entries; DataLoss naming the
  // first entry whose hash does not match.
  absl::StatusOr<int64_t> VerifyActionLog() const;

 private:
  explicit IssuanceLedger(std::unique_ptr<storage::SqlConnection> conn);
  // The *Locked helpers run inside a caller's transaction.
  absl::Status AppendActionLocked(const std::string& operator_name, const std::string& action,
                                  const std::string& details, absl::Time now);
  absl::Status SetPendingLocked(const std::string& reason);
  // One connection, used by one thread (refx-admin runs one command).
  std::unique_ptr<storage::SqlConnection> conn_;
};

// The hash of one action-log entry given the previous entry's hash.
std::string ActionHash(const std::string& prev_hash, int64_t seq, int64_t at_unix,
                       const std::string& operator_name, const std::string& action,
                       const std::string& details);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_ISSUANCE_LEDGER_H_
