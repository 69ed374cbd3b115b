// ReferralManager::AddCaseUpdate and ListCaseUpdates: a referral's
// append-only case record, kept apart from create/read and the lifecycle.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "common/wait_for.h"
#include "core/agreement.h"
#include "core/field_behavior.h"
#include "core/referral_manager.h"
#include "core/recording_regime.h"
#include "core/referral_validation.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

using v1::CaseUpdate;

constexpr char kUpdatesSegment[] = "/updates/";
constexpr size_t kUpdatesSegmentSize = sizeof(kUpdatesSegment) - 1;

bool IsHexId(absl::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Splits `referrals/{id}/updates/{update_id}`; false if malformed.
bool ParseCaseUpdateName(const std::string& name, std::string* referral_id, std::string* update_id) {
  const size_t at = name.find(kUpdatesSegment);
  if (at == std::string::npos) return false;
  *referral_id = ReferralIdFromName(name.substr(0, at));
  *update_id = name.substr(at + kUpdatesSegmentSize);
  return !referral_id->empty() && IsHexId(*update_id);
}

// The update as the client controls it: output-only fields (by the
// schema's field_behavior) and fields this schema does not know (which would
// bypass validation and redaction) removed, and the consent's record time,
// which the server sets.
CaseUpdate ClientFields(const CaseUpdate& in) {
  CaseUpdate u = in;
  ClearOutputOnly(&u);
  u.mutable_consent()->clear_record_time();
  if (u.consent().ByteSizeLong() == 0) u.clear_consent();
  return u;
}

// Descriptions never echo a submitted value: it may be personal data.
std::vector<FieldViolation> ValidateCaseUpdate(const AddCaseUpdateParams& p, const CaseUpdate& u,
                                               const Agreement& agreement) {
  std::vector<FieldViolation> v = ValidateRequestId(p.request_id);
  const std::string parent_id = ReferralIdFromName(p.parent);
  if (parent_id.empty()) v.push_back({"parent", "must be referrals/{32 hex digits}"});
  if (p.etag.empty()) v.push_back({"etag", "required: the etag of the referral as last read (refx get)"});
  const CaseUpdate::Kind kind = u.kind();
  if (kind == CaseUpdate::KIND_UNSPECIFIED || !CaseUpdate::Kind_IsValid(kind)) {
    v.push_back({"update.kind", "required: one of the case update kinds"});
  }
  const bool text_optional = kind == CaseUpdate::CONSENT_CHANGE || kind == CaseUpdate::POLICE_OUTCOME_REFERENCE;
  if (u.text().size() > kMaxCaseUpdateTextBytes) {
    v.push_back({"update.text", "at most 4096 bytes"});
  } else if (u.text().empty() && !text_optional) {
    v.push_back({"update.text", "required for this kind of update"});
  }

  if (kind == CaseUpdate::CORRECTION) {
    std::string referral_id, update_id;
    if (u.supersedes().empty()) {
      v.push_back({"update.supersedes", "required for a correction: the name of the update it corrects"});
    } else if (!ParseCaseUpdateName(u.supersedes(), &referral_id, &update_id)) {
      v.push_back({"update.supersedes", "must be referrals/{id}/updates/{update_id}"});
    } else if (referral_id != parent_id) {
      v.push_back({"update.supersedes", "must name an update of this referral"});
    }
  } else if (!u.supersedes().empty()) {
    v.push_back({"update.supersedes", "only a correction supersedes an update"});
  }

  if (kind == CaseUpdate::CONSENT_CHANGE) {
    const auto& c = u.consent();
    if (!u.has_consent()) {
      v.push_back({"update.consent", "required for a consent change"});
    } else if (c.status() == v1::Consent::STATUS_UNSPECIFIED || !v1::Consent::Status_IsValid(c.status())) {
      v.push_back({"update.consent.status", "required: one of the consent statuses"});
    } else if (c.status() != v1::Consent::GIVEN && c.lawful_basis().empty()) {
      // As on create: without consent, sharing needs a recorded lawful basis.
      v.push_back({"update.consent.lawful_basis", "required when consent is not given"});
    }
    if (c.lawful_basis().size() > kMaxShortTextBytes) {
      v.push_back({"update.consent.lawful_basis", "at most 256 bytes"});
    } else if (!c.lawful_basis().empty() && !agreement.IsLawfulBasis(c.lawful_basis())) {
      v.push_back({"update.consent.lawful_basis", "not a lawful basis of the agreement"});
    }
  } else if (u.has_consent()) {
    v.push_back({"update.consent", "only a consent change carries a consent"});
  }

  if (kind == CaseUpdate::POLICE_OUTCOME_REFERENCE) {
    if (u.police_reference().empty()) {
      v.push_back({"update.police_reference", "required for a police outcome reference"});
    } else if (u.police_reference().size() > kMaxPoliceReferenceBytes) {
      v.push_back({"update.police_reference", "at most 256 bytes"});
    }
  } else if (!u.police_reference().empty()) {
    v.push_back({"update.police_reference", "only a police outcome reference carries one"});
  }
  return v;
}

// The digest of everything the client controls. The leading tag keeps it
// apart from a lifecycle request's, whose request ids share the namespace.
std::string Fingerprint(const AddCaseUpdateParams& p, const CaseUpdate& client_fields) {
  std::string canonical = "AddCaseUpdate;";
  for (const std::string& part : {p.parent, p.etag, SerializeDeterministic(client_fields)}) {
    absl::StrAppend(&canonical, part.size(), ":", part, ";");
  }
  return Sha256(canonical);
}

// A page token of a referral's updates: the last sequence returned, sealed
// and bound to the caller's agency and the referral.
std::string PageTokenBinding(const Caller& caller, const std::string& referral_id) {
  return absl::StrCat("refx-list-case-updates-v2|", caller.agency_id, "|", referral_id);
}

absl::StatusOr<int64_t> DecodePageToken(const TokenSealer& sealer, const Caller& caller, const std::string& token,
                                        const std::string& referral_id) {
  const absl::Status bad = InvalidArgumentError(
      "invalid page_token", {{"page_token", "not a token from a previous call of this agency for the same parent"}});
  auto payload = sealer.Open(PageTokenBinding(caller, referral_id), token);
  int64_t sequence = 0;
  if (!payload.ok() || !absl::SimpleAtoi(*payload, &sequence) || sequence < 0) return bad;
  return sequence;
}

// Whether recording `consent` on `referral` would let any role, for any
// purpose it holds, read a class of it that it cannot read now.
bool WidensAnyRole(const std::shared_ptr<const Agreement>& agreement, const v1::Referral& referral,
                   const v1::Consent& consent) {
  v1::Referral after = referral;
  *after.mutable_victim()->mutable_consent() = consent;
  for (const auto& role : agreement->config().roles()) {
    for (const auto& grant : role.grants()) {
      Caller reader;
      reader.role = role.role();
      reader.purpose = grant.purpose();
      reader.agreement = agreement;
      if (!agreement->ReadableClasses(reader, referral).ContainsAll(agreement->ReadableClasses(reader, after))) {
        return true;
      }
    }
  }
  return false;
}

// Trims `update` to the classes `caller` may read of `referral` (its
// current consent decides, as for the referral itself).
absl::StatusOr<CaseUpdate> TrimmedUpdate(const Caller& caller, const v1::Referral& referral,
                                         const std::string& document) {
  CaseUpdate update;
  if (!update.ParseFromString(document)) return absl::InternalError("stored case update is unreadable");
  Redact(caller.agreement->ViewOf(caller, referral), &update);
  return update;
}

}  // namespace

