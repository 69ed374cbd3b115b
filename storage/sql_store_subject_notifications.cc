// SqlStore's subject notifications (core/subject_notifications.cc): each step
// with its audit event in the writer's transaction, numbered after the
// referral's last under the database's write lock. Nothing of the referral
// is read or written but its existence, so no party's view of it changes.
// The documents are sealed like every other stored copy of personal data;
// the listing is with the other reads (sql_store_reads.cc).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {
absl::StatusOr<RecordSubjectNotificationResult> SqlStore::RecordSubjectNotification(
    const StoredSubjectNotification& notification, int64_t max_per_referral, const AuditRecord& audit) {
  RecordSubjectNotificationResult result;
  // Runs again if its batch is rerun, so it sets `result` whole each time.
  REFX_RETURN_IF_ERROR(Submit(notification.agency_id, [&](SqlConnection* conn) -> absl::Status {
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_referral_etag));
      stmt->Bind(":id", notification.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::NotFoundError("referral not found");
    }
    {
      REFX_ASSIGN_OR_RETURN(auto found, conn->Prepare(sql_.select_subject_notification_by_request_id));
      found->Bind(":referral_id", notification.referral_id).Bind(":request_id", notification.request_id);
      REFX_ASSIGN_OR_RETURN(bool exists, found->Step());
      if (exists) {
        StoredSubjectNotification first = rows::ReadSubjectNotification(*found);
        REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kSubjectNotification,
                                       SealedRow(first.referral_id, first.sequence), &first.document));
        result = {std::move(first), /*replayed=*/true};
        return absl::OkStatus();
      }
    }
    StoredSubjectNotification stored = notification;
    {
      REFX_ASSIGN_OR_RETURN(auto count, conn->Prepare(sql_.count_subject_notifications));
      count->Bind(":referral_id", notification.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, count->Step());
      if (!row) return absl::InternalError("counting subject notifications returned no row");
      if (count->Int(0) >= max_per_referral) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the referral holds ", max_per_referral, " subject notification steps already"));
      }
      stored.sequence = count->Int(1);
    }
    REFX_ASSIGN_OR_RETURN(std::string sealed,
                          SealValue(sealed_column::kSubjectNotification, SealedRow(stored.referral_id, stored.sequence),
                                    stored.document));
    REFX_ASSIGN_OR_RETURN(auto insert, conn->Prepare(sql_.insert_subject_notification));
    insert->Bind(":referral_id", stored.referral_id)
        .Bind(":sequence", stored.sequence)
        .Bind(":agency_id", stored.agency_id)
        .Bind(":request_id", stored.request_id)
        .Bind(":create_time_us", absl::ToUnixMicros(stored.create_time))
        .BindBlob(":document", sealed);
    if (absl::Status inserted = insert->Run(); !inserted.ok()) {
      // Another replica's step (or this one's retry) committed between the
      // reads and this insert: the caller retries and is answered from it.
      return absl::IsAlreadyExists(inserted) ? absl::AbortedError("another step was recorded meanwhile")
                                             : absl::UnavailableError(inserted.message());
    }
    AuditRecord event = audit;
    event.referral_ids = stored.referral_id;
    if (!AppendAudit(conn, event).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    result = {std::move(stored), /*replayed=*/false};
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace refx::storage
