#include "core/tension_watch.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_details.h"
#include "core/method_permissions.h"
#include "refx/v1/reporting_service.pb.h"

namespace refx::core {
namespace {

constexpr int kMaxWeeksBack = 104;

using Response = v1::WatchTensionAlertsResponse;

WatchMessageBytes Serialize(const Response& message) {
  return std::make_shared<const std::string>(message.SerializeAsString());
}

absl::Status BadWeek(absl::string_view why) {
  return InvalidArgumentError("invalid tension watch", {{"first_week", std::string(why)}});
}

}  // namespace

TensionWatchSession::TensionWatchSession(TensionWatchHub* hub, Caller identity, std::string purpose,
                                         reporting::IsoWeek next, WatchSink* sink)
    : sink(sink), hub_(hub), identity_(std::move(identity)), purpose_(std::move(purpose)), next_(next),
      sending_(next) {}

void TensionWatchSession::Wake() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (scheduled_) {
      again_ = true;
      return;
    }
    scheduled_ = true;
  }
  auto self = shared_from_this();
  if (!hub_->options_.schedule([self] { self->Pump(); })) {
    absl::MutexLock lock(&mu_);
    scheduled_ = false;
    retry_ = true;
  }
}

void TensionWatchSession::Pump() {
  const TensionWatchHub::Options& options = hub_->options_;
  reporting::IsoWeek first;
  {
    absl::MutexLock lock(&mu_);
    again_ = false;
    if (closed_ || in_flight_) {
      scheduled_ = false;
      return;  // OnSent wakes it again
    }
    first = next_;
  }
  const std::shared_ptr<const Agreement> agreement = options.agreements->Current();
  const absl::TimeZone zone = agreement->calendar().zone();
  const reporting::IsoWeek ended = hub_->LastEndedWeek(zone);
  if (first.monday > ended.monday) {
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      scheduled_ = false;
      again = std::exchange(again_, false);
    }
    if (again) Wake();
    return;  // no week to test has ended yet
  }
  const int span = static_cast<int>((ended.monday - first.monday) / 7) + 1;
  const reporting::IsoWeek last = reporting::WeeksAfter(first, std::min(span, options.weeks_per_batch) - 1, zone);

  // Checked as a call would be, before anything is computed for it.
  auto done_with = [this](const absl::Status& status, bool resumable) {
    {
      absl::MutexLock lock(&mu_);
      scheduled_ = false;
    }
    if (resumable) {
      CloseResumable(status.message(), /*abandon_pending=*/false);
    } else {
      Close(status, /*abandon_pending=*/false);
    }
  };
  if (options.check_credentials) {
    absl::Status standing;
    if (!sink.With([&](WatchSink* live) { standing = options.check_credentials(identity_, live); })) {
      return done_with(absl::CancelledError("the stream is gone"), false);
    }
    if (!standing.ok()) return done_with(standing, absl::IsUnavailable(standing));
  }
  absl::StatusOr<Caller> admitted = AdmitCall(identity_, kTensionWatchMethod, agreement, purpose_);
  if (!admitted.ok()) return done_with(admitted.status(), false);

  absl::StatusOr<v1::ListTensionAlertsResponse> alerts = options.alerts->Alerts(*agreement, first, last);
  if (!alerts.ok()) {
    log::Error("tension_watch_failed", {{"code", absl::StatusCodeToString(alerts.status().code())}});
    return done_with(absl::UnavailableError("the alerts could not be computed"), true);
  }
  // The batch's disclosure, durable before a byte is sent: the same
  // aggregate bands a listing of these weeks discloses.
  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  disclosed.classes.Add(v1::DATA_CLASS_PROTECTED_CHARACTERISTICS);
  storage::AuditRecord event = options.auditor->Build(*admitted, kTensionWatchMethod, AuditAction::kDisclosure, {},
                                                      disclosed, absl::StatusCode::kOk);
  event.release =
      absl::StrCat("tension-alerts weeks=", first.label, "..", last.label, " alerts=", alerts->alerts_size());
  if (absl::Status audited = options.auditor->Record(event); !audited.ok()) {
    log::Error("audit_write_failed", {{"method", kTensionWatchMethod}});
    return done_with(absl::UnavailableError("the audit log cannot be written; nothing was sent"), true);
  }

  const reporting::IsoWeek after = reporting::WeeksAfter(last, 1, zone);
  std::vector<WatchMessageBytes> messages;
  for (const v1::TensionAlert& alert : alerts->alerts()) {
    Response message;
    message.set_kind(Response::ALERT);
    *message.mutable_alert() = alert;
    messages.push_back(Serialize(message));
  }
  Response checked;
  checked.set_kind(Response::WEEKS_CHECKED);
  checked.set_checked_through_week(last.label);
  checked.set_next_week(after.label);
  checked.set_method(alerts->method());
  checked.set_agreement(alerts->agreement());
  messages.push_back(Serialize(checked));
  {
    absl::MutexLock lock(&mu_);
    scheduled_ = false;
    if (closed_) return;
    in_flight_ = true;
    in_flight_since_ = absl::Now();
    sending_ = after;
  }
  sink.With([&](WatchSink* live) { live->Send(std::move(messages)); });
}

void TensionWatchSession::OnSent() {
  {
    absl::MutexLock lock(&mu_);
    in_flight_ = false;
    next_ = sending_;
    if (closed_) return;
  }
  Wake();  // more weeks may be waiting
}