std::string CaseUpdateName(const std::string& referral_id, const std::string& update_id) {
  return absl::StrCat(ReferralName(referral_id), kUpdatesSegment, update_id);
}

// A case update checked and built on a worker thread: answered at once (a
// retry), or waiting for the write's commit.
struct ReferralManager::PreparedCaseUpdate {
  absl::optional<CaseUpdate> answered;
  storage::AddCaseUpdateRequest request;
  CaseUpdate answer;        // the update trimmed for the caller
  VisibleReferral visible;  // as read before the update: a racing retry is answered from it
  absl::Status request_id_reused, stale;
};

absl::StatusOr<CaseUpdate> ReferralManager::AddCaseUpdate(const Caller& caller, const AddCaseUpdateParams& params,
                                                          CallAudit* audit) {
  return WaitFor<CaseUpdate>(
      [&](Done<CaseUpdate> done) { AddCaseUpdateAsync(caller, params, audit, std::move(done)); });
}

void ReferralManager::AddCaseUpdateAsync(const Caller& caller, const AddCaseUpdateParams& params, CallAudit* audit,
                                         Done<CaseUpdate> done) {
  SubmitPrepared<CaseUpdate, PreparedCaseUpdate, storage::AddCaseUpdateResult>(
      PrepareCaseUpdate(caller, params, audit), params.parent, audit,
      [this](storage::AddCaseUpdateRequest request, Done<storage::AddCaseUpdateResult> stored) {
        options_.store->AddCaseUpdateAsync(std::move(request), std::move(stored));
      },
      [this, caller, audit](const PreparedCaseUpdate& waiting, const storage::AddCaseUpdateResult& result) {
        return ReplayCaseUpdate(caller, waiting.visible, result.update.referral_id, result.update.document, audit);
      },
      std::move(done));
}

