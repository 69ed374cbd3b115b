#include "server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "auth/agency_verifier.h"
#include "auth/pki/certificate_authority.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/process_setup.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "grpc/grpc.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server_builder.h"
#include "server/grpc_log_bridge.h"
#include "server/server_config.h"
#include "server/server_keys.h"
#include "server/watch_stream.h"
#include "server/without_reflection.h"
#include "storage/make_store.h"

namespace refx::server {
namespace {

// Size and modification time: enough to notice an edited or replaced file.
std::string FileStamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return absl::StrCat(st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_ino);
}

// Mutual TLS with client certificates required and verified against the
// agency issuing CA only, files re-read every refresh interval (rotation
// without restart), the agency profile, registry and revocation checks in
// the handshake (repeated on every call, RunUnary's gate). With tls.crl_directory, OpenSSL
// also checks CRLs there (defence in depth only: it fails open, V7).
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const config::v1::TlsConfig& tls, std::shared_ptr<const core::PartnershipHolder> registry,
    std::shared_ptr<const auth::RevocationChecker> revocation, ServerMetrics* metrics) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.server_key_file(), tls.server_cert_file(), tls.client_ca_file(), tls.refresh_interval_seconds());
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(auth::MakeAgencyCertificateVerifier(
      std::move(registry), revocation, [metrics](std::string_view reason) { metrics->ObserveHandshakeRefused(reason); }));
  options.set_check_call_host(false);
  if (!tls.crl_directory().empty()) options.set_crl_directory(tls.crl_directory());
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RefxServer>> RefxServer::Start(Options options) {
  REFX_RETURN_IF_ERROR(ValidateServerConfig(options.config));
  auto server = std::unique_ptr<RefxServer>(new RefxServer());
  server->options_ = std::move(options);
  server->metrics_ = std::make_unique<ServerMetrics>();
  // Handshakes the TLS stack refuses before the verifier runs are counted
  // too (seen through gRPC's log, server/grpc_log_bridge.h).
  SetTlsRefusalObserver(
      [metrics = server->metrics_.get()](absl::string_view reason) {
        metrics->ObserveHandshakeRefused(std::string_view(reason.data(), reason.size()));
      });
  const auto& config = server->options_.config;
  {
    absl::MutexLock lock(&server->reload_mu_);
    server->agreement_file_stamp_ = FileStamp(config.agreement_file());
    server->registry_file_stamp_ = FileStamp(config.partnership_file());
  }
  REFX_ASSIGN_OR_RETURN(auto partnership, core::Partnership::Load(config.partnership_file()));
  server->registry_ = std::make_shared<core::PartnershipHolder>(partnership);
  REFX_ASSIGN_OR_RETURN(auto agreement, core::Agreement::Load(config.agreement_file(), *partnership));
  server->agreements_ = std::make_unique<core::AgreementHolder>(std::move(agreement));

  // A TLS key others could read has been disclosed: refuse it, as every
  // other secret of the server.
  REFX_RETURN_IF_ERROR(CheckSecretFileMode("tls.server_key_file", config.tls().server_key_file()));

  // The signing key before the store: the store checks the head it finds
  // against it (a head signed by another key fails the start).
  REFX_ASSIGN_OR_RETURN(AuditSigningKeyFile signing, LoadOrCreateAuditSigningKey(config.audit_signing_key_file()));
  storage::MakeStoreOptions store_options;
  store_options.config = config.storage();
  store_options.audit_head_key = signing.key;
  store_options.adopt_unsigned_head = signing.created;
  store_options.commit_observer = [s = server.get()](const storage::CommitReport& report) { s->OnCommit(report); };
  REFX_ASSIGN_OR_RETURN(store_options.key_encryption_key,
                        LoadOrPrepareKeyEncryptionKey(config.storage()));
  auto store = storage::MakeStore(store_options);
  if (!store.ok()) {
    if (signing.created) DiscardCreatedAuditSigningKey(config.audit_signing_key_file());
    return store.status();
  }
  server->store_ = *std::move(store);
  server->audit_public_key_ = signing.key.Public();

  REFX_ASSIGN_OR_RETURN(std::string audit_key, LoadOrCreateAuditKey(config.audit_key_file(), server->store_.get()));
  const std::string audit_options_key = audit_key;
  core::Auditor::Options audit_options;
  audit_options.store = server->store_.get();
  audit_options.hmac_key = std::move(audit_key);
  audit_options.clock = server->options_.clock;
  server->auditor_ = std::make_unique<core::Auditor>(std::move(audit_options));

  core::ReferralManager::Options manager_options;
  manager_options.registry = server->registry_.get();
  manager_options.max_read_mask_paths = config.limits().max_read_mask_paths();
  manager_options.max_recipients = config.limits().max_recipients_per_referral();
  manager_options.list_render_cache_entries = static_cast<size_t>(config.limits().list_render_cache_entries());
  manager_options.store = server->store_.get();
  manager_options.auditor = server->auditor_.get();
  manager_options.clock = server->options_.clock;
  // Page tokens are sealed under a key derived from the audit key: a second
  // secret to keep would add nothing (losing it only invalidates tokens in
  // flight), and HMAC with a distinct label keeps the two uses independent.
  manager_options.page_token_key = HmacSha256(audit_options_key, "refx page token key v1");
  REFX_ASSIGN_OR_RETURN(manager_options.victim_token_key, LoadVictimTokenKey(config, server->store_.get()));
  REFX_ASSIGN_OR_RETURN(server->referrals_, core::ReferralManager::Create(manager_options));
  core::ReportManager::Options report_options;
  report_options.registry = server->registry_.get();
  report_options.store = server->store_.get();
  report_options.auditor = server->auditor_.get();
  report_options.clock = server->options_.clock;
  REFX_ASSIGN_OR_RETURN(server->reports_, core::ReportManager::Create(report_options));
  core::TensionAlerts::Options tension_options;
  tension_options.registry = server->registry_.get();
  tension_options.store = server->store_.get();
  tension_options.auditor = server->auditor_.get();
  tension_options.clock = server->options_.clock;
  REFX_ASSIGN_OR_RETURN(server->tensions_, core::TensionAlerts::Create(tension_options));
  core::SubjectAccess::Options subject_options;
  subject_options.store = server->store_.get();
  subject_options.auditor = server->auditor_.get();
  subject_options.registry = server->registry_.get();
  subject_options.victim_token_key = manager_options.victim_token_key;
  subject_options.clock = server->options_.clock;
  REFX_ASSIGN_OR_RETURN(server->subject_access_, core::SubjectAccess::Create(subject_options));
  core::RetentionJob::Options retention_options;
  retention_options.store = server->store_.get();
  retention_options.agreements = server->agreements_.get();
  retention_options.clock = server->options_.clock;
  retention_options.victim_token_key = manager_options.victim_token_key;
  retention_options.auditor = server->auditor_.get();
  REFX_ASSIGN_OR_RETURN(server->retention_, core::RetentionJob::Create(retention_options));
  REFX_ASSIGN_OR_RETURN(server->subject_requests_,
                        core::SubjectRequestRegister::Create({.store = server->store_.get(),
                                                              .auditor = server->auditor_.get(),
                                                              .clock = server->options_.clock,
                                                              .retention = server->retention_.get(),
                                                              .subject_access = server->subject_access_.get()}));
  server->retention_interval_ = absl::Seconds(config.retention().purge_interval_seconds());

  // One thread stays for an agency with no call running: a partner's flood
  // cannot make another partner wait for one of its calls to finish.
  server->pool_ = std::make_unique<WorkPool>(config.limits().worker_threads(), config.limits().max_queued_calls(),
                                             /*spare_thread_for_idle_keys=*/true);
  // Revocation, expiry and the registry stand behind every call and every
  // watch batch, not only the handshake; refusals there are audited.
  auth::RevocationChecker::Options revocation_options;
  revocation_options.revocation_list_file = config.tls().revocation_list_file();
  revocation_options.client_ca_file = config.tls().client_ca_file();
  revocation_options.server_cert_file = config.tls().server_cert_file();
  revocation_options.crl_directory = config.tls().crl_directory();
  server->revocation_ = std::make_shared<auth::RevocationChecker>(std::move(revocation_options));
  server->credentials_ = std::make_unique<auth::CredentialGate>(
      config.tls().revocation_list_file().empty() ? nullptr : server->revocation_, server->options_.clock);
  core::RefusalLog::Options refusal_options;
  refusal_options.auditor = server->auditor_.get();
  refusal_options.clock = server->options_.clock;
  server->refusals_ = std::make_unique<core::RefusalLog>(refusal_options);
  AgencyCallLimiter::Options limiter_options;
  limiter_options.max_per_agency = config.limits().max_calls_per_agency();
  limiter_options.busy_calls_in_flight = config.limits().busy_calls_in_flight();
  server->limiter_ = std::make_unique<AgencyCallLimiter>(limiter_options);
  ServiceContext service_context;
  service_context.registry = server->registry_.get();
  service_context.agreements = server->agreements_.get();
  service_context.referrals = server->referrals_.get();
  service_context.auditor = server->auditor_.get();
  service_context.pool = server->pool_.get();
  service_context.audit_public_key = &*server->audit_public_key_;
  service_context.credentials = server->credentials_.get();
  service_context.refusals = server->refusals_.get();
  service_context.limiter = server->limiter_.get();
  service_context.max_request_bytes = config.limits().max_receive_message_bytes();
  service_context.metrics = server->metrics_.get();
  const auto& watch = config.watch();
  // Its own pool, with a deep queue: a wake must never be shed, and watch
  // work must never take a unary call's worker.
  server->watch_pool_ = std::make_unique<WorkPool>(watch.threads(), 1 << 20);
  core::WatchHub::Options watch_options;
  watch_options.store = server->store_.get();
  watch_options.manager = server->referrals_.get();
  watch_options.auditor = server->auditor_.get();
  watch_options.agreements = server->agreements_.get();
  watch_options.schedule = [pool = server->watch_pool_.get()](std::function<void()> task) {
    return pool->TrySubmit(std::move(task));
  };
  watch_options.ring_capacity = static_cast<size_t>(watch.ring_events());
  watch_options.batch_limit = watch.batch_events();
  watch_options.stall_timeout = absl::Seconds(watch.stall_timeout_seconds());
  watch_options.max_subscribers = static_cast<size_t>(watch.max_subscribers());
  watch_options.max_subscribers_per_agency = static_cast<size_t>(watch.max_subscribers_per_agency());
  watch_options.max_replay_events = watch.max_replay_events();
  watch_options.check_credentials = [s = server.get()](const core::Caller& identity, core::WatchSink* sink) {
    return s->CheckStreamCredential(identity, *static_cast<WatchStream*>(sink));
  };
  watch_options.clock = server->options_.clock;
  REFX_ASSIGN_OR_RETURN(server->watch_hub_, core::WatchHub::Create(std::move(watch_options)));
  service_context.watch_hub = server->watch_hub_.get();
  core::TensionWatchHub::Options tension_watch_options;
  tension_watch_options.alerts = server->tensions_.get();
  tension_watch_options.auditor = server->auditor_.get();
  tension_watch_options.agreements = server->agreements_.get();
  // Its own thread: a tension batch reads the store and audits synchronously,
  // so the pool is drained before the store closes.
  server->tension_pool_ = std::make_unique<WorkPool>(1, 1 << 12);
  tension_watch_options.schedule = [pool = server->tension_pool_.get()](std::function<void()> task) {
    return pool->TrySubmit(std::move(task));
  };
  tension_watch_options.check_credentials = [s = server.get()](const core::Caller& identity, core::WatchSink* sink) {
    return s->CheckStreamCredential(identity, *static_cast<WatchStream*>(sink));
  };
  tension_watch_options.stall_timeout = absl::Seconds(watch.stall_timeout_seconds());
  tension_watch_options.clock = server->options_.clock;
  REFX_ASSIGN_OR_RETURN(server->tension_watch_, core::TensionWatchHub::Create(std::move(tension_watch_options)));
  server->referral_service_ = std::make_unique<ReferralServiceImpl>(service_context);
  server->audit_service_ =
      std::make_unique<AuditServiceImpl>(service_context, server->subject_access_.get(),
                                         server->subject_requests_.get(), server->retention_.get());
  server->reporting_service_ = std::make_unique<ReportingServiceImpl>(
      service_context, server->reports_.get(), server->tensions_.get(), server->tension_watch_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  if (config.development().enable_reflection()) {
    // Reflection describes what the generated pool holds; naming the health
    // protocol's descriptor links it in (proto/grpc/health/v1/health.proto),
    // so the health service it lists can be described too.
    grpc::health::v1::HealthCheckRequest::descriptor();
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  } else {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  builder.AddListeningPort(config.listen_address(),
                           MakeServerCredentials(config.tls(), server->registry_, server->revocation_,
                                                 server->metrics_.get()),
                           &server->port_);
  builder.RegisterService(server->referral_service_.get());
  builder.RegisterService(server->audit_service_.get());
  builder.RegisterService(server->reporting_service_.get());
  const auto& limits = config.limits();
  // gRPC refuses a message over its own limit before any handler sees it,
  // with a bare RESOURCE_EXHAUSTED. Up to twice the configured limit, the
  // message reaches RunUnary, which refuses it with REQUEST_TOO_LARGE and a
  // QuotaFailure a client can act on; beyond that gRPC still refuses it
  // unread, so memory stays bounded.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<int64_t>(2 * static_cast<int64_t>(limits.max_receive_message_bytes()), INT32_MAX)));
  builder.SetMaxSendMessageSize(limits.max_send_message_bytes());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, limits.keepalive_time_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, limits.keepalive_timeout_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, limits.max_connection_age_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             limits.max_connection_age_grace_seconds() * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams_per_connection());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("listen_address: cannot listen on ", config.listen_address(),
                                               " (address in use, or not a local address?)"));
  }
  OpsListener::Options ops_options;
  ops_options.http_address = config.ops().listen_address();
  ops_options.grpc_health_address = config.ops().grpc_health_address();
  ops_options.readiness = [s = server.get()] { return s->Readiness(); };
  ops_options.metrics = [s = server.get()] { return s->RenderMetrics(); };
  if (!ops_options.http_address.empty() || !ops_options.grpc_health_address.empty()) {
    auto ops = OpsListener::Start(std::move(ops_options));
    if (!ops.ok()) {
      server->Shutdown(absl::ZeroDuration());
      return ops.status();
    }
    server->ops_ = *std::move(ops);
  }
  server->health_thread_ = std::thread([s = server.get()] { s->HealthLoop(); });
  server->watch_thread_ = std::thread([s = server.get()] { s->WatchLoop(); });
  if (!config.retention().purge_disabled()) {
    server->retention_thread_ = std::thread([s = server.get()] { s->RetentionLoop(); });
  }
  log::Info("server_started", {{"address", config.listen_address()},
                               {"port", server->port_},
                               {"partnership", partnership->id()},
                               {"agencies", partnership->config().agencies_size()},
                               {"schema_version", server->store_->SchemaVersion()},
                               // Every start loads a key-encryption key or refuses to start.
                               {"encryption", "aes-256-gcm-at-rest"},
                               {"agreement", server->agreements_->Current()->Label()},
                               {"reflection", config.development().enable_reflection() ? "on" : "off"},
                               {"allocator", MemoryAllocatorName()}});
  return server;
}

