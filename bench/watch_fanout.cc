#include "bench/watch_fanout.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"

namespace refx::bench {

void PublishLog::Sent(const std::string& name, int64_t sent_ns) {
  absl::MutexLock lock(&mu_);
  sent_[name] = sent_ns;
  if (first_ == 0 || sent_ns < first_) first_ = sent_ns;
}

std::optional<int64_t> PublishLog::Find(const std::string& name) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = sent_.find(name);
  if (it == sent_.end()) return std::nullopt;
  return it->second;
}

size_t PublishLog::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return sent_.size();
}

int64_t PublishLog::first_sent_ns() const {
  absl::ReaderMutexLock lock(&mu_);
  return first_;
}

// One stream. Its reads are serialized by gRPC (one StartRead at a time), so
// only Reset/Collect from the bench's thread contend for `mu_`. Owned by the
// pool and deleted only after OnDone has run (gRPC touches a client reactor
// no more once OnDone returns).
class Subscriber final : public grpc::ClientReadReactor<refx::v1::WatchReferralsResponse> {
 public:
  explicit Subscriber(SubscriberPool* pool) : pool_(pool) {}

  void Start(refx::v1::ReferralService::Stub* stub, const std::string& acting_user) {
    context_.AddMetadata("x-refx-acting-user", acting_user);
    request_.set_start_at_head(true);
    stub->async()->WatchReferrals(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    if (response_.kind() == refx::v1::WatchReferralsResponse::SUBSCRIBED) {
      subscribed_.store(true);
      pool_->OnSubscribed();
    } else if (response_.kind() == refx::v1::WatchReferralsResponse::REFERRAL_CREATED) {
      const int64_t now = absl::GetCurrentTimeNanos();
      pool_->OnCreatedEvent();
      const PublishLog* log = pool_->log_.load();
      if (log != nullptr) {
        const std::optional<int64_t> sent = log->Find(response_.referral().name());
        absl::MutexLock lock(&mu_);
        ++deliveries_;
        last_receive_ns_ = std::max(last_receive_ns_, now);
        if (sent.has_value()) {
          latencies_ns_.push_back(now - *sent);
        } else {
          pending_.emplace_back(response_.referral().name(), now);
        }
      }
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    std::string error;
    if (!status.ok()) {
      error = absl::StrCat("WatchReferrals ended: ", status.error_code(), " ", status.error_message());
    }
    // Last: the pool may delete this object once it has counted every end.
    pool_->OnEnded(error, !subscribed_.load());
  }

  void Reset() {
    absl::MutexLock lock(&mu_);
    latencies_ns_.clear();
    pending_.clear();
    deliveries_ = 0;
    last_receive_ns_ = 0;
  }

  void AddTo(FanoutStats& stats, const PublishLog& log) const {
    absl::MutexLock lock(&mu_);
    stats.latencies_ns.insert(stats.latencies_ns.end(), latencies_ns_.begin(), latencies_ns_.end());
    for (const auto& [name, received] : pending_) {
      const std::optional<int64_t> sent = log.Find(name);
      if (sent.has_value()) {
        stats.latencies_ns.push_back(received - *sent);
      } else {
        ++stats.unmatched;
      }
    }
    stats.deliveries += deliveries_;
    stats.last_receive_ns = std::max(stats.last_receive_ns, last_receive_ns_);
  }

 private:
  SubscriberPool* const pool_;
  grpc::ClientContext context_;
  refx::v1::WatchReferralsRequest request_;
  refx::v1::WatchReferralsResponse response_;
  std::atomic<bool> subscribed_{false};

  mutable absl::Mutex mu_;
  std::vector<int64_t> latencies_ns_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, int64_t>> pending_ ABSL_GUARDED_BY(mu_);
  int64_t deliveries_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_receive_ns_ ABSL_GUARDED_BY(mu_) = 0;
};

SubscriberPool::SubscriberPool(std::vector<std::shared_ptr<grpc::Channel>> channels, std::string acting_user)
    : channels_(std::move(channels)), acting_user_(std::move(acting_user)) {
  for (const auto& channel : channels_) stubs_.push_back(refx::v1::ReferralService::NewStub(channel));
}

SubscriberPool::~SubscriberPool() { CloseAll(absl::Seconds(30)); }

void SubscriberPool::OnSubscribed() {
  absl::MutexLock lock(&mu_);
  ++subscribed_;
}

void SubscriberPool::OnEnded(const std::string& error, bool before_subscribed) {
  absl::MutexLock lock(&mu_);
  ++ended_;
  if (before_subscribed) ++ended_before_subscribed_;
  if (!error.empty() && !closing_ && first_error_.empty()) first_error_ = error;
}

absl::Status SubscriberPool::Open(int count, int max_opening, absl::Duration timeout,
                                  const std::atomic<bool>* cancel) {
  const absl::Time give_up = absl::Now() + timeout;
  const auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };
  for (int i = 0; i < count && !cancelled(); ++i) {
    {
      absl::MutexLock lock(&mu_);
      // Streams still opening: started, neither SUBSCRIBED nor ended.
      auto can_start = [this, max_opening]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return started_ - subscribed_ - ended_before_subscribed_ < max_opening || !first_error_.empty() ||
               ended_ > 0;
      };
      mu_.AwaitWithDeadline(absl::Condition(&can_start), give_up);
      if (!first_error_.empty()) return absl::UnavailableError(first_error_);
      if (ended_ > 0) return absl::UnavailableError("a watch stream ended while opening");
      if (absl::Now() >= give_up) {
        return absl::DeadlineExceededError(absl::StrCat("only ", subscribed_, " of ", started_,
                                                        " watch streams subscribed in time"));
      }
      ++started_;
    }
    subscribers_.push_back(std::make_unique<Subscriber>(this));
    subscribers_.back()->Start(stubs_[subscribers_.size() % stubs_.size()].get(), acting_user_);
  }
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return subscribed_ + ended_ >= started_; };
  mu_.AwaitWithDeadline(absl::Condition(&settled), give_up);
  if (!first_error_.empty()) return absl::UnavailableError(first_error_);
  if (cancelled()) return absl::CancelledError("interrupted");
  if (subscribed_ < started_ || ended_ > 0) {
    return absl::DeadlineExceededError(
        absl::StrCat(subscribed_, " of ", started_, " watch streams subscribed, ", ended_, " ended"));
  }
  return absl::OkStatus();
}