// A retry gets the first result, whatever happened since, trimmed under the
// referral's consent now (as ListCaseUpdates would trim it) and audited as
// the read it is.
absl::StatusOr<CaseUpdate> ReferralManager::ReplayCaseUpdate(const Caller& caller, const VisibleReferral& visible,
                                                             const std::string& referral_id,
                                                             const std::string& document, CallAudit* audit) const {
  REFX_ASSIGN_OR_RETURN(CaseUpdate replayed, TrimmedUpdate(caller, visible.referral, document));
  storage::AuditRecord event =
      options_.auditor->Build(caller, audit->method, ReadAction(caller, visible.stored.sender_agency), {referral_id},
                              DisclosureOf(replayed), absl::StatusCode::kOk);
  event.reason = "REPLAYED";
  audit->WriteBeforeAnswer(std::move(event));
  return replayed;
}

absl::StatusOr<ReferralManager::PreparedCaseUpdate> ReferralManager::PrepareCaseUpdate(
    const Caller& caller, const AddCaseUpdateParams& params, CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const Agreement& agreement = *caller.agreement;
  const CaseUpdate input = ClientFields(params.update);
  const std::vector<FieldViolation> violations = ValidateCaseUpdate(params, input, agreement);
  if (!violations.empty()) return InvalidArgumentError("invalid case update", violations);

  // Writes: content the role may not set is refused, not silently dropped.
  // The class of a note depends on its kind, and for a correction on what
  // it corrects: checked once that is known (below).
  auto refuse_unwritable = [&](const CaseUpdate& update) -> absl::Status {
    std::vector<std::string> not_writable = FieldsOutside(agreement.WritableClasses(caller), update);
    if (not_writable.empty()) return absl::OkStatus();
    for (std::string& path : not_writable) path = absl::StrCat("update.", path);
    // Field paths name no value, so they are safe to return.
    return WithErrorInfo(absl::PermissionDeniedError(absl::StrCat(
                             "the agreement does not let this agency's role set ",
                             absl::StrJoin(not_writable, ", "), "; remove ",
                             not_writable.size() == 1 ? "it" : "them")),
                         "FIELD_NOT_WRITABLE", {{"fields", absl::StrJoin(not_writable, ",")}});
  };
  if (input.kind() != CaseUpdate::CORRECTION) REFX_RETURN_IF_ERROR(refuse_unwritable(input));

  const std::string id = ReferralIdFromName(params.parent);
  const std::string fingerprint = Fingerprint(params, input);
  PreparedCaseUpdate prepared;
  const absl::Status request_id_reused = InvalidArgumentError(
      "request_id was already used for a different request",
      {{"request_id", "already used by this agency with a different request; use a new id"}});

  // The record gate, the same one as GetReferral's.
  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, params.parent, id));

  REFX_ASSIGN_OR_RETURN(auto earlier, options_.store->FindUpdate(caller.agency_id, params.request_id));
  if (earlier.has_value()) {
    if (earlier->fingerprint != fingerprint) return request_id_reused;
    REFX_ASSIGN_OR_RETURN(prepared.answered,
                          ReplayCaseUpdate(caller, visible, earlier->referral_id, earlier->document, audit));
    return prepared;
  }

  const absl::Status stale = WithErrorInfo(
      absl::AbortedError(absl::StrCat("referral ", params.parent,
                                      " changed since that etag was read; re-read it (refx get) and try again")),
      "ETAG_MISMATCH");
  if (params.etag != visible.stored.etag) return stale;

  // Parties that redirected the referral away may still read it but no
  // longer act on it, and their case notes would be out of date.
  const std::string me = AgencyName(caller.agency_id);
  const auto& redirected = visible.referral.redirected_agencies();
  if (std::find(redirected.begin(), redirected.end(), me) != redirected.end()) {
    return WithErrorInfo(
        absl::PermissionDeniedError("only the sender or a recipient still acting on it may add a case update"),
        "NOT_ACTING_PARTY", {{"action", "add case update"}});
  }

  // Consent decides what every party may read, so a party other than the
  // sender (which recorded it) may only narrow it: otherwise a recipient
  // could grant itself the victim's identity by "recording" consent.
  if (input.kind() == CaseUpdate::CONSENT_CHANGE && visible.stored.sender_agency != caller.agency_id &&
      WidensAnyRole(caller.agreement, visible.referral, input.consent())) {
    return WithErrorInfo(
        absl::PermissionDeniedError("only the sending agency may record a consent change that shares more; "
                                    "another party may record a withdrawal"),
        "CONSENT_WIDENING_NOT_PERMITTED", {{"field", "update.consent"}});
  }

  CaseUpdate::Kind corrected_kind = CaseUpdate::KIND_UNSPECIFIED;
  if (input.kind() == CaseUpdate::CORRECTION) {
    std::string referral_id, update_id;
    ParseCaseUpdateName(input.supersedes(), &referral_id, &update_id);
    // Updates are never deleted, so one found now still exists at commit.
    auto superseded = options_.store->GetCaseUpdate(id, update_id);
    if (absl::IsNotFound(superseded.status())) {
      return InvalidArgumentError("invalid case update",
                                  {{"update.supersedes", "names no update of this referral"}});
    }
    if (!superseded.ok()) return superseded.status();
    // A correction says what the update it corrects said, so it carries
    // that kind's class (or, for a correction of a correction, the class of
    // what was first corrected).
    CaseUpdate corrected;
    if (!corrected.ParseFromString(superseded->document)) return absl::InternalError("stored case update is unreadable");
    corrected_kind = corrected.kind() == CaseUpdate::CORRECTION ? corrected.supersedes_kind() : corrected.kind();
    // Writing a correction needs the class of what it corrects (a role
    // cannot write health notes by "correcting" one).
    CaseUpdate resolved = input;
    resolved.set_supersedes_kind(corrected_kind);
    REFX_RETURN_IF_ERROR(refuse_unwritable(resolved));
  }

  // The regime is a routing fact every party reads, so this refusal tells
  // the caller nothing its view withholds.
  const v1::RecordingRegime regime = visible.referral.recording_regime().regime();
  if (!RegimeAllowsUpdate(regime, input.kind() == CaseUpdate::CORRECTION ? corrected_kind : input.kind())) {
    return WithErrorInfo(
        FailedPreconditionError(
            "the referral is a police incident under the NCHI Code of Practice 2023 or its successor: subject "
            "data is recorded only at create, with a threshold attestation",
            {{"REGIME", params.parent,
              absl::StrCat("recording regime ", v1::RecordingRegime_Name(regime),
                           " takes no subject data in case updates")}}),
        "REGIME_REFUSES_SUBJECT_DATA", {{"regime", v1::RecordingRegime_Name(regime)}});
  }

  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(options_.clock->Now()));
  const google::protobuf::Timestamp now_proto =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));

  storage::AddCaseUpdateRequest request;
  storage::StoredCaseUpdate& stored_update = request.update;
  stored_update.referral_id = id;
  stored_update.update_id = NewRandomId();
  stored_update.kind = input.kind();
  stored_update.author_agency = caller.agency_id;
  stored_update.create_time = now;
  CaseUpdate update = input;
  if (corrected_kind != CaseUpdate::KIND_UNSPECIFIED) update.set_supersedes_kind(corrected_kind);
  update.set_name(CaseUpdateName(id, stored_update.update_id));
  update.set_author_agency(me);
  *update.mutable_create_time() = now_proto;
  if (update.has_consent()) *update.mutable_consent()->mutable_record_time() = now_proto;
  stored_update.document = SerializeDeterministic(update);

  // Copies: a racing retry (below) is answered from `visible`.
  v1::Referral changed = visible.referral;
  storage::StoredReferral referral = visible.stored;
  if (update.kind() == CaseUpdate::CONSENT_CHANGE) *changed.mutable_victim()->mutable_consent() = update.consent();
  referral.update_time = now;
  *changed.mutable_update_time() = now_proto;
  // A random version id: it says only that the referral changed.
  referral.etag = NewEtag();
  changed.set_etag(referral.etag);
  referral.document = SerializeDeterministic(changed);

  // The answer is the update trimmed for the caller under the consent it
  // leaves; its audit event, written with it, records what it carries.
  REFX_ASSIGN_OR_RETURN(CaseUpdate answer, TrimmedUpdate(caller, changed, stored_update.document));
  request.agency_id = caller.agency_id;
  request.request_id = params.request_id;
  request.request_fingerprint = fingerprint;
  request.expected_etag = params.etag;
  request.referral = std::move(referral);
  request.audit = options_.auditor->Build(caller, audit->method, AuditAction::kAlteration, {}, DisclosureOf(answer),
                                         absl::StatusCode::kOk);
  // Watchers hear of the update in the same transaction that stores it.
  request.event = MakeEvent(request.referral, v1::WatchReferralsResponse::CASE_UPDATE_ADDED);
  request.event->update_document = request.update.document;
  prepared.request = std::move(request);
  prepared.answer = std::move(answer);
  prepared.visible = std::move(visible);
  prepared.request_id_reused = request_id_reused;
  prepared.stale = stale;
  return prepared;
}

