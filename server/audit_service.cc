#include "server/audit_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/types/optional.h"
#include "absl/strings/str_split.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "core/referral_validation.h"
#include "google/protobuf/util/time_util.h"

namespace refx::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultAuditPage = 100;
constexpr int kMaxAuditPage = 1000;

void ToProto(const storage::AuditRecord& r, v1::AuditEvent* out) {
  out->set_sequence(r.sequence);
  *out->mutable_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(r.time));
  out->set_action(r.action);
  out->set_method(r.method);
  out->set_agency(r.agency_id == "-" ? "-" : core::AgencyName(r.agency_id));
  out->set_certificate_serial(r.certificate_serial);
  out->set_acting_user_hmac(r.acting_user_hmac);
  out->set_purpose(r.purpose);
  for (absl::string_view id : absl::StrSplit(r.referral_ids, ',', absl::SkipEmpty())) {
    out->add_referrals(core::ReferralName(std::string(id)));
  }
  for (absl::string_view name : absl::StrSplit(r.data_classes, ',', absl::SkipEmpty())) {
    v1::DataClass c;
    if (v1::DataClass_Parse(std::string(name), &c)) out->add_data_classes(c);
  }
  out->set_outcome(r.outcome);
  out->set_agreement(r.agreement);
  out->set_previous_hash(HexEncode(r.previous_hash));
  out->set_hash(HexEncode(r.hash));
  for (absl::string_view name : absl::StrSplit(r.derived, ',', absl::SkipEmpty())) out->add_derived(std::string(name));
  out->set_reason(r.reason);
  out->set_count(r.count);
  out->set_release(r.release);
}

// A signed head as a checkpoint a DPO can keep.
v1::AuditCheckpoint ToCheckpoint(const storage::AuditHead& head, const VerifyingKey& key) {
  v1::AuditCheckpoint out;
  out.set_sequence(head.sequence);
  out.set_hash(HexEncode(head.hash));
  out.set_signature(absl::Base64Escape(head.signature));
  out.set_key_id(key.KeyId());
  out.set_public_key(key.PublicPem());
  *out.mutable_time() = TimeUtil::GetCurrentTime();
  return out;
}

// INVALID_ARGUMENT naming `checkpoint.*` when it is malformed.
absl::StatusOr<storage::AuditHead> FromCheckpoint(const v1::AuditCheckpoint& in) {
  storage::AuditHead head;
  head.sequence = in.sequence();
  std::vector<FieldViolation> violations;
  if (in.sequence() <= 0) violations.push_back({"checkpoint.sequence", "must be positive"});
  if (in.hash().size() != 64 || in.hash().find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    violations.push_back({"checkpoint.hash", "must be 64 hex digits"});
  } else {
    head.hash = absl::HexStringToBytes(in.hash());
  }
  if (!absl::Base64Unescape(in.signature(), &head.signature) || head.signature.size() != 64) {
    violations.push_back({"checkpoint.signature", "must be a base64 Ed25519 signature"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid checkpoint", violations);
  return head;
}

// The request as a store query; INVALID_ARGUMENT naming bad fields.
absl::StatusOr<storage::AuditQuery> ToQuery(const v1::ListAuditEventsRequest& req) {
  std::vector<FieldViolation> violations;
  storage::AuditQuery q;
  if (req.page_size() < 0) violations.push_back({"page_size", "must not be negative"});
  q.limit = req.page_size() == 0 ? kDefaultAuditPage : std::min(req.page_size(), kMaxAuditPage);
  if (!req.page_token().empty() && (!absl::SimpleAtoi(req.page_token(), &q.after_sequence) || q.after_sequence < 0)) {
    violations.push_back({"page_token", "not a token from a previous call"});
  }
  if (!req.agency().empty()) {
    q.agency_id = core::AgencyIdFromName(req.agency());
    if (q.agency_id.empty()) violations.push_back({"agency", "must be agencies/{agency_id}"});
  }
  if (!req.referral().empty()) {
    q.referral_id = core::ReferralIdFromName(req.referral());
    if (q.referral_id.empty()) violations.push_back({"referral", "must be referrals/{32 hex digits}"});
  }
  q.action = req.action();
  if (req.has_time_from()) {
    if (!core::IsValidTimestamp(req.time_from())) violations.push_back({"time_from", "not a valid timestamp"});
    else q.from = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(req.time_from()));
  }
  if (req.has_time_to()) {
    if (!core::IsValidTimestamp(req.time_to())) violations.push_back({"time_to", "not a valid timestamp"});
    else q.to = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(req.time_to()));
  }
  if (!violations.empty()) return InvalidArgumentError("invalid audit query", violations);
  return q;
}

}  // namespace

