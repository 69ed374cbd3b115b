// Everything `refx` prints, as pure functions from messages and statuses to
// text, so that the layouts, the exit codes and the error format are pinned
// by unit tests (output_test.cc) and shared by every subcommand.
//
// Rules: results go to stdout, errors and progress to stderr; values that
// came from the server are stripped of control characters before reaching a
// terminal; error text is built from the status only (codes, messages, field
// paths), never from the referral being sent.
#ifndef REFX_CLIENTS_CLI_OUTPUT_H_
#define REFX_CLIENTS_CLI_OUTPUT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/referral_service.pb.h"

namespace refx::cli {

enum class OutputFormat { kTable, kJson };

// Process exit codes; documented in `refx --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitAuth = 4;
inline constexpr int kExitInvalid = 5;
inline constexpr int kExitUnavailable = 6;
inline constexpr int kExitConflict = 7;

// The exit code for a failed call's status code (kExitOk for OK).
int ExitCodeFor(absl::StatusCode code);

// The footer of `refx --help` listing the exit codes.
std::string ExitCodesHelp();

// The lowercase, dash-separated label of an enum value, without the prefix
// its UNSPECIFIED value shares with the others: (PerceivedBy, 3) -> "police",
// (ReportType, 1) -> "hate-crime", (Referral.State, 4) -> "in-progress".
// Unknown numbers print as the number.
std::string EnumLabel(const google::protobuf::EnumDescriptor* type, int value);

// The inverse of EnumLabel, also accepting the full value name in any case
// ("PERCEIVED_BY_POLICE"). nullopt for unknown labels and for the
// UNSPECIFIED value, which is never a valid choice.
std::optional<int> ParseEnumLabel(const google::protobuf::EnumDescriptor* type,
                                  const std::string& label);

// Every valid label of `type`, "a|b|c", for help and error text.
std::string EnumLabels(const google::protobuf::EnumDescriptor* type);

// A Timestamp as RFC 3339 UTC with seconds ("2024-05-01T09:30:00Z"), or ""
// when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& t);

// Text from the server made safe to print to a terminal: C0 and C1 control
// characters (except newline when `keep_newlines`), DEL, bidirectional
// overrides and invalid UTF-8 are shown as visible escapes (`\x1b`,
// `\u{009b}`), so another agency's text can neither drive the terminal
// (ANSI sequences) nor hide what it says; backslashes are doubled. JSON
// output is never sanitized: it stays exact.
std::string Sanitize(const std::string& text, bool keep_newlines = false);

// A column-aligned table: a header row then one row per entry; cells are
// sanitized, columns separated by two spaces, no trailing spaces.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// The `list` table: NAME, STATE, TYPE, AREA, FROM, TO, CREATED, DUE. DUE is
// the response deadline, followed by "OVERDUE" when the referral still
// awaits a response (requested, redirected) and the deadline is before
// `now` (this machine's clock; the server's decides `--overdue`).
std::string RenderReferralTable(const std::vector<refx::v1::Referral>& referrals,
                                absl::Time now = absl::Now());

// A referral's case updates as a table: UPDATE (the update id), CREATED,
// KIND, AUTHOR, SUPERSEDES (its id), TEXT (first line, at most 60
// characters; the consent status or police reference when there is no
// text). "no case updates" when empty.
std::string RenderCaseUpdateTable(const refx::v1::ListCaseUpdatesResponse& updates);
// Audit events as a table: SEQ, TIME, ACTION, METHOD, AGENCY, REFERRALS,
// CLASSES, OUTCOME, NOTE (derived values, the reason of a refusal or a
// replay, and "xN" for an aggregated refusal) ("no audit events" when
// empty).
std::string RenderAuditTable(const refx::v1::ListAuditEventsResponse& events);

// Every set field of `message` as (path, value) pairs, depth-first in
// field-number order: `strands[0].basis` and `perceived`; enums as labels,
// timestamps as RFC 3339. Unset fields have no pair. RenderKeyValues and the
// subject access bundle's HTML both show messages this way.
std::vector<std::pair<std::string, std::string>> FlattenFields(const google::protobuf::Message& message);

// Every set field of `message` as aligned `path: value` lines, depth-first
// in field-number order (`strands[0].basis: perceived`, `victim.consent.status:
// given`); enums as labels, timestamps as RFC 3339, multi-line strings with
// continuation lines indented. Used for `get`, `create` and `whoami`.
std::string RenderKeyValues(const google::protobuf::Message& message);

// Protobuf's canonical JSON (lowerCamel names), pretty-printed, with a
// trailing newline.
std::string RenderJson(const google::protobuf::Message& message);

// `message` as one line of JSON (JSON Lines, for streams).
std::string RenderJsonLine(const google::protobuf::Message& message);

// One watch event as one line: sequence, time, kind, referral, state,
// sender -> recipients.
std::string RenderWatchEvent(const refx::v1::WatchReferralsResponse& event);

// What to print on stderr for a failed command. Text format:
//   refx: INVALID_ARGUMENT: <message>
//     field referral.area: <description>      (one per field violation)
//     reason: REFERRAL_INVALID                 (when ErrorInfo is present)
//     request id: <id> (retry with --request-id <id> ...)   (when given)
// JSON format: one object {"code","message","fieldViolations":[{"field",
// "description"}],"reason","requestId"} on one line, empty parts left out.
std::string FormatError(const absl::Status& status, OutputFormat format,
                        const std::string& request_id = "");


}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_OUTPUT_H_
