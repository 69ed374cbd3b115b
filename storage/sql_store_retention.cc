// SqlStore's retention writes: an erasure, which goes through ApplyChange
// like every change to a referral (etag, rows, event, audit in one
// savepoint) but rewrites every stored copy of the referral's data; the
// deletion of a referral whose routing record's period ended, the same way;
// and the legal holds that pause erasures (their listing is with the other
// reads).
#include <limits>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

// The fair queue's key for writes no agency asked for.
constexpr char kRetentionQueueKey[] = "refx-retention";

// FAILED_PRECONDITION (IsLegalHoldRefusal) if `referral_id` is held.
absl::Status RefuseIfHeld(SqlConnection* conn, const SqlDialect& sql, const std::string& referral_id) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_legal_hold));
  stmt->Bind(":referral_id", referral_id);
  REFX_ASSIGN_OR_RETURN(bool held, stmt->Step());
  if (!held) return absl::OkStatus();
  absl::Status refused = absl::FailedPreconditionError("the referral is under a legal hold: nothing was erased");
  refused.SetPayload(kLegalHoldRefusal, absl::Cord("1"));
  return refused;
}

}  // namespace

absl::StatusOr<int64_t> SqlStore::EraseStoredCopies(SqlConnection* conn, const EraseReferralDataRequest& request) {
  const std::string& id = request.referral.id;
  int64_t rewritten = 0;
  // Each table is read whole before it is rewritten: no statement steps
  // through rows another is changing.
  struct EventCopy {
    int64_t sequence;
    std::string referral_document, update_document;
  };
  std::vector<EventCopy> events;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_event_documents_of_referral));
    stmt->Bind(":referral_id", id);
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      events.push_back({stmt->Int(0), stmt->Text(1), stmt->Text(2)});
    }
  }
  for (EventCopy& event : events) {
    const std::string row = SealedRow(id, event.sequence);
    REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kEventReferral, row, &event.referral_document));
    REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kEventUpdate, row, &event.update_document));
    REFX_ASSIGN_OR_RETURN(std::string referral, request.erase(StoredDocumentKind::kReferral, event.referral_document));
    std::string update;
    if (!event.update_document.empty()) {
      REFX_ASSIGN_OR_RETURN(update, request.erase(StoredDocumentKind::kCaseUpdate, event.update_document));
    }
    REFX_ASSIGN_OR_RETURN(std::string sealed_referral, SealValue(sealed_column::kEventReferral, row, referral));
    REFX_ASSIGN_OR_RETURN(std::string sealed_update, SealValue(sealed_column::kEventUpdate, row, update));
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_event_documents));
    stmt->Bind(":sequence", event.sequence)
        .BindBlob(":referral_document", sealed_referral)
        .BindBlob(":update_document", sealed_update);
    REFX_RETURN_IF_ERROR(stmt->Run());
    ++rewritten;
  }

  struct ReplayCopy {
    std::string agency_id, request_id, document;
  };
  std::vector<ReplayCopy> replays;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_replays_of_referral));
    stmt->Bind(":referral_id", id);
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      replays.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2)});
    }
  }
  for (ReplayCopy& replay : replays) {
    const std::string row = SealedRow(id, replay.agency_id, replay.request_id);
    REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kReplay, row, &replay.document));
    REFX_ASSIGN_OR_RETURN(std::string erased, request.erase(StoredDocumentKind::kReplay, replay.document));
    REFX_ASSIGN_OR_RETURN(std::string sealed, SealValue(sealed_column::kReplay, row, erased));
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_replay_document));
    stmt->Bind(":agency_id", replay.agency_id).Bind(":request_id", replay.request_id).BindBlob(":document", sealed);
    REFX_RETURN_IF_ERROR(stmt->Run());
    ++rewritten;
  }

  // The case record is append-only to every caller; retention is the one
  // writer that may rewrite a row, and only to take data out of it.
  std::vector<StoredCaseUpdate> updates;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_case_updates));
    stmt->Bind(":referral_id", id).Bind(":after", int64_t{0}).Bind(":limit", std::numeric_limits<int64_t>::max());
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      updates.push_back(rows::ReadCaseUpdate(*stmt));
    }
  }
  for (StoredCaseUpdate& update : updates) {
    REFX_RETURN_IF_ERROR(OpenCaseUpdate(&update));
    REFX_ASSIGN_OR_RETURN(std::string erased, request.erase(StoredDocumentKind::kCaseUpdate, update.document));
    REFX_ASSIGN_OR_RETURN(std::string sealed, SealValue(sealed_column::kCaseUpdate,
                                                        SealedRow(update.referral_id, update.sequence), erased));
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_case_update_document));
    stmt->Bind(":referral_id", update.referral_id).Bind(":sequence", update.sequence).BindBlob(":document", sealed);
    REFX_RETURN_IF_ERROR(stmt->Run());
    ++rewritten;
  }

  if (request.delete_subject_notifications) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.delete_subject_notifications_of_referral));
    stmt->Bind(":referral_id", id);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.delete_victim_tokens_of_referral));
    stmt->Bind(":referral_id", id);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  for (const std::string& token : request.victim_tokens) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_victim_token));
    stmt->Bind(":token", token)
        .Bind(":referral_id", id)
        .Bind(":create_time_us", absl::ToUnixMicros(request.referral.create_time));
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  REFX_ASSIGN_OR_RETURN(std::string document,
                        SealValue(sealed_column::kReferral, SealedRow(id), request.referral.document));
  REFX_ASSIGN_OR_RETURN(const std::string strands, rows::JoinedIds(request.referral.strands));
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_referral_document));
  stmt->Bind(":id", id).Bind(":etag", request.referral.etag).BindBlob(":document", document).Bind(":strands", strands);
  REFX_RETURN_IF_ERROR(stmt->Run());
  return rewritten;
}

