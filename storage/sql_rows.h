// Row-level helpers of the store engine, shared by its writer, its change
// path and its reads: reading a referral, an audit event or the audit head
// from a dialect's statements, and binding lists as JSON arrays. Internal to
// storage/.
#ifndef REFX_STORAGE_SQL_ROWS_H_
#define REFX_STORAGE_SQL_ROWS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "storage/referral_store.h"
#include "storage/sql_driver.h"

namespace refx::storage::rows {

// A JSON array of the values, bound as one parameter (values are escaped,
// never spliced into SQL).
std::string JsonArray(const std::vector<std::string>& values);
std::string JsonArray(const std::vector<int32_t>& values);

// A set of ids ([a-z0-9_-]) as a referral row stores its recipients and
// strands: sorted, without repeats, comma-joined ("" for none). An empty id
// or one holding a comma would read back as other ids: INTERNAL, never
// stored (core admits only registry ids, so this is a bug's last guard).
absl::StatusOr<std::string> JoinedIds(std::vector<std::string> ids);

// The referral columns in select_referral / list_referrals order, its
// recipients and strands included.
StoredReferral ReadReferral(const SqlStatement& row);
// The referral with its children; nullopt if there is none.
absl::StatusOr<absl::optional<StoredReferral>> SelectReferral(SqlConnection* conn, const SqlDialect& sql,
                                                              absl::string_view id);
// The referral's response deadline in microseconds, or NULL.
absl::optional<int64_t> DeadlineMicros(const StoredReferral& r);

// The audit columns in list_audit order.
AuditRecord ReadAudit(const SqlStatement& row);
// The head row as stored, if there is one.
absl::StatusOr<absl::optional<AuditHead>> ReadAuditHeadRow(SqlConnection* conn, const SqlDialect& sql);
// The head as stored; the genesis (sequence 0) when no row records one.
absl::StatusOr<AuditHead> ReadAuditHead(SqlConnection* conn, const SqlDialect& sql);

// The event columns in list_events / scan_events / list_all_events order
// (sequence, time, kind, referral id, referral document, update document),
// without the audience.
ReferralEvent ReadEvent(const SqlStatement& row);

// The case update columns in list_case_updates / select_case_update order.
StoredCaseUpdate ReadCaseUpdate(const SqlStatement& row);

// The subject notification columns in list_subject_notifications /
// select_subject_notification_by_request_id order (the document as stored).
StoredSubjectNotification ReadSubjectNotification(const SqlStatement& row);

// The acknowledgement columns in select_tension_acknowledgement /
// list_tension_acknowledgements order.
TensionAcknowledgement ReadTensionAcknowledgement(const SqlStatement& row);
// id, agency_id, request_id, document, version, create_time_us, update_time_us.
StoredSubjectRequest ReadSubjectRequest(const SqlStatement& row);

}  // namespace refx::storage::rows

#endif  // REFX_STORAGE_SQL_ROWS_H_
