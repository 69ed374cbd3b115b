// The one shape of every unary RPC handler in refx-server, shared by all
// services: read the context on the reactor thread, then on the work pool
// identify and admit the caller (core's method gate), parse the request
// (naming a field that is not UTF-8), run the handler, write the call's
// audit event if the handler did not, and finish. Handlers stay a few lines.
#ifndef REFX_SERVER_UNARY_CALL_H_
#define REFX_SERVER_UNARY_CALL_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "auth/caller_identity.h"
#include "auth/credential_gate.h"
#include "common/status_details.h"
#include "core/refusal_log.h"
#include "server/agency_call_limiter.h"
#include "common/log.h"
#include "common/proto_parse.h"
#include "common/signing.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/field_behavior.h"
#include "core/method_permissions.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/server_context.h"
#include "server/server_metrics.h"
#include "server/status_mapping.h"
#include "server/work_pool.h"

namespace refx::core {
class WatchHub;
}  // namespace refx::core

namespace refx::server {

// What every service's handlers share; nothing here is owned.
struct ServiceContext {
  const core::PartnershipHolder* registry = nullptr;  // the registry in force
  const core::AgreementHolder* agreements = nullptr;
  core::ReferralManager* referrals = nullptr;
  core::Auditor* auditor = nullptr;
  WorkPool* pool = nullptr;
  core::WatchHub* watch_hub = nullptr;
  const VerifyingKey* audit_public_key = nullptr;  // verifies the audit chain's signed head
  const auth::CredentialGate* credentials = nullptr;  // expiry and revocation, per call
  core::RefusalLog* refusals = nullptr;               // calls refused before the service ran
  AgencyCallLimiter* limiter = nullptr;               // each agency's share of the server
  ServerMetrics* metrics = nullptr;                   // what the operations listener exposes
  int64_t max_request_bytes = 1 << 20;                // limits.max_receive_message_bytes
};

// REQUEST_TOO_LARGE for a request over limits.max_receive_message_bytes, or
// OK. (gRPC itself refuses, without details, what is over twice that.)
inline absl::Status CheckRequestSize(int64_t size, int64_t limit) {
  if (size <= limit) return absl::OkStatus();
  return QuotaExceededError(absl::StrCat("the request is ", size, " bytes; at most ", limit, " are accepted"),
                            "REQUEST_TOO_LARGE", "request",
                            absl::StrCat("at most ", limit, " bytes (limits.max_receive_message_bytes)"),
                            {{"limit", absl::StrCat(limit)}});
}

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

// A response core serialized itself (a list page of rendered referrals).
inline void ToByteBuffer(const std::string& serialized, grpc::ByteBuffer* out) {
  grpc::Slice slice(serialized);
  *out = grpc::ByteBuffer(&slice, 1);
}

inline std::string Metadata(const grpc::CallbackServerContext& ctx, const char* key) {
  auto it = ctx.client_metadata().find(key);
  if (it == ctx.client_metadata().end()) return "";
  // Bounded so a hostile header cannot bloat logs or records.
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 128));
}

// Who is calling, decided on the reactor thread from what the connection
// holds and the registry in force: the caller if its credential stands
// (registered, active, not expired, not revoked); otherwise the refusal and
// who the certificate claims to be, for the refusal's audit event.
struct GateVerdict {
  absl::StatusOr<core::Caller> caller;
  core::Caller claimed;
};

inline GateVerdict PassGate(const grpc::CallbackServerContext& ctx, const ServiceContext& service,
                            const auth::PeerCredential& peer, const std::string& call_id) {
  const std::shared_ptr<const core::Partnership> registry = service.registry->Current();
  GateVerdict verdict{auth::IdentifyCaller(peer, *registry, Metadata(ctx, kActingUserHeader)), {}};
  if (verdict.caller.ok()) {
    absl::Status standing = service.credentials->Check(*verdict.caller, peer.leaf_pem, peer.chain_pem);
    verdict.claimed = *verdict.caller;
    if (!standing.ok()) {
      log::Warning("call_refused_credential", {{"call_id", call_id},
                                               {"agency", verdict.claimed.agency_id},
                                               {"certificate_serial", verdict.claimed.certificate_serial},
                                               {"reason", ErrorReasonOf(standing)}});
      verdict.caller = standing;
    }
  } else {
    verdict.claimed = auth::ClaimedCaller(peer, *registry);
  }
  return verdict;
}

