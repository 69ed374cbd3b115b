#include "core/referral_watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/method_permissions.h"
#include "core/render_cache.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {

// ---------------------------------------------------------------- session

WatchSession::WatchSession(WatchHub* hub, Caller identity, WatchParams params, WatchSink* sink, int64_t cursor)
    : sink(sink),
      hub_(hub),
      identity_(std::move(identity)),
      params_(std::move(params)),
      cursor_(cursor),
      delivered_(cursor) {}

int64_t WatchSession::delivered_sequence() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

void WatchSession::Wake() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    wake_pending_ = true;
    if (pumping_ || in_flight_) return;  // the running pump or the next OnSent picks it up
    pumping_ = true;
  }
  ScheduleOrRetry();
}

void WatchSession::ScheduleOrRetry() {
  auto self = shared_from_this();
  if (hub_->options_.schedule([self] { self->Pump(); })) return;
  absl::MutexLock lock(&mu_);
  pumping_ = false;
  retry_ = true;  // the pool is full: the hub's next Tick tries again
}

void WatchSession::Pump() {
  const WatchHub::Options& options = hub_->options_;
  while (true) {
    int64_t after;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        pumping_ = false;
        return;
      }
      wake_pending_ = false;
      after = cursor_;
    }
    auto fetched = hub_->Fetch(identity_.agency_id, after, options.batch_limit);
    if (!fetched.ok()) {
      log::Error("watch_fetch_failed", {{"agency", identity_.agency_id},
                                        {"code", absl::StatusCodeToString(fetched.status().code())}});
      CloseResumable("the event log cannot be read now");
      return;
    }
    // The agreement in force now decides, batch by batch: a reload that
    // withdraws the role's read permission ends the stream.
    auto admitted = AdmitCall(identity_, kWatchMethod, options.agreements->Current(), params_.purpose);
    if (!admitted.ok()) {
      Close(admitted.status(), /*abandon_pending=*/false);
      return;
    }
    // And the credential, batch by batch: a certificate revoked or expired,
    // or an agency suspended, while the stream was open gets nothing more.
    if (options.check_credentials && !fetched->events.empty()) {
      absl::Status standing;
      sink.With([&](WatchSink* live) { standing = options.check_credentials(identity_, live); });
      if (!standing.ok()) {
        // UNAVAILABLE: the caller may reconnect (its role changed); anything
        // else ends it for good.
        if (absl::IsUnavailable(standing)) {
          CloseResumable(standing.message(), /*abandon_pending=*/true);
        } else {
          Close(standing, /*abandon_pending=*/true);
        }
        return;
      }
    }
    std::vector<WatchMessageBytes> messages;
    std::vector<std::string> referral_ids;
    Disclosure disclosed;
    bool all_own = true;
    int64_t last = 0;
    // Views are shared by subscribers that see events alike.
    const std::string view_key = RoleView(*admitted, params_.read_mask);
    const std::string own_name = absl::StrCat("agencies/", identity_.agency_id);
    std::map<std::string, std::shared_ptr<const std::string>> current;  // per batch
    for (const auto& event : fetched->events) {
      auto& now = current[event->referral_id];
      if (now == nullptr) {
        auto document = hub_->CurrentDocument(event->referral_id);
        if (absl::IsNotFound(document.status())) {
          // Deleted (retention) and no longer in memory: of its events only
          // the deletion is told, as it stands in the log.
          if (event->kind != v1::WatchReferralsResponse::REFERRAL_DELETED) continue;
          document = std::shared_ptr<const std::string>(event, &event->referral_document);
        }
        if (!document.ok()) {
          log::Error("watch_fetch_failed", {{"code", absl::StatusCodeToString(document.status().code())}});
          CloseResumable("the event log cannot be read now");
          return;
        }
        now = *std::move(document);
      }
      auto view = hub_->Render(*admitted, *event, *now, params_.read_mask, view_key);
      if (!view.ok()) {
        log::Error("watch_render_failed", {{"code", absl::StatusCodeToString(view.status().code())}});
        Close(absl::InternalError("an event could not be prepared; resume later"), /*abandon_pending=*/false);
        return;
      }
      if (*view == nullptr) continue;
      const WatchHub::View& v = **view;
      if (std::find(referral_ids.begin(), referral_ids.end(), v.referral_id) == referral_ids.end()) {
        referral_ids.push_back(v.referral_id);
      }
      disclosed.Add(v.disclosed);
      all_own = all_own && v.sender_agency == own_name;
      messages.push_back(v.bytes);
      last = event->sequence;
    }
    if (messages.empty()) {
      absl::MutexLock lock(&mu_);
      cursor_ = std::max(cursor_, fetched->scanned_through);
      if (wake_pending_ || fetched->more) continue;
      pumping_ = false;
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {  // closed while this batch was prepared: nothing is sent, nothing audited
        pumping_ = false;
        return;
      }
      cursor_ = std::max(cursor_, fetched->scanned_through);
      in_flight_ = true;
      // The stall clock starts when the batch is handed to the stream
      // (SendToSink): the audit write and the pool's queue are ours, not
      // the subscriber's.
      in_flight_since_ = absl::InfiniteFuture();
      pumping_ = false;
    }
    // Audit before answer: the batch leaves only once its event is durable.
    // The store completes the write on its own thread, so no worker waits;
    // the agency's other streams sending the same batch share the event.
    storage::AuditRecord record =
        options.auditor->Build(*admitted, kWatchMethod, all_own ? AuditAction::kConsultation : AuditAction::kDisclosure,
                               referral_ids, disclosed, absl::StatusCode::kOk);
    auto self = shared_from_this();
    hub_->audit_->RecordAsync(
        std::move(record), [self, last, messages = std::move(messages)](absl::Status audited) mutable {
          if (!audited.ok()) {
            log::Error("audit_write_failed", {{"method", kWatchMethod}});
            self->CloseResumable("the audit log cannot be written; nothing was sent");
            return;
          }
          // Off the store's writer thread: handing a batch to the stream is the
          // watch pool's job.
          auto batch = std::make_shared<std::vector<WatchMessageBytes>>(std::move(messages));
          if (!self->hub_->options_.schedule([self, last, batch] { self->SendToSink(std::move(*batch), last); })) {
            self->SendToSink(std::move(*batch), last);
          }
        });
    return;
  }
}

