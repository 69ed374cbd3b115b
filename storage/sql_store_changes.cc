// SqlStore's changes: creates, lifecycle changes and case updates, each a
// Change applied by the one ApplyChange path inside the writer's batch.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/wait_for.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

// Past the idempotency and etag checks, those codes would mean a bug (a
// constraint that is not the request key, a referral that vanished).
absl::Status Internal(absl::Status s) {
  return absl::IsAlreadyExists(s) || absl::IsNotFound(s) || absl::IsAborted(s) ? absl::InternalError(s.message()) : s;
}

// `document` is the referral's document as stored (sealed at rest).
absl::Status InsertReferral(SqlConnection* conn, const SqlDialect& sql, const StoredReferral& r,
                            absl::string_view document) {
  const int64_t create_us = absl::ToUnixMicros(r.create_time);
  REFX_ASSIGN_OR_RETURN(const std::string recipients, rows::JoinedIds(r.recipient_agencies));
  REFX_ASSIGN_OR_RETURN(const std::string strands, rows::JoinedIds(r.strands));
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_referral));
    stmt->Bind(":id", r.id)
        .Bind(":sender_agency", r.sender_agency)
        .Bind(":state", int64_t{r.state})
        .Bind(":area", r.area)
        .Bind(":report_type", int64_t{r.report_type})
        .Bind(":create_time_us", create_us)
        .Bind(":update_time_us", absl::ToUnixMicros(r.update_time))
        .Bind(":response_deadline_us", rows::DeadlineMicros(r))
        .Bind(":etag", r.etag)
        .BindBlob(":document", document)
        .Bind(":recipients", recipients)
        .Bind(":strands", strands);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  // Every party row carries its referral's creation time, never the time it
  // became a party: lists order by it, and SQLite's list finds the referral
  // through (create_time_us, id) (sqlite_statements.cc, kListReferrals).
  auto add_party = [&](const std::string& agency, const char* role) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_party));
    stmt->Bind(":agency_id", agency)
        .Bind(":referral_id", r.id)
        .Bind(":party_role", role)
        .Bind(":create_time_us", create_us);
    return stmt->Run();
  };
  REFX_RETURN_IF_ERROR(add_party(r.sender_agency, "sender"));
  for (const std::string& recipient : r.recipient_agencies) {
    REFX_RETURN_IF_ERROR(add_party(recipient, "recipient"));
  }
  return absl::OkStatus();
}

// Writes a changed referral's row, new recipients, and the redirect marks on
// its parties: every change to an existing referral goes through here, so no
// column is forgotten on one of its paths. (Its strands never change here;
// an erasure replaces them: SqlStore::EraseStoredCopies.)
absl::Status WriteReferralChange(SqlConnection* conn, const SqlDialect& sql, const StoredReferral& r,
                                 absl::string_view document) {
  REFX_ASSIGN_OR_RETURN(const std::string recipients, rows::JoinedIds(r.recipient_agencies));
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.update_referral));
    stmt->Bind(":id", r.id)
        .Bind(":state", int64_t{r.state})
        .Bind(":update_time_us", absl::ToUnixMicros(r.update_time))
        .Bind(":response_deadline_us", rows::DeadlineMicros(r))
        .Bind(":etag", r.etag)
        .BindBlob(":document", document)
        .Bind(":recipients", recipients);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  // A new recipient's party row, with the referral's creation time (see
  // InsertReferral).
  for (const std::string& recipient : r.recipient_agencies) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_party_if_absent));
    stmt->Bind(":agency_id", recipient)
        .Bind(":referral_id", r.id)
        .Bind(":create_time_us", absl::ToUnixMicros(r.create_time));
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  if (r.redirected_agencies.empty()) return absl::OkStatus();
  // Parties that passed it on stay parties (they may read it) but owe no
  // response any more.
  REFX_ASSIGN_OR_RETURN(auto marked, conn->Prepare(sql.mark_redirected));
  marked->Bind(":referral_id", r.id).Bind(":agencies", rows::JsonArray(r.redirected_agencies));
  return marked->Run();
}

}  // namespace