absl::Status RefxServer::ReloadRegistryIfChanged() {
  absl::MutexLock lock(&reload_mu_);
  const std::string& path = options_.config.partnership_file();
  const std::string stamp = FileStamp(path);
  if (stamp == registry_file_stamp_) return absl::OkStatus();
  registry_file_stamp_ = stamp;  // an invalid file is tried again only when it changes
  const std::shared_ptr<const core::Partnership> current = registry_->Current();
  auto refuse = [&](absl::Status why) {
    log::Error("registry_refused", {{"file", path}, {"reason", std::string(why.message())}});
    return why;
  };
  auto next = core::Partnership::Load(path);
  if (!next.ok()) return refuse(next.status());
  if ((*next)->id() != current->id() || (*next)->trust_domain() != current->trust_domain()) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat(path, ": the partnership id and trust domain cannot change while the server runs")));
  }
  // The agreement in force must still cover every role of the registry.
  auto covered = core::Agreement::Create(agreements_->Current()->config(), "the agreement in force", **next);
  if (!covered.ok()) return refuse(covered.status());
  int suspended = 0;
  for (const auto& agency : (*next)->config().agencies()) suspended += agency.suspended() ? 1 : 0;
  log::Info("registry_loaded", {{"agencies", (*next)->config().agencies_size()},
                                {"suspended", suspended}});
  registry_->Replace(*std::move(next));
  return absl::OkStatus();
}

