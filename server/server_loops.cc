// RefxServer's work beside the calls: readiness that follows the store and
// the audit log's commits, the metrics page, the retention job's schedule,
// and the watch's upkeep (revocation sweeps of open streams). Start, the
// reloads and shutdown are in server.cc.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/server.h"
#include "server/watch_stream.h"

namespace refx::server {
namespace {

constexpr char kServiceName[] = "refx.v1.ReferralService";

}  // namespace

// Readiness follows the store: NOT_SERVING while it cannot answer, so a load
// balancer stops sending calls that would fail.
void RefxServer::HealthLoop() {
  bool last = false;
  bool first = true;
  bool store_was_healthy = true;
  do {
    ReloadAgreementIfChanged().IgnoreError();  // logged inside
    ReloadRegistryIfChanged().IgnoreError();   // logged inside
    refusals_->Flush();
    absl::Status health = store_->CheckHealth();
    if (!health.ok() && store_was_healthy) {
      // An idle stream would otherwise stay open on a server that can
      // neither read the event log nor audit a batch: end every stream
      // resumably, so its subscriber reconnects (perhaps to another
      // replica) from its last sequence.
      watch_hub_->CloseWhere([](core::WatchSink*) {
        return absl::UnavailableError("the database is unavailable; reconnect from your last sequence");
      });
      tension_watch_->CloseWhere([](core::WatchSink*) {
        return absl::UnavailableError("the database is unavailable");
      });
    }
    store_was_healthy = health.ok();
    // A configured but unusable revocation list refuses every agency, and
    // a log that cannot take audit events fails every call: the server is
    // not serving then either (the checker logs why as well).
    health = ReadinessGiven(health);
    const bool serving = health.ok();
    if (ops_ != nullptr) ops_->SetServing(serving);
    if (first || serving != last) {
      auto* service = server_->GetHealthCheckService();
      service->SetServingStatus(serving);
      service->SetServingStatus(kServiceName, serving);
      if (!first || !serving) {
        log::Event(serving ? log::Level::kInfo : log::Level::kError, "health_changed",
                   {{"serving", serving ? "true" : "false"},
                    {"reason", serving ? "" : std::string(health.message())}});
      }
      last = serving;
      first = false;
    }
  } while (!stop_health_.WaitForNotificationWithTimeout(absl::Seconds(2)));
}

// How long a failed commit keeps the server unready when no later commit
// succeeds: long enough for a load balancer to send calls elsewhere, short
// enough that a recovered disk is tried again without a write to prove it.
constexpr absl::Duration kAuditRetryAfter = absl::Seconds(10);

absl::Status RefxServer::Readiness() { return ReadinessGiven(store_->CheckHealth()); }

absl::Status RefxServer::ReadinessGiven(const absl::Status& store_health) {
  if (draining_.load()) return absl::UnavailableError("shutting down");
  if (!store_health.ok()) return absl::UnavailableError(absl::StrCat("database: ", store_health.message()));
  if (revocation_ != nullptr) {
    if (absl::Status list = revocation_->Health(); !list.ok()) {
      return absl::UnavailableError(absl::StrCat("revocation list: ", list.message()));
    }
  }
  absl::MutexLock lock(&commit_mu_);
  if (!last_commit_.ok() && absl::Now() - last_commit_failed_at_ < kAuditRetryAfter) {
    return absl::UnavailableError(absl::StrCat("audit log: the last group commit failed (",
                                               absl::StatusCodeToString(last_commit_.code()),
                                               "); calls that change data or disclose it cannot be audited"));
  }
  return absl::OkStatus();
}

void RefxServer::OnCommit(const storage::CommitReport& report) {
  metrics_->ObserveCommit(report);
  absl::MutexLock lock(&commit_mu_);
  if (report.committed) {
    last_commit_ = absl::OkStatus();
  } else {
    last_commit_ = absl::UnavailableError("commit failed");
    last_commit_failed_at_ = absl::Now();
  }
}

std::string RefxServer::RenderMetrics() {
  ServerMetrics::Gauges gauges;
  gauges.now = absl::Now();
  gauges.watch_subscribers = watch_hub_->subscriber_count();
  const core::RenderCache& list_renders = referrals_->list_render_cache();
  gauges.list_render_hits = list_renders.hits();
  gauges.list_render_misses = list_renders.misses();
  gauges.list_render_entries = list_renders.size();
  const auth::RevocationChecker::Timings timings = revocation_->CurrentTimings();
  gauges.server_certificate_not_after = timings.server_certificate_not_after;
  gauges.revocation_list_generated = timings.list_generated;
  gauges.revocation_list_next_update = timings.list_next_update;
  gauges.ready = Readiness().ok();
  {
    absl::MutexLock lock(&overdue_mu_);
    if (gauges.now - overdue_read_at_ >= absl::Seconds(30)) {
      auto counts = referrals_->CountOverdueByRecipient();
      overdue_read_at_ = gauges.now;
      if (counts.ok()) {
        overdue_ = *std::move(counts);
      } else {
        overdue_.reset();  // left out rather than stale
      }
    }
    gauges.overdue_by_recipient = overdue_;
  }
  return metrics_->Render(gauges);
}

absl::StatusOr<core::RetentionJob::RunReport> RefxServer::RunRetentionNow() {
  absl::MutexLock lock(&retention_mu_);
  const absl::Time started = absl::Now();
  absl::StatusOr<core::RetentionJob::RunReport> report = retention_->RunOnce();
  metrics_->ObserveRetentionRun(report.ok(), report.ok() ? report->classes_erased : 0, absl::Now());
  if (!report.ok()) {
    // Counts and codes only: a failure's message could name a referral.
    log::Error("retention_run_failed", {{"code", absl::StatusCodeToString(report.status().code())}});
    return report;
  }
  log::Info("retention_run", {{"referrals_examined", report->referrals_examined},
                              {"referrals_erased", report->referrals_erased},
                              {"referrals_deleted", report->referrals_deleted},
                              {"classes_erased", report->classes_erased},
                              {"copies_rewritten", report->copies_rewritten},
                              {"held", report->held},
                              {"changed_meanwhile", report->changed_meanwhile},
                              {"left_for_newer_version", report->left_for_newer_version},
                              {"duration_ms", absl::ToInt64Milliseconds(absl::Now() - started)}});
  return report;
}

absl::StatusOr<std::vector<core::PlannedErasure>> RefxServer::PreviewRetention(absl::Duration within) {
  return retention_->Preview(within);
}

void RefxServer::RetentionLoop() {
  // A minute after start (not at once: a restart loop must not turn into a
  // purge loop), then every interval. A failed run is logged and retried
  // at the next; nothing is half-erased (each referral is one transaction).
  absl::Duration wait = absl::Minutes(1);
  while (!stop_retention_.WaitForNotificationWithTimeout(wait)) {
    RunRetentionNow().IgnoreError();  // logged inside
    wait = retention_interval_;
  }
}

void RefxServer::WatchLoop() {
  // Each batch re-checks its subscriber's credential, but an idle stream
  // sends no batch: sweep every open stream when the revocation list, its
  // usability or the registry changes, and every 30 s anyway (expiry).
  int64_t swept_sequence = -2;
  bool swept_healthy = true;
  std::shared_ptr<const core::Partnership> swept_registry;
  absl::Time swept_at = absl::InfinitePast();
  do {
    watch_hub_->Tick();
    tension_watch_->Tick();
    refusals_->Flush();
    const int64_t sequence = revocation_->sequence();
    const bool healthy = revocation_->Health().ok();
    const std::shared_ptr<const core::Partnership> registry = registry_->Current();
    if (sequence == swept_sequence && healthy == swept_healthy && registry == swept_registry &&
        absl::Now() - swept_at < absl::Seconds(30)) {
      continue;
    }
    swept_sequence = sequence;
    swept_healthy = healthy;
    swept_registry = registry;
    swept_at = absl::Now();
    const auto sweep = [this](core::WatchSink* sink) -> absl::Status {
      auto* stream = static_cast<WatchStream*>(sink);
      const core::Caller* identity = stream->identity();
      if (identity == nullptr) return absl::OkStatus();  // still opening: its first batch checks
      absl::Status standing = CheckStreamCredential(*identity, *stream);
      if (!standing.ok()) {
        log::Warning(
            "watch_closed_credential",
            {{"call_id", stream->call_id()}, {"method", stream->method()}, {"reason", ErrorReasonOf(standing)}});
      }
      return standing;
    };
    watch_hub_->CloseWhere(sweep);
    tension_watch_->CloseWhere(sweep);
  } while (!stop_watch_ticks_.WaitForNotificationWithTimeout(absl::Milliseconds(500)));
}

absl::Status RefxServer::CheckStreamCredential(const core::Caller& identity, const WatchStream& stream) {
  auth::PeerCredential peer;
  peer.authenticated = true;
  peer.uris = {identity.spiffe_id};
  peer.leaf_pem = stream.leaf_pem();
  peer.chain_pem = stream.chain_pem();
  // The registry in force now (a suspension), then expiry and revocation.
  auto now = auth::IdentifyCaller(peer, *registry_->Current(), identity.acting_user);
  absl::Status standing = now.status();
  if (standing.ok()) standing = credentials_->Check(identity, peer.leaf_pem, peer.chain_pem);
  if (!standing.ok()) {
    refusals_->Record(identity, stream.method(), standing.code(), ErrorReasonOf(standing));
    return standing;
  }
  // A registry reload that changed the agency's role (or type) changes what
  // it may read: the stream ends resumably, and the reconnection is decided
  // under the new role.
  if (now->role != identity.role || now->agency_type != identity.agency_type) {
    return WithErrorInfo(absl::UnavailableError("this agency's role in the registry changed"), "WATCH_RESUME");
  }
  return standing;
}

}  // namespace refx::server