absl::Status SqlStore::ApplyChange(SqlConnection* conn, Change* change, ChangeOutcome* outcome) {
  // The idempotency key first: a retry's etag is stale by design. (A
  // create's is looked up only if the batch's first run failed: see
  // first_run_. Retries are rare; a round trip per create is not.)
  if (!change->keyed()) {
    // A change the server makes by itself: nothing to replay.
  } else if (change->create && !first_run_) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_create_request));
    stmt->Bind(":sender_agency", change->agency_id).Bind(":request_id", change->request_id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) {
      if (stmt->Text(0) != change->fingerprint) {
        return absl::AlreadyExistsError("request_id was already used with a different referral");
      }
      const std::string existing_id = stmt->Text(1);
      stmt.reset();
      REFX_ASSIGN_OR_RETURN(auto existing, rows::SelectReferral(conn, sql_, existing_id));
      if (!existing.has_value()) return absl::InternalError("idempotency key names a missing referral");
      outcome->replayed = true;
      outcome->referral = *std::move(existing);
      REFX_RETURN_IF_ERROR(OpenReferral(&outcome->referral));
      return absl::OkStatus();
    }
  } else {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_update_request));
    stmt->Bind(":agency_id", change->agency_id).Bind(":request_id", change->request_id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) {
      if (stmt->Text(0) != change->fingerprint) {
        return absl::AlreadyExistsError("request_id was already used with a different request");
      }
      outcome->replayed = true;
      outcome->referral_id = stmt->Text(1);
      outcome->document = stmt->Text(2);
      REFX_RETURN_IF_ERROR(OpenValue(sealed_column::kReplay,
                                     SealedRow(outcome->referral_id, change->agency_id, change->request_id),
                                     &outcome->document));
      return absl::OkStatus();
    }
  }
  // Compared inside the writer's transaction: of two changes made from the
  // same etag exactly one applies.
  if (change->expected_etag.has_value()) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.select_referral_etag));
    stmt->Bind(":id", change->referral.id);
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError("referral not found");
    if (stmt->Text(0) != *change->expected_etag) {
      return absl::AbortedError("the referral changed since it was read; re-read it and try again");
    }
  }
  if (absl::Status written = change->write_rows(conn, change); !written.ok()) return Internal(written);
  if (change->keyed()) {
    REFX_ASSIGN_OR_RETURN(auto stmt,
                          conn->Prepare(change->create ? sql_.insert_create_request : sql_.insert_update_request));
    if (change->create) {
      stmt->Bind(":sender_agency", change->agency_id).Bind(":referral_id", change->referral.id);
    } else {
      REFX_ASSIGN_OR_RETURN(
          std::string replay,
          SealValue(sealed_column::kReplay, SealedRow(change->referral.id, change->agency_id, change->request_id),
                    change->replay_document));
      stmt->Bind(":agency_id", change->agency_id)
          .Bind(":referral_id", change->referral.id)
          .BindBlob(":document", replay);
    }
    stmt->Bind(":request_id", change->request_id).BindBlob(":fingerprint", change->fingerprint);
    if (absl::Status recorded = stmt->Run(); !recorded.ok()) return Internal(recorded);
  }
  if (change->event.has_value()) {
    // The event carries the referral as stored.
    change->event->referral_document = change->referral.document;
    if (absl::Status logged = AppendEvent(conn, *change->event); !logged.ok()) return Internal(logged);
  }
  change->audit.referral_ids = change->referral.id;
  if (!AppendAudit(conn, change->audit).ok()) {
    return absl::UnavailableError("the audit log cannot be written; nothing was stored");
  }
  outcome->referral = change->referral;
  return absl::OkStatus();
}

// Everything a queued change needs until its `done` has run: the writer may
// apply it twice (a batch re-run with savepoints), so it is rebuilt from
// `change` each time and `outcome` is reset.
template <typename Request>
struct SqlStore::PendingChange {
  Request request;
  Change change;
  ChangeOutcome outcome;
  StoredCaseUpdate update;  // a case update as written (sequence assigned)
};

template <typename Request>
void SqlStore::FillExistingReferralChange(const Request& request, std::string replay_document, Change* change) {
  change->agency_id = request.agency_id;
  change->request_id = request.request_id;
  change->fingerprint = request.request_fingerprint;
  change->expected_etag = request.expected_etag;
  change->referral = request.referral;
  change->replay_document = std::move(replay_document);
  change->audit = request.audit;
  change->event = request.event;
}

template <typename Request, typename Result>
void SqlStore::SubmitChange(std::shared_ptr<PendingChange<Request>> pending,
                            std::function<Result(PendingChange<Request>*)> result, Done<Result> done) {
  SubmitAsync(
      pending->change.agency_id, [this, op = pending.get()](SqlConnection* conn) {
        op->outcome = ChangeOutcome();
        return ApplyChange(conn, &op->change, &op->outcome);
      },
      [pending, result = std::move(result), done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(status);
        done(result(pending.get()));
      });
}

void SqlStore::CreateReferralAsync(CreateReferralRequest request, Done<CreateReferralResult> done) {
  auto pending = std::make_shared<PendingChange<CreateReferralRequest>>();
  pending->request = std::move(request);
  Change& change = pending->change;
  const CreateReferralRequest& r = pending->request;
  change.create = true;
  change.agency_id = r.referral.sender_agency;
  change.request_id = r.request_id;
  change.fingerprint = r.request_fingerprint;
  change.referral = r.referral;
  change.audit = r.audit;
  change.event = r.event;
  // A raw pointer: `pending` owns the change that owns this function.
  change.write_rows = [this, op = pending.get()](SqlConnection* conn, Change* c) -> absl::Status {
    const CreateReferralRequest& request = op->request;
    if (request.complete) {
      int64_t earlier = 0;
      if (!request.victim_tokens.empty()) {
        REFX_ASSIGN_OR_RETURN(auto count, conn->Prepare(sql_.count_repeat_victims));
        count->Bind(":tokens", rows::JsonArray(request.victim_tokens))
            .Bind(":since_us", absl::ToUnixMicros(request.repeat_window_start))
            .Bind(":now_us", absl::ToUnixMicros(c->referral.create_time))
            .Bind(":referral_id", c->referral.id);
        REFX_ASSIGN_OR_RETURN(bool row, count->Step());
        if (row) earlier = count->Int(0);
      }
      request.complete(earlier, &c->referral, &c->audit);
    }
    REFX_ASSIGN_OR_RETURN(std::string document,
                          SealValue(sealed_column::kReferral, SealedRow(c->referral.id), c->referral.document));
    REFX_RETURN_IF_ERROR(InsertReferral(conn, sql_, c->referral, document));
    for (const std::string& token : request.victim_tokens) {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_victim_token));
      stmt->Bind(":token", token)
          .Bind(":referral_id", c->referral.id)
          .Bind(":create_time_us", absl::ToUnixMicros(c->referral.create_time));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    return absl::OkStatus();
  };
  SubmitChange<CreateReferralRequest, CreateReferralResult>(
      std::move(pending),
      [](PendingChange<CreateReferralRequest>* op) {
        return CreateReferralResult{std::move(op->outcome.referral), op->outcome.replayed};
      },
      std::move(done));
}

