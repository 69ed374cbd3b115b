// The gRPC face of refx's server streams (WatchReferrals,
// WatchTensionAlerts): one server-streaming reactor per subscriber, adapting
// the stream to core::WatchSink. All the decisions (what to send, when, to
// whom, audited how) are core's (core/referral_watch.h, core/tension_watch.h);
// this file only identifies and admits the caller, moves bytes and keeps the
// callback API's rules: one write in flight, Finish exactly once and never
// before the start work has run, delete on OnDone.
#ifndef REFX_SERVER_WATCH_STREAM_H_
#define REFX_SERVER_WATCH_STREAM_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "core/caller.h"
#include "core/watch_sink.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/unary_call.h"

namespace refx::server {

class WatchStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public core::WatchSink {
 public:
  // Opens the subscription of an admitted caller: parses the request bytes
  // (INVALID_ARGUMENT naming the field) and subscribes `sink` to its hub.
  // Runs on the work pool (it may read the store).
  using Subscribe = std::function<absl::StatusOr<std::shared_ptr<core::WatchSubscription>>(
      const core::Caller& identified, const core::Caller& admitted, const std::string& purpose,
      const std::string& request_bytes, core::WatchSink* sink)>;

  // Starts a stream of `method` (its full name, for the method gate, the
  // audit log and the refusal log): identification and admission, then
  // `subscribe`, on the work pool.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           const ServiceContext& service, const char* method,
                                                           Subscribe subscribe);

  // The client's certificate and chain as presented (revocation sweeps).
  const std::string& leaf_pem() const { return *leaf_pem_; }
  const std::string& chain_pem() const { return *chain_pem_; }
  // Who opened the stream, as identified when it opened; null if it was
  // refused. Set before the stream can be in the hub, never changed.
  const core::Caller* identity() const { return identity_.has_value() ? &*identity_ : nullptr; }
  const std::string& call_id() const { return call_id_; }
  const char* method() const { return method_; }

  // core::WatchSink
  void Send(std::vector<core::WatchMessageBytes> messages) override;
  void Close(const absl::Status& status, bool abandon_pending) override;

  // grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  WatchStream(grpc::CallbackServerContext* ctx, const char* method, Subscribe subscribe)
      : ctx_(ctx), method_(method), subscribe_(std::move(subscribe)) {}
  // On the pool: admit, parse, subscribe, and write the opening's audit
  // event; Opened() runs once it is durable (or failed). Runs under a pin
  // (see pins_), which Opened() drops.
  void Open(const ServiceContext& service, absl::StatusOr<core::Caller> identified, bool gate_refused,
            const std::string& purpose, const std::string& request_bytes);
  // Keeps the session, or finishes the stream on a refusal or when the
  // opening could not be audited; then drops Open()'s pin.
  void Opened(absl::StatusOr<std::shared_ptr<core::WatchSubscription>> session, const absl::Status& audited);
  // Drops a pin; deletes the stream if gRPC is done with it and none is left.
  void Unpin();
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const ctx_;
  const char* const method_;
  const Subscribe subscribe_;
  ServerMetrics* metrics_ = nullptr;  // may be null (no metrics)
  // Shared by every stream presenting the same bytes (Intern): thousands of
  // streams of one agency hold one copy.
  std::shared_ptr<const std::string> leaf_pem_;
  std::shared_ptr<const std::string> chain_pem_;
  std::string agency_;  // for the operational log only
  std::string call_id_;  // set in Start, before any other thread sees the stream
  absl::optional<core::Caller> identity_;

  absl::Mutex mu_;
  // The batch being written (one batch at a time), and the next to write.
  std::vector<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool opened_ ABSL_GUARDED_BY(mu_) = false;     // Open() has finished
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;  // OnCancel came
  bool sent_pending_ ABSL_GUARDED_BY(mu_) = false;  // a batch was written before the session was known
  absl::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<core::WatchSubscription> session_ ABSL_GUARDED_BY(mu_);
  // The stream may be finished (and OnDone run) while Open() still uses it:
  // a close from the hub can come before Open() has kept its session. So
  // OnDone deletes it only when no Open() holds a pin, and the last unpin
  // after OnDone deletes it.
  int pins_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace refx::server

#endif  // REFX_SERVER_WATCH_STREAM_H_
