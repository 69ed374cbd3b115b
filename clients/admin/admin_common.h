// What every refx-admin command shares: the global options (--ca-dir,
// --partnership, the passphrase files, --operator), the exit codes, the error
// exit, the time and duration texts of its output and flags, and the audit
// event of an offline preview.
#ifndef REFX_CLIENTS_ADMIN_ADMIN_COMMON_H_
#define REFX_CLIENTS_ADMIN_ADMIN_COMMON_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/signing.h"
#include "google/protobuf/struct.pb.h"
#include "storage/audit_record.h"

namespace refx::admin {

// Exit codes, as for refx: 0 success, 1 failure, 2 usage.
constexpr int kFailure = 1;
constexpr int kUsage = 2;

// The options given before (or, by fallthrough, after) the subcommand.
struct GlobalOptions {
  std::string ca_dir;
  std::string partnership = "config/partnership.yaml";
  std::string passphrase_file;       // the issuing CA key's
  std::string root_passphrase_file;  // the root CA key's
  std::string operator_name;
};

// Prints "refx-admin: WHAT: MESSAGE" to stderr and returns kFailure.
int Fail(const std::string& what, const absl::Status& status);

std::string Rfc3339(absl::Time t);

// `fields` as one JSON object on stdout (protobuf's JSON printer): 0, or
// Fail(what, ...) if it cannot be rendered.
int PrintJson(const std::string& what, const google::protobuf::Struct& fields);

// The audit event of a preview refx-admin ran on the server's database
// (`method`, e.g. "refx-admin retention preview"), as the server audits a
// DPO's preview: a CONSULTATION naming the referrals it listed and only
// their routing facts, under the agreement `agreement_label`.
storage::AuditRecord PreviewAuditEvent(const std::string& method, const std::string& purpose,
                                       const std::vector<std::string>& referral_ids,
                                       const std::string& agreement_label);

// $USER, else the account name of the uid, else "uid-N".
std::string DefaultOperator();

// "30d", "12h", "90m" or plain days.
std::optional<absl::Duration> ParseDays(std::string text);

// The audit signing public key that checks a SQLite database's signed head:
// the file `flag` names, else audit-signing.pub beside `database` if there,
// else none. NOT_FOUND / INVALID_ARGUMENT naming the file when it cannot be
// used.
absl::StatusOr<std::optional<VerifyingKey>> LoadAuditPublicKey(const std::string& flag,
                                                              const std::string& database);

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_ADMIN_COMMON_H_