int SubscriberPool::live() const {
  absl::MutexLock lock(&mu_);
  return subscribed_ - (ended_ - ended_before_subscribed_);
}

void SubscriberPool::StartRecording(const PublishLog* log) {
  log_.store(nullptr);
  for (const auto& s : subscribers_) s->Reset();
  created_events_.store(0);
  log_.store(log);
}

bool SubscriberPool::WaitForEvents(int64_t expected, absl::Duration timeout,
                                   const std::atomic<bool>* cancel) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (created_events_.load() >= expected) return true;
    if (cancel != nullptr && cancel->load()) return false;
    {
      absl::MutexLock lock(&mu_);
      if (ended_ >= started_) return false;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return created_events_.load() >= expected;
}

FanoutStats SubscriberPool::Collect() const {
  FanoutStats stats;
  const PublishLog* log = log_.load();
  if (log == nullptr) return stats;
  for (const auto& s : subscribers_) s->AddTo(stats, *log);
  return stats;
}

void SubscriberPool::CloseAll(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  // Without the lock: a cancel may run OnDone on this thread.
  for (const auto& s : subscribers_) s->Cancel();
  std::vector<std::unique_ptr<Subscriber>> done;
  {
    absl::MutexLock lock(&mu_);
    auto all_ended = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ended_ >= started_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&all_ended), timeout)) {
      // Every OnDone has counted itself; none touches its reactor after that.
      done = std::move(subscribers_);
      subscribers_.clear();
      started_ = subscribed_ = ended_ = ended_before_subscribed_ = 0;
    } else {
      // Leaked rather than freed under gRPC's feet.
      for (auto& s : subscribers_) s.release();
      subscribers_.clear();
    }
    closing_ = false;
  }
  done.clear();  // outside the lock
}

std::string SubscriberPool::first_error() const {
  absl::MutexLock lock(&mu_);
  return first_error_;
}

}  // namespace refx::bench