void WatchSession::SendToSink(std::vector<WatchMessageBytes> messages, int64_t last_sequence) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    sending_through_ = last_sequence;
    in_flight_since_ = hub_->options_.clock->Now();
  }
  sink.With([&](WatchSink* live) { live->Send(std::move(messages)); });
}

void WatchSession::OnSent() {
  {
    absl::MutexLock lock(&mu_);
    in_flight_ = false;
    delivered_ = std::max(delivered_, sending_through_);
    if (closed_ || pumping_) return;
    pumping_ = true;
  }
  ScheduleOrRetry();
}

void WatchSession::Close(const absl::Status& status, bool abandon_pending) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
  }
  sink.With([&](WatchSink* live) { live->Close(status, abandon_pending); });
  hub_->Remove(shared_from_this());
}

void WatchSession::CloseResumable(absl::string_view why, bool abandon_pending) {
  const int64_t resume = delivered_sequence();
  Close(WithErrorInfo(absl::UnavailableError(absl::StrCat(why, "; reconnect with after_sequence=", resume)),
                      "WATCH_RESUME", {{"resume_after_sequence", absl::StrCat(resume)}}),
        abandon_pending);
}

void WatchSession::Detach() {
  sink.Clear();
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  hub_->Remove(shared_from_this());
}

void WatchSession::Tick(absl::Time now, absl::Duration limit) {
  bool stalled = false;
  bool retry = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    stalled = in_flight_ && now - in_flight_since_ > limit;
    if (!stalled && retry_ && !pumping_ && !in_flight_) {
      retry_ = false;
      pumping_ = true;
      retry = true;
    }
  }
  if (stalled) {
    log::Warning("watch_subscriber_stalled", {{"agency", identity_.agency_id}});
    CloseResumable("the subscriber did not accept messages in time", /*abandon_pending=*/true);
  } else if (retry) {
    ScheduleOrRetry();
  }
}

// ---------------------------------------------------------------- hub