void TensionWatchSession::Close(const absl::Status& status, bool abandon_pending) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
  }
  sink.With([&](WatchSink* live) { live->Close(status, abandon_pending); });
  hub_->Remove(shared_from_this());
}

void TensionWatchSession::CloseResumable(absl::string_view why, bool abandon_pending) {
  // A batch in flight is still written unless it is abandoned.
  std::string resume;
  {
    absl::MutexLock lock(&mu_);
    resume = in_flight_ && !abandon_pending ? sending_.label : next_.label;
  }
  Close(WithErrorInfo(absl::UnavailableError(absl::StrCat(why, "; reconnect with first_week=", resume)), "WATCH_RESUME",
                      {{"resume_week", resume}}),
        abandon_pending);
}

void TensionWatchSession::Detach() {
  sink.Clear();
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  hub_->Remove(shared_from_this());
}

void TensionWatchSession::Tick(absl::Time now, absl::Duration stall_timeout) {
  bool stalled = false;
  bool retry = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    stalled = in_flight_ && now - in_flight_since_ > stall_timeout;
    retry = !stalled && std::exchange(retry_, false);
  }
  if (stalled) {
    log::Warning("tension_watch_subscriber_stalled", {{"agency", identity_.agency_id}});
    CloseResumable("the subscriber did not accept messages in time", /*abandon_pending=*/true);
  } else if (retry) {
    Wake();
  }
}

absl::StatusOr<std::unique_ptr<TensionWatchHub>> TensionWatchHub::Create(Options options) {
  if (options.alerts == nullptr || options.auditor == nullptr || options.agreements == nullptr || !options.schedule) {
    return absl::InvalidArgumentError("TensionWatchHub needs alerts, an auditor, agreements and a scheduler");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  options.weeks_per_batch = std::clamp(options.weeks_per_batch, 1, kMaxWeeksBack + 1);
  return std::unique_ptr<TensionWatchHub>(new TensionWatchHub(std::move(options)));
}

reporting::IsoWeek TensionWatchHub::LastEndedWeek(absl::TimeZone zone) const {
  const reporting::IsoWeek current = reporting::WeekOf(absl::ToCivilDay(options_.clock->Now(), zone), zone);
  return reporting::WeeksAfter(current, -1, zone);
}

absl::StatusOr<std::shared_ptr<TensionWatchSession>> TensionWatchHub::Subscribe(const Caller& identity,
                                                                                const Caller& admitted,
                                                                                const std::string& first_week,
                                                                                const std::string& purpose,
                                                                                WatchSink* sink) {
  const Agreement& agreement = *admitted.agreement;
  const absl::TimeZone zone = agreement.calendar().zone();
  const reporting::IsoWeek current = reporting::WeeksAfter(LastEndedWeek(zone), 1, zone);
  reporting::IsoWeek first = current;
  if (!first_week.empty()) {
    absl::StatusOr<reporting::IsoWeek> parsed = reporting::ParseIsoWeek(first_week, zone);
    if (!parsed.ok()) return BadWeek(parsed.status().message());
    if (parsed->monday > current.monday) {
      return BadWeek(absl::StrCat("must not be after the week in progress, ", current.label));
    }
    if ((current.monday - parsed->monday) / 7 > kMaxWeeksBack) {
      return BadWeek(absl::StrCat("at most ", kMaxWeeksBack, " weeks before the week in progress"));
    }
    first = *parsed;
  }
  std::shared_ptr<TensionWatchSession> session;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return absl::UnavailableError("the server is shutting down; reconnect shortly");
    if (sessions_.size() >= options_.max_subscribers) {
      return QuotaExceededError("too many tension alert streams on this server; retry later", "WATCH_CAPACITY",
                                "refx-server", "tension alert streams per server");
    }
    session = std::make_shared<TensionWatchSession>(this, identity, purpose, first, sink);
    {
      // SUBSCRIBED is the batch in flight from the start: a Tick that wakes
      // the session before it is sent finds it busy.
      absl::MutexLock session_lock(&session->mu_);
      session->in_flight_ = true;
      session->in_flight_since_ = absl::Now();
    }
    sessions_.insert(session);
  }
  Response subscribed;
  subscribed.set_kind(Response::SUBSCRIBED);
  subscribed.set_next_week(first.label);
  subscribed.set_method(TensionAlerts::Method(agreement));
  subscribed.set_agreement(agreement.Label());
  session->sink.With([&](WatchSink* live) { live->Send({Serialize(subscribed)}); });
  return session;
}

void TensionWatchHub::Tick() {
  const reporting::IsoWeek ended = LastEndedWeek(options_.agreements->Current()->calendar().zone());
  bool week_ended = false;
  {
    absl::MutexLock lock(&mu_);
    week_ended = std::exchange(last_ended_, ended.label) != ended.label;
  }
  const absl::Time now = absl::Now();
  for (const auto& session : AllSessions()) {
    session->Tick(now, options_.stall_timeout);
    if (week_ended) session->Wake();
  }
}

void TensionWatchHub::CloseAll(absl::string_view why) {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  for (const auto& session : AllSessions()) session->CloseResumable(why, /*abandon_pending=*/false);
}

void TensionWatchHub::CloseWhere(const std::function<absl::Status(WatchSink*)>& check) {
  CloseFailing(AllSessions(), check);
}

size_t TensionWatchHub::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void TensionWatchHub::Remove(const std::shared_ptr<TensionWatchSession>& session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

std::set<std::shared_ptr<TensionWatchSession>> TensionWatchHub::AllSessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_;
}

}  // namespace refx::core
