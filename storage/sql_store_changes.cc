// SqlStore's changes: creates, lifecycle changes and case updates, each a
// Change applied by the one ApplyChange path inside the writer's batch.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/sql_rows.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

// Past the idempotency and etag checks, those codes would mean a bug (a
// constraint that is not the request key, a referral that vanished).
absl::Status Internal(absl::Status s) {
  return absl::IsAlreadyExists(s) || absl::IsNotFound(s) || absl::IsAborted(s) ? absl::InternalError(s.message()) : s;
}

absl::Status InsertReferral(SqlConnection* conn, const SqlDialect& sql, const StoredReferral& r) {
  const int64_t create_us = absl::ToUnixMicros(r.create_time);
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
        .BindBlob(":document", r.document);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
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
  for (const std::string& strand : r.strands) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_strand));
    stmt->Bind(":referral_id", r.id).Bind(":strand", strand);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  return absl::OkStatus();
}

// Writes a changed referral's row, new recipients, and the redirect marks on
// its parties: every change to an existing referral goes through here, so no
// column is forgotten on one of its paths.
absl::Status WriteReferralChange(SqlConnection* conn, const SqlDialect& sql, const StoredReferral& r) {
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.update_referral));
    stmt->Bind(":id", r.id)
        .Bind(":state", int64_t{r.state})
        .Bind(":update_time_us", absl::ToUnixMicros(r.update_time))
        .Bind(":response_deadline_us", rows::DeadlineMicros(r))
        .Bind(":etag", r.etag)
        .BindBlob(":document", r.document);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
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
  if (change->create && !first_run_) {
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
  {
    REFX_ASSIGN_OR_RETURN(auto stmt,
                          conn->Prepare(change->create ? sql_.insert_create_request : sql_.insert_update_request));
    if (change->create) {
      stmt->Bind(":sender_agency", change->agency_id).Bind(":referral_id", change->referral.id);
    } else {
      stmt->Bind(":agency_id", change->agency_id)
          .Bind(":referral_id", change->referral.id)
          .BindBlob(":document", change->replay_document);
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

absl::StatusOr<CreateReferralResult> SqlStore::CreateReferral(const CreateReferralRequest& request) {
  Change change;
  change.create = true;
  change.agency_id = request.referral.sender_agency;
  change.request_id = request.request_id;
  change.fingerprint = request.request_fingerprint;
  change.referral = request.referral;
  change.audit = request.audit;
  change.event = request.event;
  change.write_rows = [this, &request](SqlConnection* conn, Change* c) -> absl::Status {
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
    REFX_RETURN_IF_ERROR(InsertReferral(conn, sql_, c->referral));
    for (const std::string& token : request.victim_tokens) {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_victim_token));
      stmt->Bind(":token", token)
          .Bind(":referral_id", c->referral.id)
          .Bind(":create_time_us", absl::ToUnixMicros(c->referral.create_time));
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    return absl::OkStatus();
  };
  ChangeOutcome outcome;
  REFX_RETURN_IF_ERROR(Submit([&](SqlConnection* conn) {
    outcome = ChangeOutcome();
    return ApplyChange(conn, &change, &outcome);
  }));
  return CreateReferralResult{std::move(outcome.referral), outcome.replayed};
}

absl::StatusOr<UpdateReferralResult> SqlStore::UpdateReferral(const UpdateReferralRequest& request) {
  Change change;
  change.agency_id = request.agency_id;
  change.request_id = request.request_id;
  change.fingerprint = request.request_fingerprint;
  change.expected_etag = request.expected_etag;
  change.referral = request.referral;
  change.replay_document = request.referral.document;  // a retry gets the referral as changed
  change.audit = request.audit;
  change.event = request.event;
  change.write_rows = [this](SqlConnection* conn, Change* c) { return WriteReferralChange(conn, sql_, c->referral); };
  ChangeOutcome outcome;
  REFX_RETURN_IF_ERROR(Submit([&](SqlConnection* conn) {
    outcome = ChangeOutcome();
    return ApplyChange(conn, &change, &outcome);
  }));
  UpdateReferralResult result;
  result.replayed = outcome.replayed;
  if (outcome.replayed) {
    result.referral.id = outcome.referral_id;
    result.referral.document = outcome.document;
  } else {
    result.referral = std::move(outcome.referral);
  }
  return result;
}

absl::StatusOr<AddCaseUpdateResult> SqlStore::AddCaseUpdate(const AddCaseUpdateRequest& request) {
  Change change;
  change.agency_id = request.agency_id;
  change.request_id = request.request_id;
  change.fingerprint = request.request_fingerprint;
  change.expected_etag = request.expected_etag;
  change.referral = request.referral;
  change.replay_document = request.update.document;  // a retry gets the update
  change.audit = request.audit;
  change.event = request.event;
  StoredCaseUpdate update = request.update;
  change.write_rows = [this, &update](SqlConnection* conn, Change* c) -> absl::Status {
    update.referral_id = c->referral.id;
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.next_case_update_sequence));
      stmt->Bind(":referral_id", update.referral_id);
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return absl::InternalError("no next case update sequence");
      update.sequence = stmt->Int(0);
    }
    {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.insert_case_update));
      stmt->Bind(":referral_id", update.referral_id)
          .Bind(":sequence", update.sequence)
          .Bind(":update_id", update.update_id)
          .Bind(":kind", int64_t{update.kind})
          .Bind(":author_agency", update.author_agency)
          .Bind(":create_time_us", absl::ToUnixMicros(update.create_time))
          .BindBlob(":document", update.document);
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    return WriteReferralChange(conn, sql_, c->referral);
  };
  ChangeOutcome outcome;
  REFX_RETURN_IF_ERROR(Submit([&](SqlConnection* conn) {
    outcome = ChangeOutcome();
    return ApplyChange(conn, &change, &outcome);
  }));
  AddCaseUpdateResult result;
  result.replayed = outcome.replayed;
  if (outcome.replayed) {
    result.update.referral_id = outcome.referral_id;
    result.update.document = outcome.document;
  } else {
    result.update = std::move(update);
  }
  return result;
}

}  // namespace refx::storage
