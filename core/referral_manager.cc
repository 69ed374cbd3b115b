#include "core/referral_manager.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "common/wait_for.h"
#include "core/agreement.h"
#include "core/field_behavior.h"
#include "core/recording_regime.h"
#include "core/referral_validation.h"
#include "core/retention.h"
#include "core/victim_tokens.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kReferralPrefix = "referrals/";

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

}  // namespace

std::string ReferralName(const std::string& id) { return absl::StrCat(kReferralPrefix, id); }

std::string SerializeDeterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::string NewEtag() { return HexEncode(RandomBytes(10)); }

std::string ReferralIdFromName(const std::string& name) {
  if (!absl::StartsWith(name, kReferralPrefix)) return "";
  std::string id = name.substr(kReferralPrefix.size());
  if (id.size() != 32) return "";
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  }
  return id;
}

absl::StatusOr<std::unique_ptr<ReferralManager>> ReferralManager::Create(Options options) {
  if (options.registry == nullptr || options.store == nullptr || options.auditor == nullptr) {
    return absl::InvalidArgumentError("ReferralManager needs a registry, a store and an auditor");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  auto sealer = TokenSealer::Create(options.page_token_key);
  if (!sealer.ok()) return absl::InvalidArgumentError("ReferralManager needs a 32-byte page token key");
  return std::unique_ptr<ReferralManager>(new ReferralManager(std::move(options), *std::move(sealer)));
}

// A create checked and built on a worker thread, waiting for its commit.
struct ReferralManager::PreparedCreate {
  storage::CreateReferralRequest request;
  // Completed by the store inside the create's transaction (the repeat
  // count), read once the write has committed.
  std::shared_ptr<v1::Referral> answer;
};

absl::StatusOr<v1::Referral> ReferralManager::CreateReferral(const Caller& caller, const v1::Referral& input,
                                                             const std::string& request_id, CallAudit* audit) {
  return WaitFor<v1::Referral>(
      [&](Done<v1::Referral> done) { CreateReferralAsync(caller, input, request_id, audit, std::move(done)); });
}

void ReferralManager::CreateReferralAsync(const Caller& caller, const v1::Referral& input,
                                          const std::string& request_id, CallAudit* audit, Done<v1::Referral> done) {
  absl::StatusOr<PreparedCreate> prepared = PrepareCreate(caller, input, request_id, audit);
  if (!prepared.ok()) return done(prepared.status());
  options_.store->CreateReferralAsync(
      std::move(prepared->request),
      [this, caller, audit, answer = prepared->answer, done = std::move(done)](
          absl::StatusOr<storage::CreateReferralResult> result) { done(FinishCreate(caller, audit, *answer, result)); });
}

absl::StatusOr<ReferralManager::PreparedCreate> ReferralManager::PrepareCreate(const Caller& caller,
                                                                               const v1::Referral& input,
                                                                               const std::string& request_id,
                                                                               CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const Agreement& agreement = *caller.agreement;
  const absl::Time now = options_.clock->Now();
  // What the client sent in output-only fields is ignored (AIP-203), decided
  // by the schema's field_behavior, before anything looks at the referral:
  // a sender cannot name an owner, a history or a repeat count. Fields this
  // schema does not know would bypass validation and redaction: they go too.
  if (input.recipient_agencies_size() > options_.max_recipients) {
    return QuotaExceededError(absl::StrCat("a referral may have at most ", options_.max_recipients, " recipients"),
                              "TOO_MANY_RECIPIENTS", "referral.recipient_agencies",
                              absl::StrCat("at most ", options_.max_recipients,
                                           " recipients (limits.max_recipients_per_referral)"),
                              {{"limit", absl::StrCat(options_.max_recipients)}});
  }
  v1::Referral referral = input;
  ClearOutputOnly(&referral);
  const std::shared_ptr<const Partnership> registry = options_.registry->Current();
  std::vector<FieldViolation> violations = ValidateRequestId(request_id);
  auto more = ValidateNewReferral(referral, caller, *registry, now, "referral");
  violations.insert(violations.end(), more.begin(), more.end());
  // Agreement rules on the content: recipients must be roles that may read
  // referrals, and sharing without consent must cite a basis it lists.
  for (int i = 0; i < referral.recipient_agencies_size(); ++i) {
    const config::v1::Agency* agency = registry->FindAgency(AgencyIdFromName(referral.recipient_agencies(i)));
    if (agency != nullptr && !agreement.Allows(agency->role(), config::v1::REFERRAL_READ)) {
      violations.push_back({absl::StrCat("referral.recipient_agencies[", i, "]"),
                            "the agreement does not let this agency receive referrals"});
    }
  }
  const auto& consent = referral.victim().consent();
  if (!consent.lawful_basis().empty() && !agreement.IsLawfulBasis(consent.lawful_basis())) {
    violations.push_back({"referral.victim.consent.lawful_basis", "not a lawful basis of the agreement"});
  }
  // Where subject data may go follows from the regime the agreement puts the
  // sender under (a police force's incidents: the NCHI Code of Practice, or
  // its successor once the agreement's date for it has come).
  const v1::RecordingRegime regime =
      agreement.RegimeInForce(RegimeFor(referral.report_type(), agreement.NchiCodeApplies(caller.role)), now);
  more = RegimeViolations(referral, regime, caller.acting_user, "referral");
  violations.insert(violations.end(), more.begin(), more.end());

  if (!violations.empty()) return InvalidArgumentError("the referral is not valid", violations);

  // Writes: a field the role may not set is refused, not silently dropped.
  const std::vector<std::string> not_writable = FieldsOutside(agreement.WritableClasses(caller), referral);
  if (!not_writable.empty()) {
    // Field paths name no value, so they are safe to return.
    return WithErrorInfo(absl::PermissionDeniedError(absl::StrCat(
                             "the agreement does not let this agency's role set ",
                             absl::StrJoin(not_writable, ", "), "; remove ",
                             not_writable.size() == 1 ? "it" : "them")),
                         "FIELD_NOT_WRITABLE", {{"fields", absl::StrJoin(not_writable, ",")}});
  }

  // The fingerprint covers exactly what the client controls, so a retry of
  // the same request matches whatever output-only fields it carried.
  const std::string fingerprint = Sha256(SerializeDeterministic(referral));
  // After the fingerprint, so a retry that spells "routine" as unset matches.
  if (referral.priority() == v1::PRIORITY_UNSPECIFIED) referral.set_priority(v1::PRIORITY_ROUTINE);

  storage::CreateReferralRequest request;
  request.request_id = request_id;
  request.request_fingerprint = fingerprint;
  storage::StoredReferral& stored = request.referral;
  stored.id = NewRandomId();
  stored.sender_agency = caller.agency_id;
  for (const std::string& name : referral.recipient_agencies()) {
    stored.recipient_agencies.push_back(AgencyIdFromName(name));
  }
  stored.state = v1::Referral::REQUESTED;
  stored.area = referral.area();
  stored.report_type = referral.report_type();
  for (const auto& s : referral.strands()) stored.strands.push_back(s.strand());
  stored.create_time = stored.update_time = absl::FromUnixMicros(absl::ToUnixMicros(now));
  StampRegime(regime, stored.create_time, agreement.Label(), caller.acting_user, &referral);
  // The clock starts when the referral is sent, under the agreement the
  // call was admitted with; a later agreement does not move it.
  stored.response_deadline =
      absl::FromUnixMicros(absl::ToUnixMicros(agreement.ResponseDeadline(referral.priority(), stored.create_time)));

  referral.set_name(ReferralName(stored.id));
  referral.set_sender_agency(AgencyName(caller.agency_id));
  referral.set_state(v1::Referral::REQUESTED);
  *referral.mutable_create_time() = ToProtoTime(stored.create_time);
  *referral.mutable_update_time() = ToProtoTime(stored.update_time);
  *referral.mutable_response_deadline() = ToProtoTime(*stored.response_deadline);
  // A random version id: an etag says only "changed", never what changed,
  // so a party cannot test a guess of a withheld field against it.
  stored.etag = NewEtag();
  referral.set_etag(stored.etag);
  // Repeat victims: the tokens go in with the referral, and the count of
  // earlier matches is taken in the same write transaction, so two creates
  // for one victim in one batch still see each other.
  request.victim_tokens = VictimTokens(options_.victim_token_key, referral.victim());
  request.repeat_window_start = stored.create_time - absl::Hours(24 * kRepeatVictimWindowDays);
  // The answer is made inside that transaction too, once the count is
  // known, so the audit event written with the referral records exactly
  // what the answer discloses (the count included, as a value derived from
  // other referrals, when the creator's role is granted it).
  // Everything but the count is known now, so the answer and its classes are
  // worked out here, off the store's single writer thread; inside, the
  // count alone is trimmed for the caller (through the same redaction) and
  // added to both.
  // The creator is a party: its own referral comes back even where its role
  // would not see such referrals of others (a Prevent-only role).
  auto answer = std::make_shared<v1::Referral>(referral);
  const ReadView view = caller.agreement->ViewOf(caller, referral);
  Redact(view, answer.get());
  const Disclosure disclosed = DisclosureOf(*answer);
  const bool matching = !options_.victim_token_key.empty();
  request.complete = [this, caller, referral, matching, answer, view, disclosed, method = audit->method](
                         int64_t earlier, storage::StoredReferral* r, storage::AuditRecord* event) mutable {
    Disclosure sent = disclosed;
    if (matching) {
      referral.set_repeat_victim_count(static_cast<int32_t>(earlier));
      v1::Referral count;
      count.set_repeat_victim_count(static_cast<int32_t>(earlier));
      Redact(view, &count);
      if (count.has_repeat_victim_count()) {
        answer->set_repeat_victim_count(count.repeat_victim_count());
        sent.Add(count);
      }
    }
    r->document = SerializeDeterministic(referral);
    *event = options_.auditor->Build(caller, method, AuditAction::kCollection, {r->id}, sent, absl::StatusCode::kOk);
  };
  request.audit = options_.auditor->Build(caller, audit->method, AuditAction::kCollection, {}, {}, absl::StatusCode::kOk);
  request.event = MakeEvent(stored, v1::WatchReferralsResponse::REFERRAL_CREATED);
  return PreparedCreate{std::move(request), std::move(answer)};
}

absl::StatusOr<v1::Referral> ReferralManager::FinishCreate(const Caller& caller, CallAudit* audit,
                                                           const v1::Referral& answer,
                                                           const absl::StatusOr<storage::CreateReferralResult>& result) {
  if (!result.ok()) {
    if (absl::IsAlreadyExists(result.status())) {
      return InvalidArgumentError(
          "request_id was already used for a different referral",
          {{"request_id", "already used by this agency with a different referral; use a new id"}});
    }
    return result.status();
  }
  if (!result->replayed) {
    audit->recorded = true;  // in the transaction that stored the referral
    return answer;
  }
  // A retry: the referral as it is now, under today's agreement and
  // consent, audited as the read it is.
  REFX_ASSIGN_OR_RETURN(v1::Referral created, Parse(caller, result->referral, /*record_gate=*/false));
  Trim(caller, {}, &created);
  storage::AuditRecord event = options_.auditor->Build(caller, audit->method, AuditAction::kConsultation,
                                                       {result->referral.id}, DisclosureOf(created),
                                                       absl::StatusCode::kOk);
  event.reason = "REPLAYED";
  audit->WriteBeforeAnswer(std::move(event));
  return created;
}

absl::StatusOr<v1::Referral> ReferralManager::GetReferral(const Caller& caller, const std::string& name,
                                                          const std::vector<std::string>& read_mask,
                                                          CallAudit* audit) {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  const std::string id = ReferralIdFromName(name);
  if (id.empty()) {
    return InvalidArgumentError("invalid referral name", {{"name", "must be referrals/{32 hex digits}"}});
  }
  REFX_RETURN_IF_ERROR(CheckReadMask(caller, read_mask, "read_mask"));
  REFX_ASSIGN_OR_RETURN(VisibleReferral visible, LoadVisible(caller, name, id));
  v1::Referral referral = std::move(visible.referral);
  Trim(caller, read_mask, &referral);
  // Audit before answer: nothing leaves unless its event is durable.
  audit->WriteBeforeAnswer(options_.auditor->Build(caller, audit->method,
                                                   ReadAction(caller, visible.stored.sender_agency),
                                                   {visible.stored.id}, DisclosureOf(referral), absl::StatusCode::kOk));
  return referral;
}

absl::StatusOr<std::map<std::string, int64_t>> ReferralManager::CountOverdueByRecipient() {
  return options_.store->CountOverdueByRecipient(options_.clock->Now(),
                                                 {v1::Referral::REQUESTED, v1::Referral::REDIRECTED});
}

absl::StatusOr<ReferralManager::VisibleReferral> ReferralManager::LoadVisible(const Caller& caller,
                                                                             const std::string& name,
                                                                             const std::string& id) const {
  // Absent and not-yours give the same status and message, so a caller
  // cannot probe for referrals it is not a party to.
  const absl::Status not_found = ReferralNotFoundError(name);
  auto stored = options_.store->GetReferral(id);
  if (absl::IsNotFound(stored.status())) return not_found;
  if (!stored.ok()) return stored.status();
  const bool party = stored->sender_agency == caller.agency_id ||
                     std::find(stored->recipient_agencies.begin(), stored->recipient_agencies.end(),
                               caller.agency_id) != stored->recipient_agencies.end();
  if (!party) return not_found;
  auto referral = Parse(caller, *stored);
  if (absl::IsNotFound(referral.status())) return not_found;
  if (!referral.ok()) return referral.status();
  return VisibleReferral{*std::move(stored), *std::move(referral)};
}

storage::ReferralEvent MakeEvent(const storage::StoredReferral& stored, v1::WatchReferralsResponse::Kind kind) {
  storage::ReferralEvent event;
  event.time = stored.update_time;
  event.kind = kind;
  event.referral_id = stored.id;
  event.audience.push_back(stored.sender_agency);
  for (const std::string& recipient : stored.recipient_agencies) event.audience.push_back(recipient);
  event.referral_document = stored.document;
  return event;
}

absl::StatusOr<absl::optional<RenderedEvent>> ReferralManager::RenderEvent(const Caller& caller,
                                                                          const storage::ReferralEvent& event,
                                                                          const std::string& current_document,
                                                                          const std::vector<std::string>& read_mask) const {
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  if (std::find(event.audience.begin(), event.audience.end(), caller.agency_id) == event.audience.end()) {
    return absl::nullopt;
  }
  RenderedEvent out;
  out.message.set_sequence(event.sequence);
  out.message.set_kind(static_cast<v1::WatchReferralsResponse::Kind>(event.kind));
  *out.message.mutable_event_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(event.time));
  v1::Referral* referral = out.message.mutable_referral();
  if (!referral->ParseFromString(event.referral_document)) {
    return absl::InternalError(absl::StrCat("stored event ", event.sequence, " is unreadable"));
  }
  // The same record gate as GetReferral: a Prevent-only role hears only of
  // Prevent-relevant referrals.
  if (!caller.agreement->RecordVisible(caller, *referral)) return absl::nullopt;
  ReadView view = caller.agreement->ViewOf(caller, *referral);
  if (current_document != event.referral_document) {
    // An older event (a resume, a replay): it discloses no more than a read
    // now would, so consent withdrawn since it happened holds for it too.
    v1::Referral now;
    if (!now.ParseFromString(current_document)) {
      return absl::InternalError(absl::StrCat("stored referral ", event.referral_id, " is unreadable"));
    }
    // Deleted since (retention): only the deletion itself is told.
    if (ErasedClasses(now).Contains(v1::DATA_CLASS_REFERRAL_CORE)) return absl::nullopt;
    if (!caller.agreement->RecordVisible(caller, now)) return absl::nullopt;
    view.RetainOnly(caller.agreement->ViewOf(caller, now));
    // Nor what retention has erased since (the store rewrites its copies;
    // this holds for copies in memory too).
    for (v1::DataClass erased : ErasedClasses(now).Members()) view.classes.Remove(erased);
  }
  const bool sender = referral->sender_agency() == AgencyName(caller.agency_id);
  Redact(view, referral);
  TrimToMask(read_mask, referral);
  if (!event.update_document.empty()) {
    v1::CaseUpdate* update = out.message.mutable_update();
    if (!update->ParseFromString(event.update_document)) {
      return absl::InternalError(absl::StrCat("stored event ", event.sequence, " is unreadable"));
    }
    Redact(view, update);
  }
  // What the subscriber receives is this message: its audit records it.
  out.disclosed = DisclosureOf(out.message);
  out.referral_id = event.referral_id;
  out.to_sender = sender;
  return absl::optional<RenderedEvent>(std::move(out));
}

