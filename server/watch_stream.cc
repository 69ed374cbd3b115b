#include "server/watch_stream.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/caller_identity.h"
#include "common/status_details.h"
#include "common/log.h"
#include "common/proto_parse.h"
#include "core/method_permissions.h"
#include "grpc/grpc_security_constants.h"
#include "server/status_mapping.h"

namespace refx::server {
namespace {

// One shared copy of each distinct string in use (certificate PEMs).
std::shared_ptr<const std::string> Intern(std::string value) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* interned = new std::map<std::string, std::weak_ptr<const std::string>, std::less<>>();
  absl::MutexLock lock(&mu);
  auto it = interned->find(value);
  if (it != interned->end()) {
    if (auto live = it->second.lock()) return live;
  }
  if (interned->size() > 1024) {  // forget strings no stream holds any more
    for (auto i = interned->begin(); i != interned->end();) i = i->second.expired() ? interned->erase(i) : std::next(i);
  }
  auto shared = std::make_shared<const std::string>(value);
  (*interned)[std::move(value)] = shared;
  return shared;
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchStream::Start(grpc::CallbackServerContext* ctx,
                                                               const grpc::ByteBuffer* request,
                                                               const ServiceContext& service, const char* method,
                                                               Subscribe subscribe) {
  auto* stream = new WatchStream(ctx, method, std::move(subscribe));
  stream->metrics_ = service.metrics;
  stream->call_id_ = StartCall(ctx);
  // On the reactor thread only what the context holds, and the credential
  // gate (a refusal there never reaches the pool); the rest on the pool.
  const auth::PeerCredential peer = auth::ReadPeerCredential(*ctx->auth_context());
  internal::GateVerdict gate = internal::PassGate(*ctx, service, peer, stream->call_id_);
  stream->leaf_pem_ = Intern(peer.leaf_pem);
  stream->chain_pem_ = Intern(peer.chain_pem);
  const bool gate_refused = !gate.caller.ok();
  if (gate_refused) {
    service.refusals->Record(gate.claimed, stream->method_, gate.caller.status().code(),
                             ErrorReasonSent(gate.caller.status()));
  } else {
    stream->agency_ = gate.caller->agency_id;
    stream->identity_ = *gate.caller;
  }
  const std::string purpose = internal::Metadata(*ctx, internal::kPurposeHeader);
  {
    absl::MutexLock lock(&stream->mu_);
    stream->pins_ = 1;  // Open()'s
  }
  const bool queued = service.pool->TrySubmit(
      [stream, service, identified = std::move(gate.caller), gate_refused, purpose,
       bytes = internal::ByteBufferToString(*request)]() mutable {
        stream->Open(service, std::move(identified), gate_refused, purpose, bytes);  // drops the pin
      },
      gate.claimed.agency_id);
  if (!queued) {
    const absl::Status shed =
        WithErrorInfo(absl::ResourceExhaustedError("server busy; retry with backoff"), "SERVER_OVERLOADED");
    service.refusals->Record(gate.claimed, stream->method_, shed.code(), "SERVER_OVERLOADED");
    absl::MutexLock lock(&stream->mu_);
    stream->pins_ = 0;
    stream->opened_ = true;
    stream->FinishLocked(ToGrpcStatus(shed, stream->call_id_));
  }
  return stream;
}

void WatchStream::Open(const ServiceContext& service, absl::StatusOr<core::Caller> identified, bool gate_refused,
                       const std::string& purpose, const std::string& request_bytes) {
  absl::optional<core::Caller> admitted;
  absl::StatusOr<std::shared_ptr<core::WatchSubscription>> session =
      [&]() -> absl::StatusOr<std::shared_ptr<core::WatchSubscription>> {
    if (ctx_->IsCancelled()) return absl::CancelledError("the client gave up before the stream opened");
    if (!identified.ok()) return identified.status();
    auto admission = core::AdmitCall(*identified, method_, service.agreements->Current(), purpose);
    if (!admission.ok()) return admission.status();
    admitted = *std::move(admission);
    REFX_RETURN_IF_ERROR(CheckRequestSize(static_cast<int64_t>(request_bytes.size()), service.max_request_bytes));
    return subscribe_(*identified, *admitted, purpose, request_bytes, this);
  }();
  // One audit event for the opening (or the refusal; a refusal at the gate
  // was recorded by the refusal log); each batch sent later records its own
  // disclosure. Written without holding this worker, as a unary call's is:
  // the opening is decided from the event's commit (on the store's writer).
  if (gate_refused) {
    Opened(std::move(session), absl::OkStatus());
    return;
  }
  const storage::AuditRecord record = service.auditor->Build(admitted.has_value() ? *admitted : *identified, method_,
                                                             core::AuditAction::kNone, {}, {}, session.status().code());
  service.auditor->RecordAsync(record, [this, session = std::move(session)](absl::Status audited) mutable {
    Opened(std::move(session), audited);
  });
}

void WatchStream::Opened(absl::StatusOr<std::shared_ptr<core::WatchSubscription>> session,
                         const absl::Status& audited) {
  absl::Status outcome = session.status();
  if (outcome.ok() && !audited.ok()) {
    log::Error("audit_write_failed", {{"call_id", call_id_}, {"method", method_}});
    outcome = audited;
  }
  log::Event(outcome.ok() ? log::Level::kInfo : log::Level::kWarning, "watch_opened",
             {{"call_id", call_id_},
              {"method", method_},
              {"agency", agency_.empty() ? "-" : agency_},
              {"code", absl::StatusCodeToString(outcome.code())},
              {"reason", outcome.ok() ? std::string("-") : ErrorReasonSent(outcome)}});
  if (session.ok() && !outcome.ok()) {
    // Subscribed, but its opening could not be audited: out of the hub
    // before the stream is finished.
    (*session)->Detach();
  }
  std::shared_ptr<core::WatchSubscription> live;
  bool deliver_sent = false;
  bool cancelled = false;
  bool orphaned = false;
  {
    absl::MutexLock lock(&mu_);
    opened_ = true;
    if (outcome.ok()) {
      live = *session;
      if (done_) {
        orphaned = true;  // finished (closed by the hub) before this ran
      } else {
        session_ = live;
        deliver_sent = std::exchange(sent_pending_, false);
        cancelled = cancelled_;
      }
    } else if (!finish_.has_value()) {
      finish_ = ToGrpcStatus(outcome, call_id_);
      if (!writing_) FinishLocked(*finish_);
    }
  }
  if (live != nullptr) {
    if (orphaned) {
      live->Detach();
    } else if (cancelled) {
      live->Close(absl::CancelledError("the client went away"), /*abandon_pending=*/false);
    } else if (deliver_sent) {
      live->OnSent();
    }
  }
  Unpin();  // last: it may delete this stream
}

void WatchStream::Unpin() {
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    last = --pins_ == 0 && done_;
  }
  if (last) delete this;
}

namespace {

// A slice over shared message bytes, without copying them: the slice owns a
// reference, released when gRPC is done with it.
grpc::ByteBuffer SharedBuffer(const core::WatchMessageBytes& bytes) {
  auto* owner = new core::WatchMessageBytes(bytes);
  grpc::Slice slice(const_cast<char*>((*owner)->data()), (*owner)->size(),
                    [](void* p) { delete static_cast<core::WatchMessageBytes*>(p); }, owner);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

void WatchStream::Send(std::vector<core::WatchMessageBytes> messages) {
  absl::MutexLock lock(&mu_);
  if (finish_.has_value() || messages.empty()) return;
  // The sink contract: a batch comes only after the last one was written.
  queue_.clear();
  next_ = 0;
  queue_.reserve(messages.size());
  for (const auto& message : messages) queue_.push_back(SharedBuffer(message));
  writing_ = true;
  if (metrics_ != nullptr) metrics_->ObserveWatchMessages(messages.size());
  StartWrite(&queue_[next_]);
}

void WatchStream::Close(const absl::Status& status, bool abandon_pending) {
  absl::MutexLock lock(&mu_);
  if (finish_.has_value()) return;
  finish_ = ToGrpcStatus(status, call_id_);
  if (!writing_) {
    FinishLocked(*finish_);
  } else if (abandon_pending) {
    // The subscriber stopped reading: its write will not complete on its
    // own. Cancelling fails it (OnWriteDone(false)), which then finishes.
    ctx_->TryCancel();
  }
}

void WatchStream::OnWriteDone(bool ok) {
  std::shared_ptr<core::WatchSubscription> notify;
  bool close = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    ++next_;
    if (!ok) next_ = queue_.size();
    if (next_ < queue_.size()) {
      // The rest of an audited batch still goes out, even while closing.
      writing_ = true;
      StartWrite(&queue_[next_]);
      return;
    }
    // Release the batch's buffers now, not when the next batch comes.
    std::vector<grpc::ByteBuffer>().swap(queue_);
    next_ = 0;
    if (finish_.has_value()) {
      FinishLocked(*finish_);
      return;
    }
    if (!ok) {
      close = true;
      notify = session_;
    } else if (session_ != nullptr) {
      notify = session_;
    } else {
      sent_pending_ = true;  // SUBSCRIBED written before Open() kept the session
    }
  }
  if (notify == nullptr) return;
  if (close) {
    notify->Close(absl::CancelledError("the stream broke"), /*abandon_pending=*/false);
  } else {
    notify->OnSent();
  }
}

void WatchStream::OnCancel() {
  std::shared_ptr<core::WatchSubscription> session;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    session = session_;
    if (session == nullptr) {
      // Open() has not run yet or refused: it (or FinishLocked) finishes.
      if (opened_ && !finish_.has_value()) {
        finish_ = grpc::Status::CANCELLED;
        if (!writing_) FinishLocked(*finish_);
      }
      return;
    }
  }
  session->Close(absl::CancelledError("the client went away"), /*abandon_pending=*/true);
}

void WatchStream::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  if (metrics_ != nullptr) metrics_->ObserveWatchEnded(static_cast<absl::StatusCode>(status.error_code()));
  Finish(status);
}

void WatchStream::OnDone() {
  // Once done_ is set, a pinned task's Unpin() may delete the stream on its
  // own thread: nothing below may touch a member (ASan found the log line
  // reading call_id_ after that delete).
  const std::string call_id = call_id_;
  const char* const method = method_;
  const std::string agency = agency_.empty() ? "-" : agency_;
  std::shared_ptr<core::WatchSubscription> session;
  bool unpinned = false;
  {
    absl::MutexLock lock(&mu_);
    session = std::move(session_);
    done_ = true;
    unpinned = pins_ == 0;
  }
  if (session != nullptr) session->Detach();
  log::Info("watch_closed", {{"call_id", call_id}, {"method", method}, {"agency", agency}});
  if (unpinned) delete this;  // else the last Unpin() does
}

}  // namespace refx::server
