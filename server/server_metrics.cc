#include "server/server_metrics.h"

#include <string>

#include "prometheus/text_serializer.h"

namespace refx::server {
namespace {

// Seconds from 0.5 ms to 10 s: a cached read answers in well under a
// millisecond, a durable create in a few, and a page under load in tenths.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

}  // namespace

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  rpcs_ = &prometheus::BuildCounter()
               .Name("refx_rpc_requests_total")
               .Help("Calls answered, by method, gRPC status code and calling agency (\"-\": refused before "
                     "identification)")
               .Register(r);
  rpc_seconds_ = &prometheus::BuildHistogram()
                      .Name("refx_rpc_duration_seconds")
                      .Help("Time from a call's arrival to its answer, by method and gRPC status code")
                      .Register(r);
  commit_writes_ = &prometheus::BuildHistogram()
                        .Name("refx_store_commit_batch_writes")
                        .Help("Writes per group commit")
                        .Register(r)
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  commit_seconds_ = &prometheus::BuildHistogram()
                         .Name("refx_store_commit_duration_seconds")
                         .Help("Time to run and commit one group-commit transaction")
                         .Register(r)
                         .Add({}, LatencyBuckets());
  commits_failed_ = &prometheus::BuildCounter()
                         .Name("refx_store_commit_failures_total")
                         .Help("Group commits that failed (their writes were answered with an error)")
                         .Register(r)
                         .Add({});
  audit_events_ = &prometheus::BuildCounter()
                       .Name("refx_audit_events_total")
                       .Help("Audit events committed to the tamper-evident log")
                       .Register(r)
                       .Add({});
  retention_erasures_ = &prometheus::BuildCounter()
                             .Name("refx_retention_erasures_total")
                             .Help("Data classes erased from referrals by the retention job (one per referral and class)")
                             .Register(r)
                             .Add({});
  retention_failures_ = &prometheus::BuildCounter()
                             .Name("refx_retention_run_failures_total")
                             .Help("Runs of the retention job that failed (retried at the next interval)")
                             .Register(r)
                             .Add({});
  retention_last_run_ = &prometheus::BuildGauge()
                             .Name("refx_retention_last_success_timestamp_seconds")
                             .Help("When the retention job last completed a run (Unix time)")
                             .Register(r);
  audit_failures_ = &prometheus::BuildCounter()
                         .Name("refx_audit_failures_total")
                         .Help("Calls answered with an error because their audit event could not be written")
                         .Register(r)
                         .Add({});
  handshakes_refused_ = &prometheus::BuildCounter()
                             .Name("refx_tls_handshakes_refused_total")
                             .Help("TLS handshakes refused, by reason: by the TLS stack (no client certificate, "
                                   "an issuer outside the partnership CA, expired, not TLS) or by the agency "
                                   "certificate verifier (revoked, unknown or suspended agency, profile)")
                             .Register(r);
  watch_messages_ = &prometheus::BuildCounter()
                         .Name("refx_watch_messages_total")
                         .Help("Messages written to watch stream subscribers (WatchReferrals, WatchTensionAlerts)")
                         .Register(r)
                         .Add({});
  watch_ended_ = &prometheus::BuildCounter()
                      .Name("refx_watch_streams_ended_total")
                      .Help(
                          "Watch streams (WatchReferrals, WatchTensionAlerts) ended, by gRPC status code (UNAVAILABLE: "
                          "cut by the server, to be resumed)")
                      .Register(r);
  watch_subscribers_ = &prometheus::BuildGauge()
                            .Name("refx_watch_subscribers")
                            .Help("Open WatchReferrals streams")
                            .Register(r)
                            .Add({});
  auto& list_render_lookups = prometheus::BuildCounter()
                                  .Name("refx_list_render_cache_lookups_total")
                                  .Help(
                                      "Referrals ListReferrals looked up in its render cache, by result (hit: "
                                      "served as rendered before; miss: parsed, redacted and trimmed afresh)")
                                  .Register(r);
  list_render_hits_ = &list_render_lookups.Add({{"result", "hit"}});
  list_render_misses_ = &list_render_lookups.Add({{"result", "miss"}});
  list_render_entries_ = &prometheus::BuildGauge()
                              .Name("refx_list_render_cache_entries")
                              .Help("Referrals held rendered for list pages, per reader view")
                              .Register(r)
                              .Add({});
  certificate_seconds_left_ = &prometheus::BuildGauge()
                                   .Name("refx_certificate_expiry_seconds")
                                   .Help("Seconds until a certificate expires (negative: expired): the server's "
                                         "(certificate=\"server\") and each agency's most recently presented one")
                                   .Register(r);
  revocation_list_age_ = &prometheus::BuildGauge()
                              .Name("refx_revocation_list_age_seconds")
                              .Help("Seconds since the revocation list in force was generated")
                              .Register(r);
  revocation_list_next_update_ = &prometheus::BuildGauge()
                                      .Name("refx_revocation_list_next_update_seconds")
                                      .Help("Seconds until the revocation list in force must be replaced "
                                            "(negative: overdue, every agency is refused)")
                                      .Register(r);
  overdue_ = &prometheus::BuildGauge()
                  .Name("refx_overdue_referrals")
                  .Help("Referrals past their response deadline, by recipient agency")
                  .Register(r);
  ready_ = &prometheus::BuildGauge()
                .Name("refx_ready")
                .Help("1 while the server is ready for calls (database, revocation list and audit log usable)")
                .Register(r)
                .Add({});
}

