// The one shape of every unary RPC handler in refx-server, shared by all
// services: read the context on the reactor thread, then on the work pool
// identify and admit the caller (core's method gate), parse the request
// (naming a field that is not UTF-8), run the handler, write the call's
// audit event if the handler did not, and finish. Handlers stay a few lines.
#ifndef REFX_SERVER_UNARY_CALL_H_
#define REFX_SERVER_UNARY_CALL_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "auth/caller_identity.h"
#include "common/log.h"
#include "common/proto_parse.h"
#include "common/signing.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/method_permissions.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/server_context.h"
#include "server/status_mapping.h"
#include "server/work_pool.h"

namespace refx::core {
class WatchHub;
}  // namespace refx::core

namespace refx::server {

// What every service's handlers share; nothing here is owned.
struct ServiceContext {
  std::shared_ptr<const core::Partnership> partnership;
  const core::AgreementHolder* agreements = nullptr;
  core::ReferralManager* referrals = nullptr;
  core::Auditor* auditor = nullptr;
  WorkPool* pool = nullptr;
  core::WatchHub* watch_hub = nullptr;
  const VerifyingKey* audit_public_key = nullptr;  // verifies the audit chain's signed head
};

namespace internal {

// Metadata naming the person acting for a back-office system. Recorded,
// never used to authorize.
inline constexpr char kActingUserHeader[] = "x-refx-acting-user";
// Metadata naming the purpose of the call under the agreement.
inline constexpr char kPurposeHeader[] = "x-refx-purpose";

inline std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

inline void ToByteBuffer(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  grpc::Slice slice(message.SerializeAsString());
  *out = grpc::ByteBuffer(&slice, 1);
}

inline std::string Metadata(const grpc::CallbackServerContext& ctx, const char* key) {
  auto it = ctx.client_metadata().find(key);
  if (it == ctx.client_metadata().end()) return "";
  // Bounded so a hostile header cannot bloat logs or records.
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 128));
}

// The common shape of every unary method. On the reactor thread it only
// reads the context (certificate, metadata, request bytes) and queues; the
// closure on the work pool identifies and admits the caller, parses, runs
// `handler`, and writes the call's audit event when the handler did not
// (refusals, and calls that touch no stored data) before answering. If that
// event cannot be written, the call fails and returns no data.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* RunUnary(const char* full_method, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response,
                                   const ServiceContext& service, Handler handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = absl::Now();
  const std::string method = std::string(full_method).substr(std::string(full_method).rfind('.') + 1);
  auto finish = [reactor, method, start](const absl::Status& status, const std::string& agency) {
    log::Event(status.ok() ? log::Level::kInfo : log::Level::kWarning, "rpc",
               {{"method", method},
                {"agency", agency.empty() ? "-" : agency},
                {"code", absl::StatusCodeToString(status.code())},
                {"latency_ms", absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start))}});
    reactor->Finish(ToGrpcStatus(status));
  };
  auto identified =
      auth::IdentifyCaller(*ctx->auth_context(), *service.partnership, Metadata(*ctx, kActingUserHeader));
  const std::string purpose = Metadata(*ctx, kPurposeHeader);
  const bool queued = service.pool->TrySubmit([ctx, service, full_method = std::string(full_method), finish, handler, raw_response, purpose,
                                               identified = std::move(identified),
                                               bytes = ByteBufferToString(*raw_request)]() mutable {
    core::CallAudit audit{full_method};
    absl::optional<core::Caller> caller;
    // Identity first, then the method gate, before the request is parsed.
    absl::Status status = [&]() -> absl::Status {
      // A call whose client gave up (deadline, cancel) while it queued is not
      // run: under overload that work would only delay live calls.
      if (ctx->IsCancelled()) return absl::CancelledError("the client gave up before the call ran");
      if (!identified.ok()) return identified.status();
      auto admitted = core::AdmitCall(*identified, full_method, service.agreements->Current(), purpose);
      if (!admitted.ok()) return admitted.status();
      caller = *std::move(admitted);
      Request request;
      REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, &request));
      Response response;
      REFX_RETURN_IF_ERROR(handler(*caller, request, &response, &audit));
      ToByteBuffer(response, raw_response);
      return absl::OkStatus();
    }();
    // The call's event: the one the handler left to write before answering,
    // or, for a refusal or a call that stored nothing, one built here. It is
    // written without holding this worker: the store completes it on its
    // writer thread, and only then is the answer sent.
    absl::optional<storage::AuditRecord> pending;
    if (audit.before_answer.has_value() && status.ok()) {
      pending = std::move(*audit.before_answer);
    } else if (!audit.recorded || audit.before_answer.has_value()) {
      const core::AuditAction action = core::DefaultActionFor(full_method);
      pending = caller.has_value()  ? service.auditor->Build(*caller, full_method, action, {}, {}, status.code())
                : identified.ok()   ? service.auditor->Build(*identified, full_method, action, {}, {}, status.code())
                                    : service.auditor->BuildUnidentified(full_method, status.code());
    }
    const std::string agency = identified.ok() ? identified->agency_id : "";
    if (!pending.has_value()) {
      finish(status, agency);
      return;
    }
    service.auditor->RecordAsync(*pending, [finish, status, agency, raw_response, full_method](absl::Status audited) mutable {
      if (!audited.ok()) {
        log::Error("audit_write_failed", {{"method", full_method}, {"code", absl::StatusCodeToString(status.code())}});
        if (status.ok()) {
          *raw_response = grpc::ByteBuffer();  // nothing leaves without its event
          status = audited;
        }
      }
      finish(status, agency);
    });
  });
  if (!queued) {
    // Shed at once: recorded in the operational log only (writing an audit
    // event per shed call would turn overload into disk load).
    finish(absl::ResourceExhaustedError("server busy; retry with backoff"), "");
  }
  return reactor;
}

}  // namespace internal

using internal::RunUnary;

}  // namespace refx::server

#endif  // REFX_SERVER_UNARY_CALL_H_