absl::Status ReferralManager::CheckWatchReadMask(const Caller& caller, const std::vector<std::string>& read_mask) const {
  return CheckReadMask(caller, read_mask, "read_mask");
}

absl::StatusOr<v1::Referral> ReferralManager::Parse(const Caller& caller, const storage::StoredReferral& stored,
                                                    bool record_gate) const {
  v1::Referral referral;
  if (!referral.ParseFromString(stored.document)) {
    return absl::InternalError(absl::StrCat("stored referral ", stored.id, " is unreadable"));
  }
  if (record_gate && !caller.agreement->RecordVisible(caller, referral)) return absl::NotFoundError("not visible");
  return referral;
}

void ReferralManager::Trim(const Caller& caller, const std::vector<std::string>& mask,
                           v1::Referral* referral) const {
  // Consent is read before redaction: the decision depends on it.
  Redact(caller.agreement->ViewOf(caller, *referral), referral);
  TrimToMask(mask, referral);
}

absl::optional<ReadView> ReferralManager::ReplayView(const Caller& caller, const v1::Referral& then,
                                                     const v1::Referral& now) const {
  if (!caller.agreement->RecordVisible(caller, now)) return absl::nullopt;
  ReadView view = caller.agreement->ViewOf(caller, then);
  view.RetainOnly(caller.agreement->ViewOf(caller, now));
  for (v1::DataClass erased : ErasedClasses(now).Members()) view.classes.Remove(erased);
  return view;
}