absl::StatusOr<std::unique_ptr<WatchHub>> WatchHub::Create(Options options) {
  if (options.store == nullptr || options.manager == nullptr || options.auditor == nullptr ||
      options.agreements == nullptr || !options.schedule) {
    return absl::InvalidArgumentError("WatchHub needs a store, manager, auditor, agreements and a scheduler");
  }
  if (options.ring_capacity < 1 || options.batch_limit < 1) {
    return absl::InvalidArgumentError("watch: ring_capacity and batch_limit must be >= 1");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  auto hub = std::unique_ptr<WatchHub>(new WatchHub(std::move(options)));
  hub->audit_ = std::make_unique<AuditCoalescer>(
      AuditCoalescer::Options{.auditor = hub->options_.auditor, .schedule = hub->options_.schedule});
  REFX_ASSIGN_OR_RETURN(int64_t head, hub->options_.store->LatestEventSequence());
  {
    absl::MutexLock lock(&hub->mu_);
    hub->head_ = head;
  }
  WatchHub* raw = hub.get();
  hub->options_.store->SetEventListener([raw](const std::vector<storage::ReferralEvent>& events) { raw->Publish(events); });
  hub->listening_ = true;
  return hub;
}

WatchHub::~WatchHub() { StopListening(); }

void WatchHub::StopListening() {
  audit_->FlushAll();
  if (!listening_) return;
  listening_ = false;
  options_.store->SetEventListener(nullptr);
}

void WatchHub::Publish(const std::vector<storage::ReferralEvent>& events) {
  std::vector<std::shared_ptr<WatchSession>> wake;
  {
    absl::MutexLock lock(&mu_);
    std::set<std::string> agencies;
    for (const storage::ReferralEvent& event : events) {
      auto shared = std::make_shared<const storage::ReferralEvent>(event);
      ring_.push_back(shared);
      latest_[event.referral_id] = shared;
      head_ = event.sequence;
      agencies.insert(event.audience.begin(), event.audience.end());
    }
    bool trimmed = false;
    while (ring_.size() > options_.ring_capacity) {
      auto it = latest_.find(ring_.front()->referral_id);
      if (it != latest_.end() && it->second == ring_.front()) latest_.erase(it);
      ring_.pop_front();
      trimmed = true;
    }
    if (trimmed) {
      const int64_t front = ring_.front()->sequence;
      absl::MutexLock views_lock(&views_mu_);
      views_.erase(views_.begin(), views_.lower_bound(std::make_pair(front, std::string())));
      redirected_.erase(redirected_.begin(), redirected_.lower_bound(front));
    }
    for (const std::string& agency : agencies) {
      auto it = by_agency_.find(agency);
      if (it != by_agency_.end()) wake.insert(wake.end(), it->second.begin(), it->second.end());
    }
  }
  for (const auto& session : wake) session->Wake();
}

absl::StatusOr<WatchHub::Fetched> WatchHub::Fetch(const std::string& agency, int64_t after, int limit) {
  Fetched out;
  int64_t ring_front = 0;
  {
    absl::MutexLock lock(&mu_);
    ring_front = ring_.empty() ? head_ + 1 : ring_.front()->sequence;
    if (after + 1 >= ring_front) {
      // Live: the ring holds every event after `after` (sequences are gapless).
      out.scanned_through = after;
      for (size_t i = static_cast<size_t>(after + 1 - ring_front); i < ring_.size(); ++i) {
        const auto& event = ring_[i];
        out.scanned_through = event->sequence;
        if (std::find(event->audience.begin(), event->audience.end(), agency) != event->audience.end()) {
          out.events.push_back(event);
          if (static_cast<int>(out.events.size()) == limit) {
            out.more = i + 1 < ring_.size();
            break;
          }
        }
      }
      return out;
    }
  }
  // Catching up from before the ring: the database has every committed
  // event, and every event before `ring_front` committed before this query.
  storage::EventQuery query;
  query.agency_id = agency;
  query.after_sequence = after;
  query.limit = limit;
  REFX_ASSIGN_OR_RETURN(auto events, options_.store->ListEvents(query));
  out.more = static_cast<int>(events.size()) == limit;
  out.scanned_through = events.empty() ? after : events.back().sequence;
  if (!out.more) out.scanned_through = std::max(out.scanned_through, ring_front - 1);
  for (auto& event : events) out.events.push_back(std::make_shared<const storage::ReferralEvent>(std::move(event)));
  return out;
}

absl::StatusOr<std::shared_ptr<const std::string>> WatchHub::CurrentDocument(const std::string& referral_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = latest_.find(referral_id);
    if (it != latest_.end()) {
      // Aliases the event: no copy of the document.
      return std::shared_ptr<const std::string>(it->second, &it->second->referral_document);
    }
  }
  REFX_ASSIGN_OR_RETURN(storage::StoredReferral stored, options_.store->GetReferral(referral_id));
  return std::make_shared<const std::string>(std::move(stored.document));
}

