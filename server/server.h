// The composition root of refx-server: builds the partnership registry, the
// store, the core managers, the mTLS credentials and the gRPC server from one
// validated config, and owns them for the server's lifetime. Tests start it
// in-process on port 0 exactly as main does.
#ifndef REFX_SERVER_SERVER_H_
#define REFX_SERVER_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/types/optional.h"
#include "auth/credential_gate.h"
#include "auth/revocation_checker.h"
#include "common/clock.h"
#include "common/signing.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "core/referral_watch.h"
#include "core/refusal_log.h"
#include "core/retention.h"
#include "core/subject_requests.h"
#include "core/tension_watch.h"
#include "grpcpp/server.h"
#include "refx/config/v1/server_config.pb.h"
#include "server/agency_call_limiter.h"
#include "server/audit_service.h"
#include "server/ops_listener.h"
#include "server/referral_service.h"
#include "server/reporting_service.h"
#include "server/server_metrics.h"
#include "server/work_pool.h"
#include "storage/referral_store.h"

namespace refx::server {

class WatchStream;

class RefxServer {
 public:
  struct Options {
    // Defaults applied and paths resolved (LoadServerConfig).
    config::v1::ServerConfig config;
    const Clock* clock = nullptr;  // default: the system clock
  };

  // Validates the config, opens everything and starts serving. Fails with
  // the key and file named if anything is missing or invalid.
  static absl::StatusOr<std::unique_ptr<RefxServer>> Start(Options options);

  // Stops taking calls, gives calls in flight `grace`, then closes the store.
  void Shutdown(absl::Duration grace);
  ~RefxServer();

  // Open WatchReferrals streams (tests, metrics).
  size_t watch_subscribers() const { return watch_hub_->subscriber_count(); }

  // The public key that verifies the audit chain's signed head.
  const VerifyingKey& audit_public_key() const { return *audit_public_key_; }

  // The port bound (useful with port 0).
  int port() const { return port_; }
  // The operations ports bound (0 when not configured).
  int ops_http_port() const { return ops_ == nullptr ? 0 : ops_->http_port(); }
  int ops_grpc_health_port() const { return ops_ == nullptr ? 0 : ops_->grpc_health_port(); }
  // OK when the server is ready for calls; otherwise which part is not
  // (database, revocation list, audit log) or that it is shutting down.
  // Readiness steers load balancers only: calls are still served.
  absl::Status Readiness();
  // The registry in force (it changes when its file does).
  std::shared_ptr<const core::Partnership> partnership() const { return registry_->Current(); }
  // The agreement in force (it changes when its file does).
  std::shared_ptr<const core::Agreement> agreement() const { return agreements_->Current(); }
  // Re-reads the agreement file now if it changed; an invalid file is
  // refused (logged) and the agreement in force is kept. Also run every
  // couple of seconds by the server itself.
  absl::Status ReloadAgreementIfChanged();
  // Re-reads the partnership registry if its file changed (an agency
  // suspended takes effect on its next call); a file that is invalid,
  // changes the partnership's id or trust domain, or has a role the
  // agreement in force does not cover is refused (logged) and the registry
  // in force kept. Also run every couple of seconds by the server itself.
  absl::Status ReloadRegistryIfChanged();
  // Runs the retention job now (it also runs every
  // retention.purge_interval_seconds unless purge_disabled).
  absl::StatusOr<core::RetentionJob::RunReport> RunRetentionNow();
  // What the retention job would erase within `within` of now.
  absl::StatusOr<std::vector<core::PlannedErasure>> PreviewRetention(absl::Duration within);