absl::Status RefxServer::ReloadAgreementIfChanged() {
  absl::MutexLock lock(&reload_mu_);  // the health loop and callers may race
  const std::string& path = options_.config.agreement_file();
  const std::string stamp = FileStamp(path);
  if (stamp == agreement_file_stamp_) return absl::OkStatus();
  auto next = core::Agreement::Load(path, *registry_->Current());
  if (!next.ok()) {
    // Keep the agreement in force; try again only when the file changes.
    agreement_file_stamp_ = stamp;
    log::Error("agreement_refused", {{"file", path}, {"reason", std::string(next.status().message())},
                                     {"in_force", agreements_->Current()->Label()}});
    return next.status();
  }
  agreement_file_stamp_ = stamp;
  log::Info("agreement_loaded", {{"previous", agreements_->Current()->Label()}, {"now", (*next)->Label()}});
  agreements_->Replace(*std::move(next));
  return absl::OkStatus();
}

void RefxServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  log::Info("server_stopping", {{"grace_ms", absl::ToInt64Milliseconds(grace)}});
  draining_.store(true);
  if (ops_ != nullptr) ops_->SetServing(false);
  SetTlsRefusalObserver(nullptr);
  stop_health_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  stop_watch_ticks_.Notify();
  if (watch_thread_.joinable()) watch_thread_.join();
  stop_retention_.Notify();
  if (retention_thread_.joinable()) retention_thread_.join();
  server_->GetHealthCheckService()->Shutdown();
  // Watch streams never end on their own: end them first, each telling its
  // subscriber where to resume, so the grace period is for unary calls.
  watch_hub_->CloseAll("the server is shutting down");
  tension_watch_->CloseAll("the server is shutting down");
  // gRPC's shutdown stops accepting at once and tells every connection to
  // go away, but then waits until every connection is gone, which a client
  // that sends nothing more ends only when the grace runs out. Once no call
  // is in flight here, cancelling "all calls" (none) disconnects those idle
  // clients, so the server exits as soon as its work is done. Repeated
  // while shutting down: the first may come before gRPC's shutdown began.
  absl::Notification shut_down;
  std::thread disconnect_idle([&] {
    const absl::Time give_up = absl::Now() + grace;
    while (!shut_down.WaitForNotificationWithTimeout(absl::Milliseconds(20)) && absl::Now() < give_up) {
      if (limiter_->TotalInFlight() == 0 && watch_hub_->subscriber_count() == 0 &&
          tension_watch_->subscriber_count() == 0) {
        grpc_server_cancel_all_calls(server_->c_server());
      }
    }
  });
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
  shut_down.Notify();
  disconnect_idle.join();
  server_->Wait();
  pool_.reset();   // runs and finishes any queued work
  tension_pool_.reset();           // the same, for tension batches (which read the store)
  refusals_->Flush(/*all=*/true);  // counts still open, before the store closes
  // Every stream is done, so every session is closed: what the store's last
  // audit completions queue on the watch pool finds nothing to do.
  watch_hub_->StopListening();
  if (ops_ != nullptr) ops_->Shutdown();
  store_.reset();  // commits the last batch
  watch_pool_.reset();
  tension_watch_.reset();
  watch_hub_.reset();
  log::Info("server_stopped");
}

RefxServer::~RefxServer() {
  if (server_ != nullptr) Shutdown(absl::ZeroDuration());
}

}  // namespace refx::server