absl::StatusOr<std::shared_ptr<const WatchHub::View>> WatchHub::Render(const Caller& admitted,
                                                                      const storage::ReferralEvent& event,
                                                                      const std::string& current_document,
                                                                      const std::vector<std::string>& read_mask,
                                                                      const std::string& view_key) {
  // Only an event that is its referral's latest change renders the same for
  // every subscriber of a view; an older one depends on the consent now.
  bool shareable = current_document == event.referral_document;
  if (shareable) {
    // Only events still in the ring: their views leave with them. A replay
    // from the database renders afresh rather than fill memory.
    absl::MutexLock lock(&mu_);
    shareable = !ring_.empty() && event.sequence >= ring_.front()->sequence;
  }
  if (shareable) {
    // A former party reads less than the rest of its role: its view is its own.
    REFX_ASSIGN_OR_RETURN(bool former, RedirectedAwayBy(event, admitted.agency_id));
    shareable = !former;
  }
  const auto key = std::make_pair(event.sequence, view_key);
  if (shareable) {
    absl::MutexLock lock(&views_mu_);
    auto it = views_.find(key);
    if (it != views_.end()) return it->second;
  }
  REFX_ASSIGN_OR_RETURN(auto rendered, options_.manager->RenderEvent(admitted, event, current_document, read_mask));
  std::shared_ptr<const View> view;
  if (rendered.has_value()) {
    auto v = std::make_shared<View>();
    v->bytes = std::make_shared<const std::string>(rendered->message.SerializeAsString());
    v->referral_id = rendered->referral_id;
    v->sender_agency = rendered->message.referral().sender_agency();
    v->disclosed = rendered->disclosed;
    view = std::move(v);
  }
  if (shareable) {
    absl::MutexLock lock(&views_mu_);
    // A bound even if many views share the ring (many roles, purposes, masks).
    if (views_.size() >= 4 * options_.ring_capacity) views_.erase(views_.begin());
    views_.emplace(key, view);  // a concurrent render of the same view keeps the first
  }
  return view;
}