AuditAction ReferralManager::ReadAction(const Caller& caller, const std::string& referral_sender_agency) {
  // Reading back one's own referral is a consultation; another agency's
  // data reaching the caller is a disclosure.
  return referral_sender_agency == caller.agency_id ? AuditAction::kConsultation : AuditAction::kDisclosure;
}

void ReferralManager::TrimToMask(const std::vector<std::string>& mask, v1::Referral* referral) {
  if (mask.empty()) return;
  google::protobuf::FieldMask field_mask;
  field_mask.add_paths("name");  // a trimmed referral still says which it is
  for (const std::string& path : mask) field_mask.add_paths(path);
  google::protobuf::util::FieldMaskUtil::TrimMessage(field_mask, referral);
}

absl::Status ReferralManager::CheckReadMask(const Caller& caller, const std::vector<std::string>& mask,
                                            const std::string& field) const {
  if (static_cast<int>(mask.size()) > options_.max_read_mask_paths) {
    // Refused before a violation is listed for each: the answer stays small.
    return QuotaExceededError(absl::StrCat("a read mask may name at most ", options_.max_read_mask_paths, " paths"),
                              "READ_MASK_TOO_LARGE", field,
                              absl::StrCat("at most ", options_.max_read_mask_paths,
                                           " read mask paths (limits.max_read_mask_paths)"),
                              {{"limit", absl::StrCat(options_.max_read_mask_paths)}});
  }
  const DataClassSet readable = caller.agreement->MaxReadableClasses(caller);
  std::vector<FieldViolation> invalid;
  std::vector<std::string> not_shared;
  for (size_t i = 0; i < mask.size(); ++i) {
    auto classes = ClassesOfPath(v1::Referral::descriptor(), mask[i]);
    if (!classes.ok()) {
      invalid.push_back({absl::StrCat(field, ".paths[", i, "]"), "not a field of Referral"});
    } else if (!readable.ContainsAll(*classes)) {
      not_shared.push_back(mask[i]);
    }
  }
  if (!invalid.empty()) return InvalidArgumentError("invalid read_mask", invalid);
  if (!not_shared.empty()) {
    return WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat("the agreement does not share ", absl::StrJoin(not_shared, ", "),
                                                 " with this agency's role for purpose '", caller.purpose, "'")),
        "FIELD_NOT_SHARED", {{"fields", absl::StrJoin(not_shared, ",")}, {"purpose", caller.purpose}});
  }
  return absl::OkStatus();
}

}  // namespace refx::core