void ServerMetrics::ObserveRpc(std::string_view method, absl::StatusCode code, std::string_view agency,
                               absl::Duration latency) {
  const std::string code_name = absl::StatusCodeToString(code);
  rpcs_->Add({{"method", std::string(method)}, {"code", code_name}, {"agency", std::string(agency)}}).Increment();
  rpc_seconds_->Add({{"method", std::string(method)}, {"code", code_name}}, LatencyBuckets())
      .Observe(Seconds(latency));
}

void ServerMetrics::ObserveCommit(const storage::CommitReport& report) {
  commit_writes_->Observe(static_cast<double>(report.writes));
  commit_seconds_->Observe(Seconds(report.duration));
  if (!report.committed) {
    commits_failed_->Increment();
    return;
  }
  audit_events_->Increment(static_cast<double>(report.audit_events));
}

void ServerMetrics::ObserveAuditFailure() { audit_failures_->Increment(); }

void ServerMetrics::ObserveRetentionRun(bool ok, int64_t classes_erased, absl::Time finished) {
  if (!ok) {
    retention_failures_->Increment();
    return;
  }
  retention_erasures_->Increment(static_cast<double>(classes_erased));
  retention_last_run_->Add({}).Set(static_cast<double>(absl::ToUnixMicros(finished)) / 1e6);
}

void ServerMetrics::ObserveHandshakeRefused(std::string_view reason) {
  handshakes_refused_->Add({{"reason", std::string(reason)}}).Increment();
}

void ServerMetrics::ObserveWatchMessages(size_t messages) { watch_messages_->Increment(static_cast<double>(messages)); }

void ServerMetrics::ObserveWatchEnded(absl::StatusCode code) {
  watch_ended_->Add({{"code", absl::StatusCodeToString(code)}}).Increment();
}

void ServerMetrics::ObserveAgencyCertificate(std::string_view agency, absl::Time not_after) {
  absl::MutexLock lock(&mu_);
  auto it = agency_not_after_.find(agency);
  if (it == agency_not_after_.end()) {
    agency_not_after_.emplace(std::string(agency), not_after);
  } else {
    it->second = not_after;
  }
}

std::string ServerMetrics::Render(const Gauges& gauges) {
  absl::MutexLock render_lock(&render_mu_);
  watch_subscribers_->Set(static_cast<double>(gauges.watch_subscribers));
  if (gauges.list_render_hits > list_render_hits_seen_) {
    list_render_hits_->Increment(static_cast<double>(gauges.list_render_hits - list_render_hits_seen_));
    list_render_hits_seen_ = gauges.list_render_hits;
  }
  if (gauges.list_render_misses > list_render_misses_seen_) {
    list_render_misses_->Increment(static_cast<double>(gauges.list_render_misses - list_render_misses_seen_));
    list_render_misses_seen_ = gauges.list_render_misses;
  }
  list_render_entries_->Set(static_cast<double>(gauges.list_render_entries));
  ready_->Set(gauges.ready ? 1 : 0);
  if (gauges.server_certificate_not_after.has_value()) {
    certificate_seconds_left_->Add({{"certificate", "server"}, {"agency", ""}})
        .Set(Seconds(*gauges.server_certificate_not_after - gauges.now));
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [agency, not_after] : agency_not_after_) {
      certificate_seconds_left_->Add({{"certificate", "agency"}, {"agency", agency}})
          .Set(Seconds(not_after - gauges.now));
    }
  }
  if (gauges.revocation_list_generated.has_value()) {
    revocation_list_age_->Add({}).Set(Seconds(gauges.now - *gauges.revocation_list_generated));
  }
  if (gauges.revocation_list_next_update.has_value()) {
    revocation_list_next_update_->Add({}).Set(Seconds(*gauges.revocation_list_next_update - gauges.now));
  }
  if (gauges.overdue_by_recipient.has_value()) {
    // An agency seen before with nothing overdue now reads 0, not its old count.
    for (auto& [agency, gauge] : overdue_gauges_) gauge->Set(0);
    for (const auto& [agency, count] : *gauges.overdue_by_recipient) {
      auto [it, added] = overdue_gauges_.emplace(agency, nullptr);
      if (added) it->second = &overdue_->Add({{"recipient_agency", agency}});
      it->second->Set(static_cast<double>(count));
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace refx::server