 private:
  RefxServer() = default;
  void HealthLoop();
  // Twice a second: closes stalled watch streams and those whose
  // certificate has been revoked since they opened.
  void WatchLoop();
  // The watch's per-batch (and sweep) check of a stream's credential: the
  // registry in force, expiry and revocation; a refusal is recorded.
  absl::Status CheckStreamCredential(const core::Caller& identity, const WatchStream& stream);
  // Readiness given the store's health, already asked (the health loop asks
  // it once for both the watch streams and readiness).
  absl::Status ReadinessGiven(const absl::Status& store_health);
  // Told of each group commit: metrics, and the audit log's usability.
  void OnCommit(const storage::CommitReport& report);
  // The metrics exposition for a scrape.
  std::string RenderMetrics();

  Options options_;
  // First, so that everything recording into it may rely on it to the end.
  std::unique_ptr<ServerMetrics> metrics_;
  std::atomic<bool> draining_{false};  // Shutdown began: not ready
  // The audit log's usability as the last group commit found it: a failed
  // commit makes the server unready until one succeeds or kAuditRetryAfter
  // passes (so a load balancer tries it again).
  absl::Mutex commit_mu_;
  absl::Status last_commit_ ABSL_GUARDED_BY(commit_mu_);
  absl::Time last_commit_failed_at_ ABSL_GUARDED_BY(commit_mu_) = absl::InfinitePast();
  // Overdue counts are a query: read at most every 30 s, whatever the scrape rate.
  absl::Mutex overdue_mu_;
  absl::Time overdue_read_at_ ABSL_GUARDED_BY(overdue_mu_) = absl::InfinitePast();
  absl::optional<std::map<std::string, int64_t>> overdue_ ABSL_GUARDED_BY(overdue_mu_);
  std::shared_ptr<core::PartnershipHolder> registry_;
  std::unique_ptr<core::AgreementHolder> agreements_;
  absl::Mutex reload_mu_;
  std::string agreement_file_stamp_ ABSL_GUARDED_BY(reload_mu_);  // of the file last examined
  std::string registry_file_stamp_ ABSL_GUARDED_BY(reload_mu_);
  std::unique_ptr<storage::ReferralStore> store_;
  absl::optional<VerifyingKey> audit_public_key_;
  std::unique_ptr<core::Auditor> auditor_;
  std::unique_ptr<core::ReferralManager> referrals_;
  std::unique_ptr<core::ReportManager> reports_;
  std::unique_ptr<core::TensionAlerts> tensions_;
  std::unique_ptr<core::SubjectAccess> subject_access_;
  std::unique_ptr<core::SubjectRequestRegister> subject_requests_;
  std::unique_ptr<WorkPool> pool_;
  std::unique_ptr<WorkPool> watch_pool_;  // prepares and sends watch batches
  std::unique_ptr<core::WatchHub> watch_hub_;
  std::unique_ptr<WorkPool> tension_pool_;                // computes and sends tension alert batches
  std::unique_ptr<core::TensionWatchHub> tension_watch_;  // WatchTensionAlerts
  absl::Notification stop_watch_ticks_;
  std::thread watch_thread_;
  std::unique_ptr<ReferralServiceImpl> referral_service_;
  std::unique_ptr<AuditServiceImpl> audit_service_;
  std::unique_ptr<ReportingServiceImpl> reporting_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<OpsListener> ops_;
  // Revocation list state, shared with the TLS verifier and the credential gate.
  std::shared_ptr<auth::RevocationChecker> revocation_;
  std::unique_ptr<auth::CredentialGate> credentials_;
  std::unique_ptr<core::RefusalLog> refusals_;
  std::unique_ptr<AgencyCallLimiter> limiter_;
  absl::Notification stop_health_;
  std::thread health_thread_;
  // The retention job and the thread that runs it every interval.
  std::unique_ptr<core::RetentionJob> retention_;
  absl::Mutex retention_mu_;  // one run at a time
  absl::Duration retention_interval_;
  absl::Notification stop_retention_;
  std::thread retention_thread_;
  void RetentionLoop();
  bool shut_down_ = false;
};

}  // namespace refx::server

#endif  // REFX_SERVER_SERVER_H_
