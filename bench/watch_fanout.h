// WatchReferrals fan-out for refx-bench: many subscribers held open at once
// on gRPC's callback client API (one ClientReadReactor per stream, no thread
// per stream), spread over a set of channels, each its own connection.
//
// A run of the fan-out figures goes:
//   SubscriberPool pool(channels, acting_user);
//   pool.Open(1000, ...);                 // streams SUBSCRIBED, idle
//   ... read the server's RSS ...
//   PublishLog log;  pool.StartRecording(&log);
//   ... publish: log.Sent(name, t) for each referral created ...
//   pool.WaitForDeliveries(expected, ...);
//   FanoutStats stats = pool.Collect();
//
// Publish-to-receive latency joins each REFERRAL_CREATED event to the time
// its CreateReferral was sent, by referral name. The name is known only when
// the create returns, and an event can arrive first, so a delivery whose
// name is not yet in the log is kept with its receive time and joined in
// Collect().
#ifndef REFX_BENCH_WATCH_FANOUT_H_
#define REFX_BENCH_WATCH_FANOUT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "refx/v1/referral_service.grpc.pb.h"

namespace refx::bench {

// Referral name -> when its CreateReferral was sent (absl::GetCurrentTimeNanos).
class PublishLog {
 public:
  void Sent(const std::string& name, int64_t sent_ns);
  std::optional<int64_t> Find(const std::string& name) const;
  size_t size() const;
  // The earliest send time recorded (0 if none).
  int64_t first_sent_ns() const;

 private:
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, int64_t> sent_ ABSL_GUARDED_BY(mu_);
  int64_t first_ ABSL_GUARDED_BY(mu_) = 0;
};

struct FanoutStats {
  std::vector<int64_t> latencies_ns;  // publish-to-receive, one per delivery joined to the log
  int64_t deliveries = 0;             // REFERRAL_CREATED messages received while recording
  int64_t unmatched = 0;              // deliveries whose name is not in the log
  int64_t last_receive_ns = 0;        // the last delivery's receive time
};

class Subscriber;

// Owns its subscribers; destroying it cancels every stream and waits (at
// most 30 s) for each to end. Channels must outlive the pool.
class SubscriberPool {
 public:
  SubscriberPool(std::vector<std::shared_ptr<grpc::Channel>> channels, std::string acting_user);
  ~SubscriberPool();
  SubscriberPool(const SubscriberPool&) = delete;
  SubscriberPool& operator=(const SubscriberPool&) = delete;

  // Opens `count` more streams (start_at_head, round robin over the
  // channels) with at most `max_opening` not yet SUBSCRIBED at once (each
  // opening is a work-pool task with a durable audit event on the server, so
  // opening all at once would overflow its queue). Returns when all are
  // SUBSCRIBED; the first failure's status if any stream ended, or
  // DEADLINE_EXCEEDED after `timeout`.
  absl::Status Open(int count, int max_opening, absl::Duration timeout, const std::atomic<bool>* cancel);

  // Streams SUBSCRIBED and not ended.
  int live() const;
  // REFERRAL_CREATED messages received by all subscribers so far.
  int64_t created_events() const { return created_events_.load(); }

  // From now on, deliveries are recorded against `log` (not owned; it must
  // outlive Collect). Clears what was recorded before.
  void StartRecording(const PublishLog* log);
  // Waits until `created_events()` reaches `expected`, every stream ends,
  // `timeout` passes or `cancel` is set; true if `expected` was reached.
  bool WaitForEvents(int64_t expected, absl::Duration timeout, const std::atomic<bool>* cancel) const;
  // What was recorded since StartRecording, joined to the log.
  FanoutStats Collect() const;

  // Cancels every stream and waits (at most `timeout`) for each to end.
  void CloseAll(absl::Duration timeout);

  // The first stream that ended with an error other than CANCELLED after
  // CloseAll ("" if none).
  std::string first_error() const;

 private:
  friend class Subscriber;
  void OnSubscribed();
  void OnEnded(const std::string& error, bool before_subscribed);
  void OnCreatedEvent() { created_events_.fetch_add(1, std::memory_order_relaxed); }

  const std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<refx::v1::ReferralService::Stub>> stubs_;
  const std::string acting_user_;
  // Appended by Open() only; read by CloseAll/Collect on the same thread.
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::atomic<const PublishLog*> log_{nullptr};
  std::atomic<int64_t> created_events_{0};

  mutable absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int subscribed_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_before_subscribed_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace refx::bench

#endif  // REFX_BENCH_WATCH_FANOUT_H_