absl::StatusOr<CreateReferralResult> SqlStore::CreateReferral(const CreateReferralRequest& request) {
  return WaitFor<CreateReferralResult>([&](Done<CreateReferralResult> done) { CreateReferralAsync(request, done); });
}

void SqlStore::UpdateReferralAsync(UpdateReferralRequest request, Done<UpdateReferralResult> done) {
  auto pending = std::make_shared<PendingChange<UpdateReferralRequest>>();
  pending->request = std::move(request);
  Change& change = pending->change;
  // A retry gets the referral as changed.
  FillExistingReferralChange(pending->request, pending->request.referral.document, &change);
  change.write_rows = [this](SqlConnection* conn, Change* c) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(std::string document,
                          SealValue(sealed_column::kReferral, SealedRow(c->referral.id), c->referral.document));
    return WriteReferralChange(conn, sql_, c->referral, document);
  };
  SubmitChange<UpdateReferralRequest, UpdateReferralResult>(
      std::move(pending),
      [](PendingChange<UpdateReferralRequest>* op) {
        UpdateReferralResult result;
        result.replayed = op->outcome.replayed;
        if (op->outcome.replayed) {
          result.referral.id = op->outcome.referral_id;
          result.referral.document = op->outcome.document;
        } else {
          result.referral = std::move(op->outcome.referral);
        }
        return result;
      },
      std::move(done));
}

absl::StatusOr<UpdateReferralResult> SqlStore::UpdateReferral(const UpdateReferralRequest& request) {
  return WaitFor<UpdateReferralResult>([&](Done<UpdateReferralResult> done) { UpdateReferralAsync(request, done); });
}

void SqlStore::AddCaseUpdateAsync(AddCaseUpdateRequest request, Done<AddCaseUpdateResult> done) {
  auto pending = std::make_shared<PendingChange<AddCaseUpdateRequest>>();
  pending->request = std::move(request);
  Change& change = pending->change;
  // A retry gets the update.
  FillExistingReferralChange(pending->request, pending->request.update.document, &change);
  change.write_rows = [this, op = pending.get()](SqlConnection* conn, Change* c) -> absl::Status {
    StoredCaseUpdate& update = op->update;
    update = op->request.update;
    update.referral_id = c->referral.id;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.next_case_update_sequence));
      stmt->Bind(":referral_id", update.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::InternalError("no next case update sequence");
      update.sequence = stmt->Int(0);
    }
    {
      REFX_ASSIGN_OR_RETURN(std::string document, SealValue(sealed_column::kCaseUpdate,
                                                            SealedRow(update.referral_id, update.sequence),
                                                            update.document));
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_case_update));
      stmt->Bind(":referral_id", update.referral_id)
          .Bind(":sequence", update.sequence)
          .Bind(":update_id", update.update_id)
          .Bind(":kind", int64_t{update.kind})
          .Bind(":author_agency", update.author_agency)
          .Bind(":create_time_us", absl::ToUnixMicros(update.create_time))
          .BindBlob(":document", document);
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    REFX_ASSIGN_OR_RETURN(std::string document,
                          SealValue(sealed_column::kReferral, SealedRow(c->referral.id), c->referral.document));
    return WriteReferralChange(conn, sql_, c->referral, document);
  };
  SubmitChange<AddCaseUpdateRequest, AddCaseUpdateResult>(
      std::move(pending),
      [](PendingChange<AddCaseUpdateRequest>* op) {
        AddCaseUpdateResult result;
        result.replayed = op->outcome.replayed;
        if (op->outcome.replayed) {
          result.update.referral_id = op->outcome.referral_id;
          result.update.document = op->outcome.document;
        } else {
          result.update = std::move(op->update);
        }
        return result;
      },
      std::move(done));
}

absl::StatusOr<AddCaseUpdateResult> SqlStore::AddCaseUpdate(const AddCaseUpdateRequest& request) {
  return WaitFor<AddCaseUpdateResult>([&](Done<AddCaseUpdateResult> done) { AddCaseUpdateAsync(request, done); });
}

}  // namespace refx::storage
