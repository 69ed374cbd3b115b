#include "core/subject_requests.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/redaction.h"
#include "core/referral_manager.h"
#include "core/referral_validation.h"
#include "core/subject_request_clock.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/case_update.pb.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kCreateMethod[] = "refx.v1.AuditService.CreateSubjectRequest";
constexpr char kGetMethod[] = "refx.v1.AuditService.GetSubjectRequest";
constexpr char kListMethod[] = "refx.v1.AuditService.ListSubjectRequests";
constexpr char kStepMethod[] = "refx.v1.AuditService.RecordSubjectRequestStep";
constexpr char kExportMethod[] = "refx.v1.AuditService.ExportSubjectAccessBundle";
constexpr char kRectifyMethod[] = "refx.v1.AuditService.RecordRectification";
constexpr char kUpdatesSegment[] = "/updates/";
constexpr char kNamePrefix[] = "subjectRequests/";
constexpr size_t kMaxReferenceLength = 100;
constexpr int kDefaultRequestsPerPage = 100;
constexpr int kMaxRequestsPerPage = 1000;

google::protobuf::Timestamp Proto(absl::Time t) { return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t)); }

std::string NameOf(const std::string& id) { return absl::StrCat(kNamePrefix, id); }

bool IsHexId(absl::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The id in `name`, or empty if it is not `subjectRequests/{32 hex digits}`.
std::string IdFromName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kNamePrefix) || !IsHexId(name)) return "";
  return std::string(name);
}

absl::Status NotFound(const std::string& name) {
  return ResourceNotFoundError(absl::StrCat("subject request ", name, " not found"), "refx.v1.SubjectRequest", name,
                               "no data subject request by that name", "SUBJECT_REQUEST_NOT_FOUND");
}

absl::Status Stale(const std::string& name) {
  return WithErrorInfo(
      absl::AbortedError(absl::StrCat("subject request ", name,
                                      " changed since that etag was read; read it again and decide again")),
      "ETAG_MISMATCH");
}

