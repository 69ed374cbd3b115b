// The metrics refx-server exposes to Prometheus on its operations listener
// (ops_listener.h): what an operator alerts on (errors, latency, commit
// health, certificates and the revocation list running out, overdue
// referrals) and what a security reviewer watches (refused handshakes and
// calls, audit failures).
//
// Labels are bounded by construction: method and status code are fixed
// sets, and an agency label is only ever an agency of the partnership's
// registry whose credential stood (the registry is a fixed, small set);
// calls refused before identification are labelled "-". Nothing a caller
// sends, and no referral id, becomes a label.
//
// One object per server, passed to what records into it (no process-wide
// registry, so tests that run several servers in one process stay apart).
#ifndef REFX_SERVER_SERVER_METRICS_H_
#define REFX_SERVER_SERVER_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "storage/referral_store.h"

namespace refx::server {

class ServerMetrics {
 public:
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // One answered call: `method` is the short name (CreateReferral), `agency`
  // the identified caller or "-" when the call was refused before that.
  void ObserveRpc(std::string_view method, absl::StatusCode code, std::string_view agency, absl::Duration latency);
  // One group commit (or a batch that failed to commit).
  void ObserveCommit(const storage::CommitReport& report);
  // A call whose audit event could not be written (it was answered with an error).
  void ObserveAuditFailure();
  // A TLS handshake our certificate verifier refused, by ErrorInfo-style reason.
  void ObserveHandshakeRefused(std::string_view reason);
  // Watch streams: messages written, and a stream ended with `code`.
  void ObserveWatchMessages(size_t messages);
  void ObserveWatchEnded(absl::StatusCode code);
  // One run of the retention job: how many (referral, class) erasures it
  // made, or that it failed.
  void ObserveRetentionRun(bool ok, int64_t classes_erased, absl::Time finished);
  // The certificate an identified agency called with (its newest call wins).
  void ObserveAgencyCertificate(std::string_view agency, absl::Time not_after);

  // What is read at scrape time rather than counted as it happens.
  struct Gauges {
    absl::Time now;
    size_t watch_subscribers = 0;
    // The list render cache (core/render_cache.h): lookups so far, entries now.
    int64_t list_render_hits = 0;
    int64_t list_render_misses = 0;
    size_t list_render_entries = 0;
    absl::optional<absl::Time> server_certificate_not_after;
    absl::optional<absl::Time> revocation_list_generated;    // unset: no list configured or usable
    absl::optional<absl::Time> revocation_list_next_update;
    // Referrals past their response deadline, by recipient agency; unset
    // when the count could not be read (the metric is then left out).
    absl::optional<std::map<std::string, int64_t>> overdue_by_recipient;
    bool ready = false;
  };
  // The Prometheus text exposition (format 0.0.4) of every metric, with the
  // gauges set from `gauges`.
  std::string Render(const Gauges& gauges);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* rpcs_;
  prometheus::Family<prometheus::Histogram>* rpc_seconds_;
  prometheus::Histogram* commit_writes_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Counter* commits_failed_;
  prometheus::Counter* audit_events_;
  prometheus::Counter* audit_failures_;
  prometheus::Family<prometheus::Counter>* handshakes_refused_;
  prometheus::Counter* watch_messages_;
  prometheus::Family<prometheus::Counter>* watch_ended_;
  prometheus::Gauge* watch_subscribers_;
  prometheus::Counter* list_render_hits_;
  prometheus::Counter* list_render_misses_;
  prometheus::Gauge* list_render_entries_;
  prometheus::Family<prometheus::Gauge>* certificate_seconds_left_;
  // Families without a series until there is a list: a list never
  // configured has no age, and 0 would read as "just published".
  prometheus::Family<prometheus::Gauge>* revocation_list_age_;
  prometheus::Family<prometheus::Gauge>* revocation_list_next_update_;
  prometheus::Family<prometheus::Gauge>* overdue_;
  prometheus::Gauge* ready_;
  prometheus::Counter* retention_erasures_;
  prometheus::Counter* retention_failures_;
  // No series until the first run: 0 would read as "ran in 1970".
  prometheus::Family<prometheus::Gauge>* retention_last_run_;

  absl::Mutex mu_;
  std::map<std::string, absl::Time, std::less<>> agency_not_after_ ABSL_GUARDED_BY(mu_);
  // Render() resets the label sets that come and go (agencies, overdue).
  absl::Mutex render_mu_;
  std::map<std::string, prometheus::Gauge*> overdue_gauges_ ABSL_GUARDED_BY(render_mu_);
  // The cache's totals at the last scrape: counters advance by the difference.
  int64_t list_render_hits_seen_ ABSL_GUARDED_BY(render_mu_) = 0;
  int64_t list_render_misses_seen_ ABSL_GUARDED_BY(render_mu_) = 0;
};

}  // namespace refx::server

#endif  // REFX_SERVER_SERVER_METRICS_H_
