// ReferralManager::Transition: the lifecycle changes (accept, decline,
// redirect, start, complete, cancel, reopen), kept apart from create/read.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "common/wait_for.h"
#include "core/agreement.h"
#include "core/referral_lifecycle.h"
#include "core/referral_manager.h"
#include "core/referral_validation.h"
#include "core/retention.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

constexpr size_t kMaxTransitionText = 1024;

// The digest of everything the client controls in a transition request.
std::string Fingerprint(const TransitionParams& p) {
  std::string canonical;
  for (const std::string& part :
       {std::string(LifecycleActionName(p.action)), p.name, p.etag, absl::StrCat(static_cast<int>(p.decline_reason)),
        absl::StrCat(static_cast<int>(p.outcome)), p.text, p.target_agency}) {
    absl::StrAppend(&canonical, part.size(), ":", part, ";");
  }
  return Sha256(canonical);
}

std::vector<FieldViolation> ValidateTransition(const TransitionParams& p, const Partnership& partnership,
                                               const Agreement& agreement) {
  std::vector<FieldViolation> v = ValidateRequestId(p.request_id);
  if (ReferralIdFromName(p.name).empty()) v.push_back({"name", "must be referrals/{32 hex digits}"});
  if (p.etag.empty()) v.push_back({"etag", "required: the etag of the referral as last read (refx get)"});
  if (p.text.size() > kMaxTransitionText) v.push_back({"text", "at most 1024 bytes"});
  switch (p.action) {
    case LifecycleAction::kDecline:
      if (p.decline_reason == v1::DECLINE_REASON_UNSPECIFIED || !v1::DeclineReason_IsValid(p.decline_reason)) {
        v.push_back({"reason", "required: one of the coded decline reasons"});
      } else if (p.decline_reason == v1::DECLINE_REASON_OTHER && p.text.empty()) {
        v.push_back({"reason_text", "required when the reason is DECLINE_REASON_OTHER"});
      }
      break;
    case LifecycleAction::kComplete:
      if (p.outcome == v1::OUTCOME_UNSPECIFIED || !v1::Outcome_IsValid(p.outcome)) {
        v.push_back({"outcome", "required: one of the coded outcomes"});
      }
      break;
    case LifecycleAction::kCancel:
      if (p.text.empty()) v.push_back({"reason", "required: why the referral is withdrawn"});
      break;
    case LifecycleAction::kRedirect: {
      const std::string target = AgencyIdFromName(p.target_agency);
      const config::v1::Agency* agency = target.empty() ? nullptr : partnership.FindAgency(target);
      if (agency == nullptr) {
        v.push_back({"target_agency", "must name a registered agency, agencies/{agency_id}"});
      } else if (agency->suspended()) {
        v.push_back({"target_agency", "the agency is suspended"});
      } else if (!agreement.Allows(agency->role(), config::v1::REFERRAL_READ)) {
        v.push_back({"target_agency", "the agreement does not let this agency receive referrals"});
      }
      break;
    }
    default:
      break;
  }
  return v;
}

}  // namespace

// A transition checked and built on a worker thread: answered at once (a
// retry), or waiting for the write's commit.
struct ReferralManager::PreparedTransition {
  absl::optional<v1::Referral> answered;
  storage::UpdateReferralRequest request;
  v1::Referral answer;      // the referral as changed, trimmed for the caller
  VisibleReferral visible;  // as read before the change: a racing retry is answered from it
  absl::Status request_id_reused, stale;
};

absl::StatusOr<v1::Referral> ReferralManager::Transition(const Caller& caller, const TransitionParams& params,
                                                         CallAudit* audit) {
  return WaitFor<v1::Referral>(
      [&](Done<v1::Referral> done) { TransitionAsync(caller, params, audit, std::move(done)); });
}

