// SqlStore's tension alert acknowledgements: the one write the tensions
// group makes, with its audit event in the writer's transaction (the
// listing is with the other reads, sql_store_reads.cc).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {

absl::StatusOr<AcknowledgeTensionAlertResult> SqlStore::AcknowledgeTensionAlert(
    const TensionAcknowledgement& acknowledgement, const AuditRecord& audit) {
  AcknowledgeTensionAlertResult result;
  // Runs again if its batch is rerun, so it sets `result` whole each time.
  REFX_RETURN_IF_ERROR(Submit(acknowledgement.agency_id, [&](SqlConnection* conn) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto found, conn->Prepare(sql_.select_tension_acknowledgement));
    found->Bind(":alert", acknowledgement.alert);
    REFX_ASSIGN_OR_RETURN(bool exists, found->Step());
    if (exists) {
      TensionAcknowledgement stored = rows::ReadTensionAcknowledgement(*found);
      if (stored.agency_id != acknowledgement.agency_id || stored.request_id != acknowledgement.request_id) {
        return absl::AlreadyExistsError(absl::StrCat("the alert was acknowledged already, by agencies/",
                                                     stored.agency_id, " at ",
                                                     absl::FormatTime(absl::RFC3339_sec, stored.time,
                                                                      absl::UTCTimeZone())));
      }
      result = {std::move(stored), /*replayed=*/true};
      return absl::OkStatus();
    }
    REFX_ASSIGN_OR_RETURN(auto insert, conn->Prepare(sql_.insert_tension_acknowledgement));
    insert->Bind(":alert", acknowledgement.alert)
        .Bind(":week", acknowledgement.week)
        .Bind(":agency_id", acknowledgement.agency_id)
        .Bind(":request_id", acknowledgement.request_id)
        .Bind(":note", acknowledgement.note)
        .Bind(":time_us", absl::ToUnixMicros(acknowledgement.time));
    if (absl::Status inserted = insert->Run(); !inserted.ok()) {
      // Another replica's acknowledgement committed between the read and
      // this insert (the key is the alert); anything else is the store's.
      return absl::IsAlreadyExists(inserted) ? absl::AlreadyExistsError("the alert was acknowledged already")
                                             : absl::UnavailableError(inserted.message());
    }
    // A failed audit event is never mistaken for the insert's conflict.
    if (!AppendAudit(conn, audit).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    result = {acknowledgement, /*replayed=*/false};
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace refx::storage