absl::StatusOr<v1::ListCaseUpdatesResponse> ReferralManager::ListCaseUpdates(const Caller& caller,
                                                                             const std::string& parent,
                                                                             int page_size,
                                                                             const std::string& page_token,
                                                                             CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const std::string id = ReferralIdFromName(parent);
  std::vector<FieldViolation> violations;
  if (id.empty()) violations.push_back({"parent", "must be referrals/{32 hex digits}"});
  if (page_size < 0) violations.push_back({"page_size", "must not be negative"});
  if (!violations.empty()) return InvalidArgumentError("invalid list request", violations);
  int64_t after = 0;
  if (!page_token.empty()) {
    REFX_ASSIGN_OR_RETURN(after, DecodePageToken(page_tokens_, caller, page_token, id));
  }

  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, parent, id));
  const int size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  // One extra row tells whether another page exists. Every update of a
  // referral the caller may see is listed (trimmed, never skipped), so the
  // page and its token depend on nothing the caller cannot see.
  REFX_ASSIGN_OR_RETURN(auto rows, options_.store->ListCaseUpdates(id, after, size + 1));
  v1::ListCaseUpdatesResponse page;
  const bool more = static_cast<int>(rows.size()) > size;
  if (more) rows.resize(size);
  bool others = false;
  for (const storage::StoredCaseUpdate& row : rows) {
    REFX_ASSIGN_OR_RETURN(CaseUpdate update, TrimmedUpdate(caller, visible.referral, row.document));
    others = others || row.author_agency != caller.agency_id;
    *page.add_updates() = std::move(update);
  }
  if (more) {
    page.set_next_page_token(
        page_tokens_.Seal(PageTokenBinding(caller, id), absl::StrCat(rows.back().sequence)));
  }
  // Audit before answer. Another agency's notes reaching the caller are a
  // disclosure; reading back only its own is a consultation (as for
  // referrals).
  audit->WriteBeforeAnswer(
      options_.auditor->Build(caller, audit->method, others ? AuditAction::kDisclosure : AuditAction::kConsultation,
                              {id}, DisclosureOf(page), absl::StatusCode::kOk));
  return page;
}

}  // namespace refx::core