absl::StatusOr<bool> WatchHub::RedirectedAwayBy(const storage::ReferralEvent& event, const std::string& agency_id) {
  const std::string name = AgencyName(agency_id);
  auto holds = [&name](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  {
    absl::MutexLock lock(&views_mu_);
    auto it = redirected_.find(event.sequence);
    if (it != redirected_.end()) return holds(*it->second);
  }
  v1::Referral referral;
  if (!referral.ParseFromString(event.referral_document)) {
    return absl::InternalError(absl::StrCat("stored event ", event.sequence, " is unreadable"));
  }
  auto names = std::make_shared<const std::vector<std::string>>(referral.redirected_agencies().begin(),
                                                                referral.redirected_agencies().end());
  absl::MutexLock lock(&views_mu_);
  if (redirected_.size() >= 4 * options_.ring_capacity) redirected_.erase(redirected_.begin());
  redirected_.emplace(event.sequence, names);
  return holds(*names);
}

absl::StatusOr<std::shared_ptr<WatchSession>> WatchHub::Subscribe(const Caller& identity, const Caller& admitted,
                                                                  WatchParams params, WatchSink* sink) {
  std::vector<FieldViolation> violations;
  if (params.after_sequence < 0) violations.push_back({"after_sequence", "must not be negative"});
  if (params.start_at_head && params.after_sequence != 0) {
    violations.push_back({"start_at_head", "cannot be combined with after_sequence"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid watch request", violations);
  REFX_RETURN_IF_ERROR(options_.manager->CheckWatchReadMask(admitted, params.read_mask));
  std::shared_ptr<WatchSession> session;
  int64_t start = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return absl::UnavailableError("the server is shutting down; reconnect shortly");
    if (count_ >= options_.max_subscribers) {
      return QuotaExceededError("too many watch streams on this server; retry later", "WATCH_CAPACITY",
                                "refx-server", "watch streams per server (watch.max_subscribers)");
    }
    if (auto it = by_agency_.find(identity.agency_id);
        it != by_agency_.end() && it->second.size() >= options_.max_subscribers_per_agency) {
      return QuotaExceededError("this agency holds as many watch streams as it may; close one or retry later",
                                "WATCH_AGENCY_CAPACITY", absl::StrCat("agencies/", identity.agency_id),
                                "watch streams per agency (watch.max_subscribers_per_agency)");
    }
    if (params.after_sequence > head_) {
      return InvalidArgumentError("after_sequence is beyond the newest event",
                                  {{"after_sequence", absl::StrCat("the newest event is ", head_)}});
    }
    if (!params.start_at_head && options_.max_replay_events > 0 &&
        head_ - params.after_sequence > options_.max_replay_events) {
      return QuotaExceededError(
          absl::StrCat("a replay may start at most ", options_.max_replay_events, " events before the newest (", head_,
                       "); list the referrals (ListReferrals) and watch with start_at_head instead"),
          "WATCH_REPLAY_TOO_LONG", "after_sequence",
          absl::StrCat("at most ", options_.max_replay_events, " events replayed (watch.max_replay_events)"),
          {{"newest_sequence", absl::StrCat(head_)}});
    }
    // Registered under the same lock that reads the head, so every event
    // after the start either wakes this session or is already in the log.
    start = params.start_at_head ? head_ : params.after_sequence;
    session = std::make_shared<WatchSession>(this, identity, std::move(params), sink, start);
    {
      // In flight before anyone can wake it: the first pump waits for
      // SUBSCRIBED to be written (one write at a time on a stream).
      absl::MutexLock session_lock(&session->mu_);
      session->in_flight_ = true;
      session->in_flight_since_ = options_.clock->Now();
      session->sending_through_ = start;
    }
    by_agency_[identity.agency_id].insert(session);
    ++count_;
  }
  v1::WatchReferralsResponse subscribed;
  subscribed.set_kind(v1::WatchReferralsResponse::SUBSCRIBED);
  subscribed.set_sequence(start);
  *subscribed.mutable_event_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(options_.clock->Now()));
  std::vector<WatchMessageBytes> first;
  first.push_back(std::make_shared<const std::string>(subscribed.SerializeAsString()));
  session->sink.With([&](WatchSink* live) { live->Send(std::move(first)); });
  return session;
}

void WatchHub::Remove(const std::shared_ptr<WatchSession>& session) {
  absl::MutexLock lock(&mu_);
  auto it = by_agency_.find(session->identity_.agency_id);
  if (it == by_agency_.end()) return;
  if (it->second.erase(session) > 0) --count_;
  if (it->second.empty()) by_agency_.erase(it);
}

std::vector<std::shared_ptr<WatchSession>> WatchHub::AllSessions() const {
  std::vector<std::shared_ptr<WatchSession>> all;
  absl::MutexLock lock(&mu_);
  for (const auto& [agency, sessions] : by_agency_) all.insert(all.end(), sessions.begin(), sessions.end());
  return all;
}

void WatchHub::Tick() {
  const absl::Time now = options_.clock->Now();
  for (const auto& session : AllSessions()) session->Tick(now, options_.stall_timeout);
}

void WatchHub::CloseAll(absl::string_view why) {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  for (const auto& session : AllSessions()) session->CloseResumable(why);
}

void WatchHub::CloseWhere(const std::function<absl::Status(WatchSink*)>& check) { CloseFailing(AllSessions(), check); }

size_t WatchHub::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

int64_t WatchHub::head() const {
  absl::MutexLock lock(&mu_);
  return head_;
}

}  // namespace refx::core
