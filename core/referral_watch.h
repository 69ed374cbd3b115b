// Live subscriptions to what happens to referrals (WatchReferrals), without
// gRPC: the server adapts a stream to WatchSink and drives the hub.
//
// The event log in the store is the truth. Every change writes its event in
// its own transaction, numbered in commit order, and the store announces
// committed events in that order. The hub keeps the newest events in memory
// (a ring), so live subscribers never touch the database; it wakes only the
// subscribers whose agency an event concerns; a subscriber resuming from
// further back than the ring holds reads the database instead. Resuming is
// therefore exact: everything after the given sequence, once, in order.
//
// Each session pulls events after its cursor, renders them for its caller as
// a read would be (the agreement in force now, re-checked per batch: method
// gate, record gate, field gate), records one audit event for the batch and
// sends only after it is durable (sessions that send alike batches at once
// share one event: see AuditCoalescer). At most one batch per session is in
// flight, so a slow subscriber holds a bounded amount of memory and never
// delays others; one that has not accepted its batch within `stall_timeout`
// is closed with a status that says where to resume.
#ifndef REFX_CORE_REFERRAL_WATCH_H_
#define REFX_CORE_REFERRAL_WATCH_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "core/agreement.h"
#include "core/audit_coalescer.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/referral_manager.h"
#include "core/watch_sink.h"
#include "refx/v1/referral_service.pb.h"
#include "storage/referral_store.h"

namespace refx::core {

inline constexpr char kWatchMethod[] = "refx.v1.ReferralService.WatchReferrals";

struct WatchParams {
  int64_t after_sequence = 0;
  bool start_at_head = false;
  std::vector<std::string> read_mask;
  std::string purpose;  // as the caller asked (x-refx-purpose), re-resolved per batch
};

class WatchHub;

class WatchSession final : public WatchSubscription, public std::enable_shared_from_this<WatchSession> {
 public:
  // WatchSubscription
  void OnSent() override;
  void Close(const absl::Status& status, bool abandon_pending) override;
  void Detach() override;
  // Ends the session with UNAVAILABLE / WATCH_RESUME naming the last sequence
  // delivered, so the subscriber reconnects from there.
  void CloseResumable(absl::string_view why, bool abandon_pending = false);

  const Caller& identity() const { return identity_; }
  // The sequence of the last message the sink accepted.
  int64_t delivered_sequence() const;

  // The stream this session writes to, until it goes away (Detach).
  SinkSlot sink;

  // Use WatchHub::Subscribe.
  WatchSession(WatchHub* hub, Caller identity, WatchParams params, WatchSink* sink, int64_t cursor);

 private:
  friend class WatchHub;
  void Wake();
  void Pump();
  void SendToSink(std::vector<WatchMessageBytes> messages, int64_t last_sequence);
  void ScheduleOrRetry();
  // Closes the session if its batch has been in flight longer than `limit`;
  // reschedules a wake the scheduler refused.
  void Tick(absl::Time now, absl::Duration limit);

  WatchHub* const hub_;
  const Caller identity_;
  const WatchParams params_;

