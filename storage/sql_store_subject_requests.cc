// SqlStore's data subject requests (core/subject_requests.h): each creation
// and each step with its audit event in the writer's transaction, which
// holds the database's write lock, so a step's version check and its write
// see the same row on every replica (the reads are with the others,
// sql_store_reads.cc).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {

absl::StatusOr<CreateSubjectRequestResult> SqlStore::CreateSubjectRequest(const StoredSubjectRequest& request,
                                                                          const AuditRecord& audit) {
  CreateSubjectRequestResult result;
  // Runs again if its batch is rerun, so it sets `result` whole each time.
  REFX_RETURN_IF_ERROR(Submit(request.agency_id, [&](SqlConnection* conn) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto found, conn->Prepare(sql_.select_subject_request_by_request_id));
    found->Bind(":agency_id", request.agency_id).Bind(":request_id", request.request_id);
    REFX_ASSIGN_OR_RETURN(bool exists, found->Step());
    if (exists) {
      result = {rows::ReadSubjectRequest(*found), /*replayed=*/true};
      return absl::OkStatus();
    }
    REFX_ASSIGN_OR_RETURN(auto insert, conn->Prepare(sql_.insert_subject_request));
    insert->Bind(":id", request.id)
        .Bind(":agency_id", request.agency_id)
        .Bind(":request_id", request.request_id)
        .BindBlob(":document", request.document)
        .Bind(":version", request.version)
        .Bind(":create_time_us", absl::ToUnixMicros(request.create_time))
        .Bind(":update_time_us", absl::ToUnixMicros(request.update_time));
    if (absl::Status inserted = insert->Run(); !inserted.ok()) {
      // The ids are random: a conflict is another replica's retry of the
      // same creation committed between the read and this insert.
      return absl::IsAlreadyExists(inserted) ? absl::AbortedError("a retry of this creation committed meanwhile")
                                             : absl::UnavailableError(inserted.message());
    }
    if (!AppendAudit(conn, audit).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    result = {request, /*replayed=*/false};
    return absl::OkStatus();
  }));
  return result;
}

absl::Status SqlStore::UpdateSubjectRequest(const StoredSubjectRequest& request, int64_t expected_version,
                                            const AuditRecord& audit) {
  return Submit(audit.agency_id, [&](SqlConnection* conn) -> absl::Status {
    {
      REFX_ASSIGN_OR_RETURN(auto found, conn->Prepare(sql_.select_subject_request));
      found->Bind(":id", request.id);
      REFX_ASSIGN_OR_RETURN(bool exists, found->Step());
      if (!exists) return absl::NotFoundError("no such subject request");
      if (found->Int(4) != expected_version) {
        return absl::AbortedError(absl::StrCat("the subject request is at version ", found->Int(4)));
      }
    }
    REFX_ASSIGN_OR_RETURN(auto update, conn->Prepare(sql_.update_subject_request));
    update->Bind(":id", request.id)
        .BindBlob(":document", request.document)
        .Bind(":version", request.version)
        .Bind(":update_time_us", absl::ToUnixMicros(request.update_time))
        .Bind(":expected_version", expected_version);
    if (absl::Status updated = update->Run(); !updated.ok()) return absl::UnavailableError(updated.message());
    if (!AppendAudit(conn, audit).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    return absl::OkStatus();
  });
}

}  // namespace refx::storage