absl::StatusOr<int64_t> SqlStore::DeleteStoredReferral(SqlConnection* conn, const EraseReferralDataRequest& request) {
  const std::string& id = request.referral.id;
  // The audience first: the sequences are found through the events, whose
  // rows stay (the tombstone keeps the row they point at).
  for (const char* statement :
       {sql_.delete_event_audience_of_referral, sql_.delete_parties_of_referral, sql_.delete_victim_tokens_of_referral,
        sql_.delete_case_updates_of_referral, sql_.delete_subject_notifications_of_referral,
        sql_.delete_create_requests_of_referral, sql_.delete_update_requests_of_referral}) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(statement));
    stmt->Bind(":referral_id", id);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  // Only the sequences: every copy is replaced whole, so none is read.
  std::vector<int64_t> sequences;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.list_event_sequences_of_referral));
    stmt->Bind(":referral_id", id);
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      sequences.push_back(stmt->Int(0));
    }
  }
  // Each copy is sealed under its own row, as every event-log value is.
  for (int64_t sequence : sequences) {
    const std::string row = SealedRow(id, sequence);
    REFX_ASSIGN_OR_RETURN(std::string sealed_referral,
                          SealValue(sealed_column::kEventReferral, row, request.referral.document));
    REFX_ASSIGN_OR_RETURN(std::string sealed_update, SealValue(sealed_column::kEventUpdate, row, ""));
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_event_documents));
    stmt->Bind(":sequence", sequence)
        .BindBlob(":referral_document", sealed_referral)
        .BindBlob(":update_document", sealed_update);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  REFX_ASSIGN_OR_RETURN(std::string document,
                        SealValue(sealed_column::kReferral, SealedRow(id), request.referral.document));
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.tombstone_referral));
  stmt->Bind(":id", id)
      .Bind(":update_time_us", absl::ToUnixMicros(request.referral.update_time))
      .Bind(":etag", request.referral.etag)
      .BindBlob(":document", document);
  REFX_RETURN_IF_ERROR(stmt->Run());
  return static_cast<int64_t>(sequences.size());
}

absl::StatusOr<EraseReferralDataResult> SqlStore::EraseReferralData(const EraseReferralDataRequest& request) {
  if (!request.erase && !request.delete_referral) {
    return absl::InvalidArgumentError("an erasure needs its erase function");
  }
  struct Pending {
    Change change;
    ChangeOutcome outcome;
    EraseReferralDataResult result;
  };
  auto pending = std::make_shared<Pending>();
  Change& change = pending->change;
  change.agency_id = kRetentionQueueKey;
  change.expected_etag = request.expected_etag;
  change.referral = request.referral;
  change.audit = request.audit;
  change.event = request.event;
  change.write_rows = [this, &request, op = pending.get()](SqlConnection* conn, Change*) -> absl::Status {
    REFX_RETURN_IF_ERROR(RefuseIfHeld(conn, sql_, request.referral.id));
    REFX_ASSIGN_OR_RETURN(op->result.copies_rewritten, request.delete_referral ? DeleteStoredReferral(conn, request)
                                                                               : EraseStoredCopies(conn, request));
    return absl::OkStatus();
  };
  // Blocking: `request` outlives the write, which the job waits for.
  REFX_RETURN_IF_ERROR(Submit(kRetentionQueueKey, [this, op = pending.get()](SqlConnection* conn) {
    op->outcome = ChangeOutcome();
    op->result = EraseReferralDataResult();
    return ApplyChange(conn, &op->change, &op->outcome);
  }));
  return pending->result;
}

absl::Status SqlStore::PlaceLegalHold(const LegalHold& hold, const AuditRecord& audit) {
  return Submit(hold.agency_id, [&](SqlConnection* conn) -> absl::Status {
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_referral_etag));
      stmt->Bind(":id", hold.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::NotFoundError("referral not found");
    }
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_legal_hold));
      stmt->Bind(":referral_id", hold.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) return absl::AlreadyExistsError("the referral is held already");
    }
    REFX_ASSIGN_OR_RETURN(auto insert, conn->Prepare(sql_.insert_legal_hold));
    insert->Bind(":referral_id", hold.referral_id)
        .Bind(":agency_id", hold.agency_id)
        .Bind(":reason", hold.reason)
        .Bind(":time_us", absl::ToUnixMicros(hold.time));
    if (absl::Status inserted = insert->Run(); !inserted.ok()) {
      // Another replica's hold committed between the read and the insert.
      return absl::IsAlreadyExists(inserted) ? absl::AlreadyExistsError("the referral is held already")
                                             : absl::UnavailableError(inserted.message());
    }
    AuditRecord event = audit;
    event.referral_ids = hold.referral_id;
    if (!AppendAudit(conn, event).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    return absl::OkStatus();
  });
}

absl::Status SqlStore::ReleaseLegalHold(absl::string_view referral_id, const AuditRecord& audit) {
  return Submit(audit.agency_id, [&](SqlConnection* conn) -> absl::Status {
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_legal_hold));
      stmt->Bind(":referral_id", referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::NotFoundError("the referral is not held");
    }
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.delete_legal_hold));
    stmt->Bind(":referral_id", referral_id);
    REFX_RETURN_IF_ERROR(stmt->Run());
    AuditRecord event = audit;
    event.referral_ids = std::string(referral_id);
    if (!AppendAudit(conn, event).ok()) {
      return absl::UnavailableError("the audit log cannot be written; nothing was stored");
    }
    return absl::OkStatus();
  });
}

}  // namespace refx::storage