  mutable absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_);     // events up to here were fetched
  int64_t delivered_ ABSL_GUARDED_BY(mu_);  // messages up to here were written
  int64_t sending_through_ ABSL_GUARDED_BY(mu_) = 0;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool retry_ ABSL_GUARDED_BY(mu_) = false;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time in_flight_since_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class WatchHub {
 public:
  struct Options {
    storage::ReferralStore* store = nullptr;     // not owned
    const ReferralManager* manager = nullptr;    // not owned
    Auditor* auditor = nullptr;                  // not owned
    const AgreementHolder* agreements = nullptr;  // not owned
    // Runs `task` soon on another thread; false if it cannot now (the next
    // Tick retries). The server passes its work pool.
    std::function<bool(std::function<void()>)> schedule;
    size_t ring_capacity = 4096;  // newest events kept in memory
    int batch_limit = 64;         // events per batch (and per audit event)
    absl::Duration stall_timeout = absl::Seconds(30);
    size_t max_subscribers = 20000;
    size_t max_subscribers_per_agency = 2000;  // so one agency cannot take every slot
    // A replay may start at most this many events before the newest; one
    // from further back is RESOURCE_EXHAUSTED (WATCH_REPLAY_TOO_LONG): list
    // instead, then watch from the head. 0: no limit.
    int64_t max_replay_events = 0;
    // Checked before every batch is sent: the subscriber's credential must
    // still stand (registry, expiry, revocation); otherwise the stream ends
    // with its status and the batch is not sent (UNAVAILABLE ends it
    // resumably: the caller may reconnect, e.g. its role changed). Optional.
    std::function<absl::Status(const Caller& identity, WatchSink* sink)> check_credentials;
    const Clock* clock = nullptr;  // default: system clock
  };
  // Becomes the store's event listener.
  static absl::StatusOr<std::unique_ptr<WatchHub>> Create(Options options);
  // Stops listening (if StopListening has not). Every session must be
  // closed and detached first.
  ~WatchHub();
  // Stops being the store's listener and hands batch audit events still
  // pending to the store (before the store goes away).
  void StopListening();

  // Opens a subscription for an admitted caller (`identity` is the caller
  // before admission, re-admitted per batch). Validates `params`
  // (INVALID_ARGUMENT with field violations; FIELD_NOT_SHARED for the mask),
  // then sends SUBSCRIBED through `sink`. RESOURCE_EXHAUSTED at
  // max_subscribers; UNAVAILABLE once CloseAll has run. Reads the store:
  // call it from a worker thread.
  absl::StatusOr<std::shared_ptr<WatchSession>> Subscribe(const Caller& identity, const Caller& admitted,
                                                          WatchParams params, WatchSink* sink);

  // Closes stalled sessions and retries refused wakes; call about once a second.
  void Tick();
  // Closes every session resumably and refuses new ones (server shutdown).
  void CloseAll(absl::string_view why);
  // Closes each session for which `check(sink)` is not OK, with that status
  // (resumably for UNAVAILABLE) (credential sweeps). `check` runs with the
  // sink alive.
  void CloseWhere(const std::function<absl::Status(WatchSink*)>& check);

  size_t subscriber_count() const;
  int64_t head() const;

 private:
  friend class WatchSession;
  explicit WatchHub(Options options) : options_(std::move(options)) {}
  // The store's listener: committed events, in sequence order.
  void Publish(const std::vector<storage::ReferralEvent>& events);
  struct Fetched {
    std::vector<std::shared_ptr<const storage::ReferralEvent>> events;  // addressed to the agency
    int64_t scanned_through = 0;  // every event up to here was considered
    bool more = false;            // stopped at the limit
  };
  absl::StatusOr<Fetched> Fetch(const std::string& agency, int64_t after, int limit);
  // The referral's document as its latest change left it: from the ring
  // when its latest event is there (every change writes one), else from
  // the store: NOT_FOUND once retention has deleted it.
  absl::StatusOr<std::shared_ptr<const std::string>> CurrentDocument(const std::string& referral_id);
  // An event as rendered for one view of it: what a subscriber of this
  // role, purpose, agreement and read mask may see. Rendered (and
  // serialized) once per view while the event is in the ring: thousands of
  // subscribers of one agency cost one render, not thousands.
  struct View {
    WatchMessageBytes bytes;
    std::string referral_id;
    std::string sender_agency;  // agencies/{id}
    Disclosure disclosed;
  };
  // nullptr when the caller may not see the event (record gate).
  absl::StatusOr<std::shared_ptr<const View>> Render(const Caller& admitted, const storage::ReferralEvent& event,
                                                     const std::string& current_document,
                                                     const std::vector<std::string>& read_mask,
                                                     const std::string& view_key);
  // Whether `agency_id` redirected the event's referral away before or in
  // it (so reads less of it than others of its role): the event's document
  // is parsed once, whatever the number of subscribers.
  absl::StatusOr<bool> RedirectedAwayBy(const storage::ReferralEvent& event, const std::string& agency_id);
  void Remove(const std::shared_ptr<WatchSession>& session);
  std::vector<std::shared_ptr<WatchSession>> AllSessions() const;

  Options options_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const storage::ReferralEvent>> ring_ ABSL_GUARDED_BY(mu_);
  // The newest ring event of each referral in the ring.
  std::map<std::string, std::shared_ptr<const storage::ReferralEvent>> latest_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool listening_ = false;
  // Batch disclosures alike across the agency's streams, as one event each.
  std::unique_ptr<AuditCoalescer> audit_;
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::set<std::shared_ptr<WatchSession>>> by_agency_ ABSL_GUARDED_BY(mu_);
  // Rendered views by (event sequence, view key); entries leave with their
  // event's place in the ring.
  absl::Mutex views_mu_;
  std::map<std::pair<int64_t, std::string>, std::shared_ptr<const View>> views_ ABSL_GUARDED_BY(views_mu_);
  // The agencies (names) that had redirected each ring event's referral away.
  std::map<int64_t, std::shared_ptr<const std::vector<std::string>>> redirected_ ABSL_GUARDED_BY(views_mu_);
};

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_WATCH_H_