// A request as a handler may see it: output-only fields dropped (AIP-203)
// and every REQUIRED field set, both decided by the schema's
// google.api.field_behavior annotations (core/field_behavior.h).
inline absl::Status ApplyFieldBehavior(google::protobuf::Message* request) {
  core::ClearOutputOnly(request);
  return core::CheckRequiredFields(*request);
}

// The common shape of every unary method. On the reactor thread it names
// the call (a call id, sent back as metadata, in every error and on every
// log line about it), reads the context (certificate, metadata, request
// bytes), identifies the caller and checks its credential still stands,
// refuses a request over the size limit, and takes a place in its agency's
// share: calls refused there never reach the queue, and are recorded by the
// refusal log (aggregated per agency and minute). The closure on the work
// pool admits the caller (method gate), parses, applies the schema's field
// behaviour (ApplyFieldBehavior) and starts `handler(caller, request,
// &response, &audit, done)`, which calls `done(status)` once, then or later
// from another thread (a write, from its commit: the worker is free while
// it waits). From `done` the call's audit event is written when the
// handler did not write one (refusals, and calls that touch no stored
// data), and then the call is answered. If that event cannot be written,
// the call fails and returns no data.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* RunUnaryAsync(const char* full_method, grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response,
                                        const ServiceContext& service, Handler handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = absl::Now();
  const std::string call_id = StartCall(ctx);
  const std::string method = std::string(full_method).substr(std::string(full_method).rfind('.') + 1);
  const GateVerdict gate = PassGate(*ctx, service, auth::ReadPeerCredential(*ctx->auth_context()), call_id);
  // The agency's place, given back when the call is answered.
  const std::string share = gate.claimed.agency_id.empty() ? "-" : gate.claimed.agency_id;
  const bool identified_by_registry = gate.caller.ok();
  auto finish = [reactor, method, start, share, call_id, limiter = service.limiter, metrics = service.metrics,
                 identified_by_registry](const absl::Status& status, const std::string& agency) {
    const absl::Duration latency = absl::Now() - start;
    log::Event(status.ok() ? log::Level::kInfo : log::Level::kWarning, "rpc",
               {{"call_id", call_id},
                {"method", method},
                {"agency", agency.empty() ? "-" : agency},
                {"code", absl::StatusCodeToString(status.code())},
                {"reason", status.ok() ? std::string("-") : ErrorReasonSent(status)},
                {"latency_ms", absl::ToDoubleMilliseconds(latency)}});
    // An agency label only for a caller the registry identified (a bounded
    // set); a refused certificate may claim any name, so it is "-".
    if (metrics != nullptr) {
      metrics->ObserveRpc(method, status.code(), identified_by_registry && !agency.empty() ? agency : "-", latency);
    }
    limiter->Release(share);
    reactor->Finish(ToGrpcStatus(status, call_id));
  };
  auto refuse = [&](const absl::Status& status) {
    service.refusals->Record(gate.claimed, full_method, status.code(), ErrorReasonSent(status));
    finish(status, gate.claimed.agency_id);
    return reactor;
  };
  if (!service.limiter->TryAcquire(share)) {
    if (int64_t suppressed = 0; service.limiter->ShouldLogRefusal(share, &suppressed)) {
      log::Warning("call_refused_agency_limit", {{"call_id", call_id},
                                                 {"method", method},
                                                 {"agency", share},
                                                 {"not_logged_since_last", suppressed}});
    }
    service.refusals->Record(gate.claimed, full_method, absl::StatusCode::kResourceExhausted, "AGENCY_CALL_LIMIT");
    const absl::Status limited = QuotaExceededError(
        "this agency has as many calls in flight as it may; retry with backoff", "AGENCY_CALL_LIMIT",
        absl::StrCat("agencies/", share),
        "calls in flight per agency (limits.max_calls_per_agency, and while the server is busy a fair share "
        "of limits.busy_calls_in_flight)");
    if (service.metrics != nullptr) service.metrics->ObserveRpc(method, limited.code(), "-", absl::Now() - start);
    reactor->Finish(ToGrpcStatus(limited, call_id));
    return reactor;
  }
  if (!gate.caller.ok()) return refuse(gate.caller.status());
  const absl::Status size = CheckRequestSize(static_cast<int64_t>(raw_request->Length()), service.max_request_bytes);
  if (!size.ok()) return refuse(size);
  const core::Caller identified = *gate.caller;
  if (service.metrics != nullptr) {
    service.metrics->ObserveAgencyCertificate(identified.agency_id, identified.certificate_not_after);
  }
  const std::string purpose = Metadata(*ctx, kPurposeHeader);
  const bool queued = service.pool->TrySubmit([ctx, service, full_method = std::string(full_method), finish, handler,
                                               raw_response, purpose, identified, call_id,
                                               bytes = ByteBufferToString(*raw_request)]() mutable {
    // What the call needs until it is answered, which for a write is after
    // this worker has moved on (the store answers from its commit).
    struct CallState {
      core::CallAudit audit;
      absl::optional<core::Caller> caller;
      Request request;
      Response response;
    };
    auto state = std::make_shared<CallState>();
    state->audit.method = full_method;
    auto complete = [state, service, finish, raw_response, full_method, identified, call_id](absl::Status status) {
      if (status.ok()) ToByteBuffer(state->response, raw_response);
      // The call's event: the one the handler left to write before
      // answering, or, for a refusal or a call that stored nothing, one
      // built here. It is written without holding a thread: the store
      // completes it on its writer thread, and only then is the answer sent.
      const core::CallAudit& audit = state->audit;
      absl::optional<storage::AuditRecord> pending;
      if (audit.before_answer.has_value() && status.ok()) {
        pending = *audit.before_answer;
      } else if (!audit.recorded || audit.before_answer.has_value()) {
        const core::AuditAction action = core::DefaultActionFor(full_method);
        pending = service.auditor->Build(state->caller.has_value() ? *state->caller : identified, full_method, action,
                                         {}, {}, status.code());
      }
      const std::string agency = identified.agency_id;
      if (!pending.has_value()) {
        finish(status, agency);
        return;
      }
      service.auditor->RecordAsync(*pending, [finish, status, agency, raw_response, full_method, call_id,
                                              metrics = service.metrics](absl::Status audited) mutable {
        if (!audited.ok()) {
          if (metrics != nullptr) metrics->ObserveAuditFailure();
          log::Error("audit_write_failed", {{"call_id", call_id},
                                            {"method", full_method},
                                            {"code", absl::StatusCodeToString(status.code())}});
          if (status.ok()) {
            *raw_response = grpc::ByteBuffer();  // nothing leaves without its event
            status = audited;
          }
        }
        finish(status, agency);
      });
    };
    // The method gate, before the request is parsed.
    const absl::Status admitted = [&]() -> absl::Status {
      // A call whose client gave up (deadline, cancel) while it queued is not
      // run: under overload that work would only delay live calls.
      if (ctx->IsCancelled()) return absl::CancelledError("the client gave up before the call ran");
      auto caller = core::AdmitCall(identified, full_method, service.agreements->Current(), purpose);
      if (!caller.ok()) return caller.status();
      state->caller = *std::move(caller);
      REFX_RETURN_IF_ERROR(ParseMessageOrExplain(bytes, &state->request));
      return ApplyFieldBehavior(&state->request);
    }();
    if (!admitted.ok()) return complete(admitted);
    handler(*state->caller, state->request, &state->response, &state->audit, std::move(complete));
  }, share);  // served in turn with other agencies' calls (WorkPool)
  if (!queued) {
    // Shed at once, and recorded by the refusal log (aggregated: an event
    // per shed call would turn overload into disk load).
    return refuse(WithErrorInfo(absl::ResourceExhaustedError("server busy; retry with backoff"), "SERVER_OVERLOADED"));
  }
  return reactor;
}

// RunUnaryAsync for a handler that answers before it returns:
// `handler(caller, request, &response, &audit)` returns the call's status.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* RunUnary(const char* full_method, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response,
                                   const ServiceContext& service, Handler handler) {
  return RunUnaryAsync<Request, Response>(
      full_method, ctx, raw_request, raw_response, service,
      [handler](const core::Caller& caller, const Request& request, Response* response, core::CallAudit* audit,
                const std::function<void(absl::Status)>& done) { done(handler(caller, request, response, audit)); });
}

}  // namespace internal

using internal::RunUnary;
using internal::RunUnaryAsync;

}  // namespace refx::server

#endif  // REFX_SERVER_UNARY_CALL_H_