grpc::ServerUnaryReactor* AuditServiceImpl::ListAuditEvents(grpc::CallbackServerContext* ctx,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return RunUnary<v1::ListAuditEventsRequest, v1::ListAuditEventsResponse>(
      "refx.v1.AuditService.ListAuditEvents", ctx, request, response, context_,
      [this](const core::Caller&, const v1::ListAuditEventsRequest& req, v1::ListAuditEventsResponse* out,
             core::CallAudit*) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(storage::AuditQuery query, ToQuery(req));
        const int page_size = query.limit;
        query.limit = page_size + 1;
        REFX_ASSIGN_OR_RETURN(auto events, context_.auditor->ListEvents(query));
        const bool more = static_cast<int>(events.size()) > page_size;
        if (more) events.resize(page_size);
        for (const auto& e : events) ToProto(e, out->add_events());
        if (more) out->set_next_page_token(absl::StrCat(events.back().sequence));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyAuditChain(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnary<v1::VerifyAuditChainRequest, v1::VerifyAuditChainResponse>(
      "refx.v1.AuditService.VerifyAuditChain", ctx, request, response, context_,
      [this](const core::Caller&, const v1::VerifyAuditChainRequest& req, v1::VerifyAuditChainResponse* out,
             core::CallAudit*) -> absl::Status {
        absl::optional<storage::AuditHead> checkpoint;
        if (req.has_checkpoint()) {
          REFX_ASSIGN_OR_RETURN(checkpoint, FromCheckpoint(req.checkpoint()));
          if (req.checkpoint().key_id() != context_.audit_public_key->KeyId()) {
            out->set_intact(false);
            out->set_problem(
                "the checkpoint was signed by another key than this server's audit signing key (the key was "
                "replaced, or the checkpoint is another server's)");
            return absl::OkStatus();
          }
        }
        REFX_ASSIGN_OR_RETURN(storage::AuditChainReport report,
                              context_.auditor->Verify(checkpoint.has_value() ? &*checkpoint : nullptr));
        out->set_intact(report.intact);
        out->set_events_checked(report.events_checked);
        out->set_first_bad_sequence(report.first_bad_sequence);
        out->set_problem(report.problem);
        out->set_missing_events(report.missing_events);
        *out->mutable_head() = ToCheckpoint(report.head, *context_.audit_public_key);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::FindSubjectReferrals(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* request,
                                                                 grpc::ByteBuffer* response) {
  return RunUnary<v1::FindSubjectReferralsRequest, v1::FindSubjectReferralsResponse>(
      "refx.v1.AuditService.FindSubjectReferrals", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::FindSubjectReferralsRequest& req,
             v1::FindSubjectReferralsResponse* out, core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_access_->Find(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ExportSubjectAccessBundle(grpc::CallbackServerContext* ctx,
                                                                      const grpc::ByteBuffer* request,
                                                                      grpc::ByteBuffer* response) {
  return RunUnary<v1::ExportSubjectAccessBundleRequest, v1::SubjectAccessBundle>(
      "refx.v1.AuditService.ExportSubjectAccessBundle", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ExportSubjectAccessBundleRequest& req,
             v1::SubjectAccessBundle* out, core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->ExportBundle(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::PreviewRetention(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnary<v1::PreviewRetentionRequest, v1::PreviewRetentionResponse>(
      "refx.v1.AuditService.PreviewRetention", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::PreviewRetentionRequest& req, v1::PreviewRetentionResponse* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, retention_->PreviewFor(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::PlaceLegalHold(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return RunUnary<v1::PlaceLegalHoldRequest, v1::LegalHold>(
      "refx.v1.AuditService.PlaceLegalHold", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::PlaceLegalHoldRequest& req, v1::LegalHold* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, retention_->PlaceHold(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ReleaseLegalHold(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnary<v1::ReleaseLegalHoldRequest, v1::ReleaseLegalHoldResponse>(
      "refx.v1.AuditService.ReleaseLegalHold", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ReleaseLegalHoldRequest& req, v1::ReleaseLegalHoldResponse*,
             core::CallAudit* audit) { return retention_->ReleaseHold(caller, req, audit); });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListLegalHolds(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return RunUnary<v1::ListLegalHoldsRequest, v1::ListLegalHoldsResponse>(
      "refx.v1.AuditService.ListLegalHolds", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListLegalHoldsRequest&, v1::ListLegalHoldsResponse* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, retention_->ListHolds(caller, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::CreateSubjectRequest(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* request,
                                                                 grpc::ByteBuffer* response) {
  return RunUnary<v1::CreateSubjectRequestRequest, v1::SubjectRequest>(
      "refx.v1.AuditService.CreateSubjectRequest", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::CreateSubjectRequestRequest& req, v1::SubjectRequest* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->Open(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetSubjectRequest(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return RunUnary<v1::GetSubjectRequestRequest, v1::SubjectRequest>(
      "refx.v1.AuditService.GetSubjectRequest", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::GetSubjectRequestRequest& req, v1::SubjectRequest* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->Get(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListSubjectRequests(grpc::CallbackServerContext* ctx,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RunUnary<v1::ListSubjectRequestsRequest, v1::ListSubjectRequestsResponse>(
      "refx.v1.AuditService.ListSubjectRequests", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::ListSubjectRequestsRequest& req,
             v1::ListSubjectRequestsResponse* out, core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->List(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::RecordSubjectRequestStep(grpc::CallbackServerContext* ctx,
                                                                     const grpc::ByteBuffer* request,
                                                                     grpc::ByteBuffer* response) {
  return RunUnary<v1::RecordSubjectRequestStepRequest, v1::SubjectRequest>(
      "refx.v1.AuditService.RecordSubjectRequestStep", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::RecordSubjectRequestStepRequest& req, v1::SubjectRequest* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->RecordStep(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::EraseSubjectData(grpc::CallbackServerContext* ctx,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunUnary<v1::EraseSubjectDataRequest, v1::EraseSubjectDataResponse>(
      "refx.v1.AuditService.EraseSubjectData", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::EraseSubjectDataRequest& req, v1::EraseSubjectDataResponse* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->EraseData(caller, req, audit));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::RecordRectification(grpc::CallbackServerContext* ctx,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RunUnary<v1::RecordRectificationRequest, v1::SubjectRequest>(
      "refx.v1.AuditService.RecordRectification", ctx, request, response, context_,
      [this](const core::Caller& caller, const v1::RecordRectificationRequest& req, v1::SubjectRequest* out,
             core::CallAudit* audit) -> absl::Status {
        REFX_ASSIGN_OR_RETURN(*out, subject_requests_->RecordRectification(caller, req, audit));
        return absl::OkStatus();
      });
}

}  // namespace refx::server