bool OnOneLine(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// The audit event of a change: names the request, the step and its day,
// never the reference or the note (the DPO's words, kept in the record).
storage::AuditRecord ChangeEvent(const Auditor& auditor, const Caller& caller, absl::string_view method,
                                 const std::string& name, const v1::SubjectRequestStep& step) {
  storage::AuditRecord event = auditor.Build(caller, method, AuditAction::kNone, {}, {}, absl::StatusCode::kOk);
  event.reason = absl::StrCat(name, " ", v1::SubjectRequestStep::Action_Name(step.action()), " ", step.date());
  return event;
}

std::string PageToken(const storage::StoredSubjectRequest& last) {
  return absl::WebSafeBase64Escape(absl::StrCat(absl::ToUnixMicros(last.create_time), ".", last.id));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SubjectRequestRegister>> SubjectRequestRegister::Create(Options options) {
  if (options.store == nullptr || options.auditor == nullptr || options.retention == nullptr ||
      options.subject_access == nullptr) {
    return absl::InvalidArgumentError(
        "the subject request register needs a store, an auditor, the retention job and subject access");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  return std::unique_ptr<SubjectRequestRegister>(new SubjectRequestRegister(options));
}

absl::StatusOr<v1::SubjectRequest> SubjectRequestRegister::Render(const Caller& caller,
                                                                  const storage::StoredSubjectRequest& stored) const {
  v1::SubjectRequest out;
  if (!out.ParseFromString(stored.document)) return absl::InternalError("a stored subject request is unreadable");
  const WorkingCalendar& calendar = caller.agreement->calendar();
  REFX_ASSIGN_OR_RETURN(SubjectRequestClock clock, RunSubjectRequestClock(out.steps(), calendar));
  const absl::CivilDay today = absl::ToCivilDay(options_.clock->Now(), calendar.zone());
  out.set_state(clock.state);
  out.set_due_date(FormatDay(clock.due));
  out.set_extended(clock.extended);
  out.set_overdue(IsOverdue(clock, today));
  const bool may_extend = clock.state == v1::SubjectRequest::OPEN && !clock.extended && today <= clock.first_month_end;
  out.set_extension_deadline(may_extend ? FormatDay(clock.first_month_end) : "");
  *out.mutable_update_time() = Proto(stored.update_time);
  out.set_etag(absl::StrCat("v", stored.version));
  return out;
}

absl::StatusOr<v1::SubjectRequest> SubjectRequestRegister::Open(const Caller& caller,
                                                                const v1::CreateSubjectRequestRequest& request,
                                                                CallAudit* audit) {
  const v1::SubjectRequest& given = request.subject_request();
  const absl::Time now = options_.clock->Now();
  const absl::CivilDay today = absl::ToCivilDay(now, caller.agreement->calendar().zone());
  std::vector<FieldViolation> violations = ValidateRequestId(request.request_id());
  if (given.kind() == v1::SubjectRequest::KIND_UNSPECIFIED || !v1::SubjectRequest::Kind_IsValid(given.kind())) {
    violations.push_back(
        {"subject_request.kind", "required: ACCESS, RECTIFICATION, ERASURE, RESTRICTION or OBJECTION"});
  }
  const std::string reference(absl::StripAsciiWhitespace(given.reference()));
  if (reference.empty() || reference.size() > kMaxReferenceLength || !OnOneLine(reference)) {
    violations.push_back({"subject_request.reference",
                          "required: the DPO's case reference, 1-100 characters on one line, no personal data"});
  }
  absl::optional<absl::CivilDay> received = ParseDay(given.received_date());
  if (!received) {
    violations.push_back({"subject_request.received_date", "required: YYYY-MM-DD"});
  } else if (*received > today) {
    violations.push_back({"subject_request.received_date", "must not be in the future"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid subject request", violations);

  storage::StoredSubjectRequest stored;
  stored.id = NewRandomId();
  stored.agency_id = caller.agency_id;
  stored.request_id = request.request_id();
  stored.create_time = stored.update_time = now;
  v1::SubjectRequest record;
  record.set_name(NameOf(stored.id));
  record.set_kind(given.kind());
  record.set_reference(reference);
  record.set_received_date(given.received_date());
  record.set_agency(AgencyName(caller.agency_id));
  *record.mutable_create_time() = Proto(now);
  v1::SubjectRequestStep* received_step = record.add_steps();
  received_step->set_action(v1::SubjectRequestStep::RECEIVED);
  received_step->set_date(given.received_date());
  received_step->set_agency(record.agency());
  *received_step->mutable_record_time() = Proto(now);
  stored.document = record.SerializeAsString();

  storage::AuditRecord event = ChangeEvent(*options_.auditor, caller, kCreateMethod, record.name(), *received_step);
  REFX_ASSIGN_OR_RETURN(storage::CreateSubjectRequestResult created,
                        options_.store->CreateSubjectRequest(stored, event));
  if (created.replayed) {
    // The same request id: the first answer, if this is the same request.
    v1::SubjectRequest first;
    if (!first.ParseFromString(created.stored.document)) {
      return absl::InternalError("a stored subject request is unreadable");
    }
    if (first.kind() != record.kind() || first.reference() != record.reference() ||
        first.received_date() != record.received_date()) {
      return InvalidArgumentError("request_id reused",
                                  {{"request_id", "was used for a different subject request; choose a new one"}});
    }
    event = ChangeEvent(*options_.auditor, caller, kCreateMethod, first.name(), first.steps(0));
    event.reason = absl::StrCat(event.reason, " REPLAYED");
    audit->WriteBeforeAnswer(std::move(event));
  } else {
    audit->recorded = true;  // written with the request
  }
  return Render(caller, created.stored);
}

absl::StatusOr<v1::SubjectRequest> SubjectRequestRegister::Get(const Caller& caller,
                                                               const v1::GetSubjectRequestRequest& request,
                                                               CallAudit* audit) {
  const std::string id = IdFromName(request.name());
  if (id.empty()) return InvalidArgumentError("invalid request", {{"name", "must be subjectRequests/{32 hex digits}"}});
  REFX_ASSIGN_OR_RETURN(absl::optional<storage::StoredSubjectRequest> stored, options_.store->GetSubjectRequest(id));
  if (!stored.has_value()) return NotFound(request.name());
  REFX_ASSIGN_OR_RETURN(v1::SubjectRequest out, Render(caller, *stored));
  storage::AuditRecord event =
      options_.auditor->Build(caller, kGetMethod, AuditAction::kNone, {}, {}, absl::StatusCode::kOk);
  event.reason = out.name();
  audit->WriteBeforeAnswer(std::move(event));
  return out;
}

absl::StatusOr<v1::ListSubjectRequestsResponse> SubjectRequestRegister::List(
    const Caller& caller, const v1::ListSubjectRequestsRequest& request, CallAudit* audit) {
  std::vector<FieldViolation> violations;
  if (request.page_size() < 0) violations.push_back({"page_size", "must not be negative"});
  absl::Time after_time;
  std::string after_id;
  if (!request.page_token().empty()) {
    std::string decoded;
    std::vector<std::string> parts;
    int64_t after_us = 0;
    if (absl::WebSafeBase64Unescape(request.page_token(), &decoded)) parts = absl::StrSplit(decoded, '.');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_us) || IdFromName(NameOf(parts[1])).empty()) {
      violations.push_back({"page_token", "not a token from a previous ListSubjectRequests"});
    } else {
      after_time = absl::FromUnixMicros(after_us);
      after_id = parts[1];
    }
  }
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);
  const int page_size =
      request.page_size() == 0 ? kDefaultRequestsPerPage : std::min(request.page_size(), kMaxRequestsPerPage);
  REFX_ASSIGN_OR_RETURN(std::vector<storage::StoredSubjectRequest> rows,
                        options_.store->ListSubjectRequests(after_time, after_id, page_size + 1));
  v1::ListSubjectRequestsResponse out;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < page_size; ++i) {
    REFX_ASSIGN_OR_RETURN(*out.add_subject_requests(), Render(caller, rows[i]));
  }
  if (static_cast<int>(rows.size()) > page_size) out.set_next_page_token(PageToken(rows[page_size - 1]));
  audit->WriteBeforeAnswer(
      options_.auditor->Build(caller, kListMethod, AuditAction::kNone, {}, {}, absl::StatusCode::kOk));
  return out;
}

absl::StatusOr<v1::SubjectRequest> SubjectRequestRegister::RecordStep(
    const Caller& caller, const v1::RecordSubjectRequestStepRequest& request, CallAudit* audit) {
  const std::string id = IdFromName(request.name());
  if (id.empty()) return InvalidArgumentError("invalid request", {{"name", "must be subjectRequests/{32 hex digits}"}});
  REFX_ASSIGN_OR_RETURN(absl::optional<storage::StoredSubjectRequest> stored, options_.store->GetSubjectRequest(id));
  if (!stored.has_value()) return NotFound(request.name());
  if (!request.etag().empty() && request.etag() != absl::StrCat("v", stored->version)) return Stale(request.name());
  v1::SubjectRequest record;
  if (!record.ParseFromString(stored->document)) return absl::InternalError("a stored subject request is unreadable");
  const WorkingCalendar& calendar = caller.agreement->calendar();
  REFX_ASSIGN_OR_RETURN(SubjectRequestClock clock, RunSubjectRequestClock(record.steps(), calendar));
  const absl::Time now = options_.clock->Now();
  REFX_RETURN_IF_ERROR(CheckNextStep(clock, request.step(), absl::ToCivilDay(now, calendar.zone())));

  v1::SubjectRequestStep* step = record.add_steps();
  step->set_action(request.step().action());
  step->set_date(request.step().date());
  step->set_ground(request.step().ground());
  step->set_note(request.step().note());
  step->set_agency(AgencyName(caller.agency_id));
  *step->mutable_record_time() = Proto(now);
  storage::StoredSubjectRequest updated = *stored;
  updated.document = record.SerializeAsString();
  updated.version = stored->version + 1;
  updated.update_time = now;
  absl::Status written =
      options_.store->UpdateSubjectRequest(updated, stored->version,
                                           ChangeEvent(*options_.auditor, caller, kStepMethod, record.name(), *step));
  if (absl::IsAborted(written)) return Stale(request.name());
  if (absl::IsNotFound(written)) return NotFound(request.name());
  REFX_RETURN_IF_ERROR(written);
  audit->recorded = true;  // written with the step
  return Render(caller, updated);
}

absl::StatusOr<v1::EraseSubjectDataResponse> SubjectRequestRegister::EraseData(
    const Caller& caller, const v1::EraseSubjectDataRequest& request, CallAudit* audit) {
  std::vector<FieldViolation> violations;
  const std::string id = IdFromName(request.subject_request());
  if (id.empty()) violations.push_back({"subject_request", "must be subjectRequests/{32 hex digits}"});
  const std::string referral_id = ReferralIdFromName(request.referral());
  if (referral_id.empty()) violations.push_back({"referral", "must be referrals/{32 hex digits}"});
  DataClassSet classes;
  for (int i = 0; i < request.data_classes_size(); ++i) {
    const v1::DataClass c = request.data_classes(i);
    if (c == v1::DATA_CLASS_UNSPECIFIED || !v1::DataClass_IsValid(c)) {
      violations.push_back({absl::StrCat("data_classes[", i, "]"), "not a data class"});
    } else if (c == v1::DATA_CLASS_REFERRAL_CORE || c == v1::DATA_CLASS_OPERATIONAL) {
      violations.push_back({absl::StrCat("data_classes[", i, "]"),
                            "the routing record and operational data are not erased on request"});
    } else {
      classes.Add(c);
    }
  }
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);

  REFX_ASSIGN_OR_RETURN(absl::optional<storage::StoredSubjectRequest> stored, options_.store->GetSubjectRequest(id));
  if (!stored.has_value()) return NotFound(request.subject_request());
  REFX_ASSIGN_OR_RETURN(v1::SubjectRequest subject, Render(caller, *stored));
  if (subject.kind() != v1::SubjectRequest::ERASURE || subject.state() != v1::SubjectRequest::OPEN) {
    const std::string why = subject.kind() != v1::SubjectRequest::ERASURE
                                ? "it is not an erasure request"
                                : "its clock is not running (paused or closed)";
    return WithErrorInfo(FailedPreconditionError(absl::StrCat("subject request ", subject.name(),
                                                              " cannot be actioned by an erasure: ", why),
                                                 {{"STATE", subject.name(), why}}),
                         "SUBJECT_REQUEST_NOT_ERASABLE");
  }
  return options_.retention->EraseNow(
      caller, referral_id, classes, absl::StrCat("erasure request ", subject.name(), " (UK GDPR Art 17; DPA 2018 s47)"),
      subject.name(), audit);
}

absl::StatusOr<v1::SubjectRequest> SubjectRequestRegister::RecordRectification(
    const Caller& caller, const v1::RecordRectificationRequest& request, CallAudit* audit) {
  std::vector<FieldViolation> violations;
  const std::string id = IdFromName(request.subject_request());
  if (id.empty()) violations.push_back({"subject_request", "must be subjectRequests/{32 hex digits}"});
  // `referrals/{id}/updates/{update_id}`, both 32 hex digits.
  const size_t at = request.correction().find(kUpdatesSegment);
  const std::string referral_id = at == std::string::npos ? "" : ReferralIdFromName(request.correction().substr(0, at));
  const std::string update_id =
      at == std::string::npos ? "" : request.correction().substr(at + sizeof(kUpdatesSegment) - 1);
  if (referral_id.empty() || !IsHexId(update_id)) {
    violations.push_back({"correction", "must be referrals/{32 hex digits}/updates/{32 hex digits}"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);

  REFX_ASSIGN_OR_RETURN(absl::optional<storage::StoredSubjectRequest> stored, options_.store->GetSubjectRequest(id));
  if (!stored.has_value()) return NotFound(request.subject_request());
  if (!request.etag().empty() && request.etag() != absl::StrCat("v", stored->version)) {
    return Stale(request.subject_request());
  }
  REFX_ASSIGN_OR_RETURN(v1::SubjectRequest subject, Render(caller, *stored));
  if (subject.kind() != v1::SubjectRequest::RECTIFICATION || subject.state() != v1::SubjectRequest::OPEN) {
    const std::string why = subject.kind() != v1::SubjectRequest::RECTIFICATION
                                ? "it is not a rectification request"
                                : "its clock is not running (paused or closed)";
    return WithErrorInfo(FailedPreconditionError(absl::StrCat("subject request ", subject.name(),
                                                              " cannot be actioned by a correction: ", why),
                                                 {{"STATE", subject.name(), why}}),
                         "SUBJECT_REQUEST_NOT_RECTIFIABLE");
  }
  absl::StatusOr<storage::StoredCaseUpdate> update = options_.store->GetCaseUpdate(referral_id, update_id);
  if (absl::IsNotFound(update.status())) {
    return ResourceNotFoundError(absl::StrCat("case update ", request.correction(), " not found"), "refx.v1.CaseUpdate",
                                 request.correction(), "no such update of that referral", "CASE_UPDATE_NOT_FOUND");
  }
  REFX_RETURN_IF_ERROR(update.status());
  const absl::TimeZone zone = caller.agreement->calendar().zone();
  const absl::optional<absl::CivilDay> received = ParseDay(subject.received_date());
  if (!received.has_value()) return absl::InternalError("a stored subject request has no received date");
  const bool correction = update->kind == v1::CaseUpdate::CORRECTION;
  if (!correction || absl::ToCivilDay(update->create_time, zone) < *received) {
    const std::string why = !correction ? "the update is not a correction (refx update --kind correction)"
                                        : "the correction was made before the request was received";
    return WithErrorInfo(
        FailedPreconditionError(absl::StrCat(request.correction(), " does not action ", subject.name(), ": ", why),
                                {{"CORRECTION", request.correction(), why}}),
        "NOT_A_CORRECTION");
  }
  for (const v1::Rectification& recorded : subject.rectifications()) {
    if (recorded.correction() == request.correction()) return subject;  // recorded before: nothing changes
  }

  v1::SubjectRequest record;
  if (!record.ParseFromString(stored->document)) return absl::InternalError("a stored subject request is unreadable");
  const absl::Time now = options_.clock->Now();
  v1::Rectification* rectification = record.add_rectifications();
  rectification->set_correction(request.correction());
  rectification->set_referral(ReferralName(referral_id));
  rectification->set_controller(AgencyName(update->author_agency));
  *rectification->mutable_correct_time() = Proto(update->create_time);
  *rectification->mutable_record_time() = Proto(now);
  // A new version (and etag), not a step: update_time still dates the last step.
  storage::StoredSubjectRequest updated = *stored;
  updated.document = record.SerializeAsString();
  updated.version = stored->version + 1;
  // Names the request, the referral and the update: identifiers only.
  storage::AuditRecord event =
      options_.auditor->Build(caller, kRectifyMethod, AuditAction::kNone, {referral_id}, {}, absl::StatusCode::kOk);
  event.reason = absl::StrCat(record.name(), " rectified by ", request.correction());
  absl::Status written = options_.store->UpdateSubjectRequest(updated, stored->version, event);
  if (absl::IsAborted(written)) return Stale(record.name());
  if (absl::IsNotFound(written)) return NotFound(record.name());
  REFX_RETURN_IF_ERROR(written);
  audit->recorded = true;  // written with the change
  return Render(caller, updated);
}

absl::StatusOr<v1::SubjectAccessBundle> SubjectRequestRegister::ExportBundle(
    const Caller& caller, const v1::ExportSubjectAccessBundleRequest& request, CallAudit* audit) {
  std::vector<FieldViolation> violations;
  const std::string id = IdFromName(request.subject_request());
  if (!request.subject_request().empty() && id.empty()) {
    violations.push_back({"subject_request", "must be subjectRequests/{32 hex digits}"});
  }
  if (request.lift_restrictions() && request.subject_request().empty()) {
    violations.push_back({"lift_restrictions", "only with subject_request: it lifts the restrictions recorded there"});
  }
  if (request.lift_restrictions() && request.restrictions_size() > 0) {
    violations.push_back({"lift_restrictions", "give restrictions or lift them, not both"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid request", violations);
  if (request.subject_request().empty()) return options_.subject_access->Export(caller, request, audit);

  REFX_ASSIGN_OR_RETURN(absl::optional<storage::StoredSubjectRequest> stored, options_.store->GetSubjectRequest(id));
  if (!stored.has_value()) return NotFound(request.subject_request());
  v1::SubjectRequest record;
  if (!record.ParseFromString(stored->document)) return absl::InternalError("a stored subject request is unreadable");
  if (record.kind() != v1::SubjectRequest::ACCESS) {
    const std::string why = "it is not an access request";
    return WithErrorInfo(FailedPreconditionError(absl::StrCat("subject request ", record.name(),
                                                              " cannot be answered by a subject access bundle: ", why),
                                                 {{"KIND", record.name(), why}}),
                         "SUBJECT_REQUEST_NOT_ACCESS");
  }
  const bool record_anew = request.restrictions_size() > 0 || request.lift_restrictions();
  v1::ExportSubjectAccessBundleRequest effective = request;
  if (!record_anew) *effective.mutable_restrictions() = record.restrictions();
  // Made (and its restrictions checked) before anything is recorded.
  REFX_ASSIGN_OR_RETURN(v1::SubjectAccessBundle bundle, options_.subject_access->Export(caller, effective, audit));
  bundle.set_subject_request(record.name());
  if (!record_anew) return bundle;

  *record.mutable_restrictions() = request.restrictions();
  // A new version (and etag), not a step: update_time still dates the last step.
  storage::StoredSubjectRequest updated = *stored;
  updated.document = record.SerializeAsString();
  updated.version = stored->version + 1;
  // Names the request and how many restrictions it now carries; the
  // export's own event names each one.
  storage::AuditRecord event =
      options_.auditor->Build(caller, kExportMethod, AuditAction::kNone, {}, {}, absl::StatusCode::kOk);
  event.reason = request.lift_restrictions()
                     ? absl::StrCat(record.name(), " restrictions lifted")
                     : absl::StrCat(record.name(), " restrictions recorded: ", request.restrictions_size());
  absl::Status written = options_.store->UpdateSubjectRequest(updated, stored->version, event);
  if (absl::IsAborted(written)) return Stale(record.name());
  if (absl::IsNotFound(written)) return NotFound(record.name());
  REFX_RETURN_IF_ERROR(written);
  return bundle;
}

}  // namespace refx::core
