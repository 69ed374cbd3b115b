// A raw test client over a TestServer channel: every piece of call metadata
// (acting user, purpose) and the read_mask are under the test's control, and
// statuses come back as absl::Status with their rich details, through the
// same conversion the client library uses.
#ifndef REFX_TESTS_TESTING_RAW_API_H_
#define REFX_TESTS_TESTING_RAW_API_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/lib/referral_client.h"
#include "grpcpp/channel.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"

namespace refx::testing {

// Calls a unary method by its full name with hand-encoded request bytes
// (any service, any port): returns the status, and the raw response bytes
// in `response` if given.
inline grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                                 const std::string& request, std::string* response = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  if (response != nullptr && result.ok() && out.Dump(&slices).ok()) {
    for (const auto& s : slices) response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return result;
}

// A raw client over the fixture's TLS channel, so that a test controls every
// piece of metadata (acting user, purpose) and the read_mask, which the
// client library does not expose.
class Api {
 public:
  Api(std::shared_ptr<grpc::Channel> channel, std::string acting_user, std::string purpose = "")
      : referrals_(v1::ReferralService::NewStub(channel)),
        audit_(v1::AuditService::NewStub(channel)),
        acting_user_(std::move(acting_user)),
        purpose_(std::move(purpose)) {}

  Api WithPurpose(const std::string& purpose) const {
    Api copy = *this;
    copy.purpose_ = purpose;
    return copy;
  }

  absl::StatusOr<v1::Referral> Create(const v1::Referral& r, const std::string& request_id) const {
    v1::CreateReferralRequest req;
    *req.mutable_referral() = r;
    req.set_request_id(request_id);
    return Run<v1::Referral>([&](grpc::ClientContext* c, v1::Referral* out) {
      return referrals_->CreateReferral(c, req, out);
    });
  }
  absl::StatusOr<v1::Referral> Get(const std::string& name, const std::vector<std::string>& mask = {}) const {
    v1::GetReferralRequest req;
    req.set_name(name);
    for (const auto& p : mask) req.mutable_read_mask()->add_paths(p);
    return Run<v1::Referral>(
        [&](grpc::ClientContext* c, v1::Referral* out) { return referrals_->GetReferral(c, req, out); });
  }
  absl::StatusOr<v1::ListReferralsResponse> List(const v1::ListReferralsRequest& req) const {
    return Run<v1::ListReferralsResponse>([&](grpc::ClientContext* c, v1::ListReferralsResponse* out) {
      return referrals_->ListReferrals(c, req, out);
    });
  }
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI() const {
    return Run<v1::WhoAmIResponse>([&](grpc::ClientContext* c, v1::WhoAmIResponse* out) {
      return referrals_->WhoAmI(c, v1::WhoAmIRequest(), out);
    });
  }
  absl::StatusOr<v1::ListAuditEventsResponse> ListAudit(const v1::ListAuditEventsRequest& req) const {
    return Run<v1::ListAuditEventsResponse>([&](grpc::ClientContext* c, v1::ListAuditEventsResponse* out) {
      return audit_->ListAuditEvents(c, req, out);
    });
  }
  absl::StatusOr<v1::VerifyAuditChainResponse> Verify() const {
    return Run<v1::VerifyAuditChainResponse>([&](grpc::ClientContext* c, v1::VerifyAuditChainResponse* out) {
      return audit_->VerifyAuditChain(c, v1::VerifyAuditChainRequest(), out);
    });
  }

 private:
  template <typename Response, typename Fn>
  absl::StatusOr<Response> Run(Fn fn) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!acting_user_.empty()) context.AddMetadata("x-refx-acting-user", acting_user_);
    if (!purpose_.empty()) context.AddMetadata("x-refx-purpose", purpose_);
    Response out;
    grpc::Status status = fn(&context, &out);
    if (!status.ok()) return client::FromGrpcStatus(status);
    return out;
  }

  std::shared_ptr<v1::ReferralService::Stub> referrals_;
  std::shared_ptr<v1::AuditService::Stub> audit_;
  std::string acting_user_;
  std::string purpose_;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_RAW_API_H_
