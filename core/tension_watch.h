// Community-tension alerts pushed as weeks end (WatchTensionAlerts), without
// gRPC: the server adapts a stream to WatchSink and ticks the hub.
//
// Alerts are not stored: a week's alerts are computed once the week has
// ended (core/tension_alerts.h), and an ended week's alerts never change,
// because referrals are dated by the server when they are created. So a
// subscription is only a cursor, the next week to test: each session
// catches up from the week its subscriber asked for, a batch of weeks at a
// time, then waits for the next week to end; the hub's Tick notices that a
// week has ended on the partnership's calendar and wakes every session.
//
// Before each batch the session re-checks its subscriber as a call would be
// checked (the certificate still stands, the role under the agreement in
// force may still list alerts), records one audit event naming the weeks
// and the number of alerts, and sends only once that event is durable. At
// most one batch per session is in flight; a subscriber that has not
// accepted its batch within `stall_timeout` is closed with a status that
// names the week to resume from.
#ifndef REFX_CORE_TENSION_WATCH_H_
#define REFX_CORE_TENSION_WATCH_H_

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/caller.h"
#include "core/reporting/iso_week.h"
#include "core/tension_alerts.h"
#include "core/watch_sink.h"

namespace refx::core {

inline constexpr char kTensionWatchMethod[] = "refx.v1.ReportingService.WatchTensionAlerts";

class TensionWatchHub;

class TensionWatchSession final : public WatchSubscription, public std::enable_shared_from_this<TensionWatchSession> {
 public:
  // WatchSubscription
  void OnSent() override;
  void Close(const absl::Status& status, bool abandon_pending) override;
  void Detach() override;

  // Ends the session with UNAVAILABLE / WATCH_RESUME naming the next week
  // to test (after the batch in flight, unless it is abandoned), so the
  // subscriber reconnects from there.
  void CloseResumable(absl::string_view why, bool abandon_pending);

  // The stream this session writes to, until it goes away (Detach).
  SinkSlot sink;

  // Use TensionWatchHub::Subscribe.
  TensionWatchSession(TensionWatchHub* hub, Caller identity, std::string purpose, reporting::IsoWeek next,
                      WatchSink* sink);

 private:
  friend class TensionWatchHub;
  // Runs Pump on the hub's scheduler, or marks a retry for the next Tick.
  void Wake();
  // Sends the alerts of the next ended weeks, if any week has ended.
  void Pump();
  void Tick(absl::Time now, absl::Duration stall_timeout);

  TensionWatchHub* const hub_;
  const Caller identity_;
  const std::string purpose_;

  mutable absl::Mutex mu_;
  reporting::IsoWeek next_ ABSL_GUARDED_BY(mu_);     // the first week not yet delivered
  reporting::IsoWeek sending_ ABSL_GUARDED_BY(mu_);  // next_ once the batch in flight is written
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;      // a Pump is queued or running
  bool again_ ABSL_GUARDED_BY(mu_) = false;          // woken while it ran: run once more
  bool retry_ ABSL_GUARDED_BY(mu_) = false;          // the scheduler refused: Tick retries
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time in_flight_since_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class TensionWatchHub {
 public:
  struct Options {
    TensionAlerts* alerts = nullptr;              // not owned
    Auditor* auditor = nullptr;                   // not owned
    const AgreementHolder* agreements = nullptr;  // not owned
    // Runs `task` soon on another thread; false if it cannot now (the next
    // Tick retries).
    std::function<bool(std::function<void()>)> schedule;
    // Checked before every batch: the subscriber's credential must still
    // stand (as WatchHub::Options::check_credentials). Optional.
    std::function<absl::Status(const Caller& identity, WatchSink* sink)> check_credentials;
    int weeks_per_batch = 13;  // weeks tested per batch (and per audit event) while catching up
    absl::Duration stall_timeout = absl::Seconds(30);
    size_t max_subscribers = 200;
    const Clock* clock = nullptr;  // the partnership's time; default: system clock
  };
  // INVALID_ARGUMENT without alerts, an auditor, agreements or a scheduler.
  static absl::StatusOr<std::unique_ptr<TensionWatchHub>> Create(Options options);

  // Opens a subscription for an admitted caller (`identity`: before
  // admission, re-admitted per batch) from `first_week` (empty: the week in
  // progress). INVALID_ARGUMENT for a malformed week, one after the week in
  // progress or more than 104 weeks before it; RESOURCE_EXHAUSTED at
  // max_subscribers; UNAVAILABLE once CloseAll has run. Sends SUBSCRIBED
  // through `sink`.
  absl::StatusOr<std::shared_ptr<TensionWatchSession>> Subscribe(const Caller& identity, const Caller& admitted,
                                                                 const std::string& first_week,
                                                                 const std::string& purpose, WatchSink* sink);

  // Wakes every session once a week has ended since the last Tick, retries
  // refused wakes and closes stalled sessions; call about once a second.
  void Tick();
  // Closes every session resumably and refuses new ones (server shutdown).
  void CloseAll(absl::string_view why);
  // Closes each session for which `check(sink)` is not OK, with that status
  // (resumably for UNAVAILABLE).
  void CloseWhere(const std::function<absl::Status(WatchSink*)>& check);

  size_t subscriber_count() const;

 private:
  friend class TensionWatchSession;
  explicit TensionWatchHub(Options options) : options_(std::move(options)) {}
  // The last ended week and the zone, on the agreement in force.
  reporting::IsoWeek LastEndedWeek(absl::TimeZone zone) const;
  void Remove(const std::shared_ptr<TensionWatchSession>& session);
  std::set<std::shared_ptr<TensionWatchSession>> AllSessions() const;

  Options options_;
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<TensionWatchSession>> sessions_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_ended_ ABSL_GUARDED_BY(mu_);  // the last ended week the last Tick saw
};

}  // namespace refx::core

#endif  // REFX_CORE_TENSION_WATCH_H_