void ReferralManager::TransitionAsync(const Caller& caller, const TransitionParams& params, CallAudit* audit,
                                      Done<v1::Referral> done) {
  SubmitPrepared<v1::Referral, PreparedTransition, storage::UpdateReferralResult>(
      PrepareTransition(caller, params, audit), params.name, audit,
      [this](storage::UpdateReferralRequest request, Done<storage::UpdateReferralResult> stored) {
        options_.store->UpdateReferralAsync(std::move(request), std::move(stored));
      },
      [this, caller, audit, name = params.name](const PreparedTransition& waiting,
                                                const storage::UpdateReferralResult& result) {
        return ReplayTransition(caller, name, waiting.visible, result.referral.id, result.referral.document, audit);
      },
      std::move(done));
}

// A retry gets the first result, whatever happened since (its etag is stale
// by then, and the state may no longer allow the transition), but under
// today's agreement and consent, audited as the read it is.
absl::StatusOr<v1::Referral> ReferralManager::ReplayTransition(const Caller& caller, const std::string& name,
                                                               const VisibleReferral& visible,
                                                               const std::string& referral_id,
                                                               const std::string& document, CallAudit* audit) const {
  v1::Referral out;
  if (!out.ParseFromString(document)) return absl::InternalError("stored referral is unreadable");
  absl::optional<ReadView> view = ReplayView(caller, out, visible.referral);
  if (!view.has_value()) return ReferralNotFoundError(name);
  Redact(*view, &out);
  storage::AuditRecord event =
      options_.auditor->Build(caller, audit->method, ReadAction(caller, visible.stored.sender_agency), {referral_id},
                              DisclosureOf(out), absl::StatusCode::kOk);
  event.reason = "REPLAYED";
  audit->WriteBeforeAnswer(std::move(event));
  return out;
}

absl::StatusOr<ReferralManager::PreparedTransition> ReferralManager::PrepareTransition(const Caller& caller,
                                                                                       const TransitionParams& params,
                                                                                       CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const std::vector<FieldViolation> violations =
      ValidateTransition(params, *options_.registry->Current(), *caller.agreement);
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);
  const std::string id = ReferralIdFromName(params.name);
  const std::string fingerprint = Fingerprint(params);
  PreparedTransition prepared;
  const absl::Status request_id_reused = InvalidArgumentError(
      "request_id was already used for a different request",
      {{"request_id", "already used by this agency with a different request; use a new id"}});

  // The record gate, the same one as GetReferral's.
  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, params.name, id));
  const storage::StoredReferral* stored = &visible.stored;
  const v1::Referral* current = &visible.referral;

  REFX_ASSIGN_OR_RETURN(auto earlier, options_.store->FindUpdate(caller.agency_id, params.request_id));
  if (earlier.has_value()) {
    if (earlier->fingerprint != fingerprint) return request_id_reused;
    REFX_ASSIGN_OR_RETURN(prepared.answered,
                          ReplayTransition(caller, params.name, visible, earlier->referral_id, earlier->document, audit));
    return prepared;
  }

  const absl::Status stale = WithErrorInfo(
      absl::AbortedError(absl::StrCat("referral ", params.name,
                                      " changed since that etag was read; re-read it (refx get) and decide again")),
      "ETAG_MISMATCH");
  if (params.etag != stored->etag) return stale;

  const v1::Referral::State state = current->state();
  const LifecycleRule* rule = FindLifecycleRule(state, params.action);
  if (rule == nullptr) {
    return FailedPreconditionError(
        absl::StrCat("cannot ", LifecycleActionName(params.action), " a referral that is ",
                     v1::Referral::State_Name(state)),
        {{"STATE", params.name,
          absl::StrCat(LifecycleActionName(params.action), " is not allowed from ", v1::Referral::State_Name(state))}});
  }
  if (!IsLifecycleParty(rule->party, caller, *current)) {
    return WithErrorInfo(absl::PermissionDeniedError(absl::StrCat("only ", LifecyclePartyName(rule->party), " may ",
                                                                  LifecycleActionName(params.action), " it")),
                         "NOT_ACTING_PARTY", {{"action", LifecycleActionName(params.action)}});
  }
  if (rule->hate_crime_only && current->report_type() != v1::HATE_CRIME) {
    return FailedPreconditionError(
        absl::StrCat("only a hate-crime referral may be ", LifecycleActionName(params.action), "ed"),
        {{"REPORT_TYPE", params.name, "report_type must be HATE_CRIME"}});
  }

  // The text goes into state_note, free text of the narrative's class: a
  // role that may not write that class may not write it here either.
  if (!params.text.empty()) {
    const auto* note_field = v1::Referral::descriptor()->FindFieldByName("state_note");
    if (!caller.agreement->WritableClasses(caller).Contains(DataClassOf(note_field))) {
      return WithErrorInfo(absl::PermissionDeniedError(
                               "the agreement does not let this agency's role write the note of a transition "
                               "(state_note); send it without text"),
                           "FIELD_NOT_WRITABLE", {{"fields", "state_note"}});
    }
  }

  v1::Referral changed = *current;  // a copy: a racing retry is answered from visible.referral
  bool redirected = false;
  storage::StoredReferral update = *stored;
  const std::string me = AgencyName(caller.agency_id);
  changed.set_state(rule->to);
  changed.set_state_note(params.text);
  switch (params.action) {
    case LifecycleAction::kAccept:
      changed.set_owner_agency(me);
      break;
    case LifecycleAction::kDecline:
      changed.set_decline_reason(params.decline_reason);
      break;
    case LifecycleAction::kRedirect: {
      const std::string target = AgencyIdFromName(params.target_agency);
      const auto& recipients = update.recipient_agencies;
      if (target == update.sender_agency ||
          std::find(recipients.begin(), recipients.end(), target) != recipients.end()) {
        return InvalidArgumentError("invalid request",
                                    {{"target_agency", "already a party to this referral; name another agency"}});
      }
      changed.add_redirected_agencies(me);
      changed.add_recipient_agencies(AgencyName(target));
      update.recipient_agencies.push_back(target);
      update.redirected_agencies.push_back(caller.agency_id);
      redirected = true;
      break;
    }
    case LifecycleAction::kComplete:
      changed.set_outcome(params.outcome);
      break;
    default:
      break;
  }
  update.state = rule->to;
  update.update_time = absl::FromUnixMicros(absl::ToUnixMicros(options_.clock->Now()));
  *changed.mutable_update_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(update.update_time));
  // Retention periods run from the closure (core/retention.h); a reopen
  // stops the clock.
  if (IsClosedState(rule->to)) {
    *changed.mutable_close_time() = changed.update_time();
  } else {
    changed.clear_close_time();
  }
  if (redirected) {
    // The new recipient gets the full period from the redirect, not what
    // was left of the previous recipient's.
    update.response_deadline = absl::FromUnixMicros(absl::ToUnixMicros(
        caller.agreement->ResponseDeadline(changed.priority(), update.update_time)));
    *changed.mutable_response_deadline() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*update.response_deadline));
  }
  update.etag = NewEtag();
  changed.set_etag(update.etag);
  update.document = SerializeDeterministic(changed);

  // The answer is the referral as changed, trimmed for the caller; its
  // audit event, written with the change, records exactly what it carries.
  v1::Referral answer = changed;
  Trim(caller, {}, &answer);
  storage::UpdateReferralRequest request;
  request.agency_id = caller.agency_id;
  request.request_id = params.request_id;
  request.request_fingerprint = fingerprint;
  request.expected_etag = params.etag;
  request.referral = update;
  request.audit = options_.auditor->Build(caller, audit->method, AuditAction::kAlteration, {}, DisclosureOf(answer),
                                         absl::StatusCode::kOk);
  request.event = MakeEvent(update, v1::WatchReferralsResponse::REFERRAL_CHANGED);
  prepared.request = std::move(request);
  prepared.answer = std::move(answer);
  prepared.visible = std::move(visible);
  prepared.request_id_reused = request_id_reused;
  prepared.stale = stale;
  return prepared;
}

absl::Status ReferralManager::ChangeRefused(const absl::Status& store_status, const std::string& name,
                                            const absl::Status& request_id_reused, const absl::Status& stale) {
  if (absl::IsAlreadyExists(store_status)) return request_id_reused;
  if (absl::IsAborted(store_status)) return stale;
  // The same answer as for a referral that never existed.
  if (absl::IsNotFound(store_status)) return ReferralNotFoundError(name);
  return store_status;
}

}  // namespace refx::core
