#include "server/server_config.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/pki/certificate_authority.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "storage/make_store.h"

namespace refx::server {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

void Default(std::string* value, const char* fallback) {
  if (value->empty()) *value = fallback;
}

absl::Status CheckReadable(const std::string& key, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(key, ": required"));
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(key, ": cannot read ", path,
                                            " (missing, or not readable by this user)"));
  }
  return absl::OkStatus();
}

}  // namespace

void ApplyDefaults(const std::string& base_dir, config::v1::ServerConfig* c) {
  Default(c->mutable_listen_address(), "127.0.0.1:50051");
  Default(c->mutable_partnership_file(), "partnership.yaml");
  Default(c->mutable_agreement_file(), "agreement.yaml");
  auto* tls = c->mutable_tls();
  Default(tls->mutable_server_cert_file(), "pki/server.pem");
  Default(tls->mutable_server_key_file(), "pki/server.key");
  Default(tls->mutable_client_ca_file(), "pki/agency-ca.pem");
  if (tls->refresh_interval_seconds() == 0) tls->set_refresh_interval_seconds(10);
  auto* storage = c->mutable_storage();
  Default(storage->mutable_sqlite_path(), "refx.db");
  if (storage->max_batch_size() == 0) storage->set_max_batch_size(256);
  if (storage->read_connections() == 0) storage->set_read_connections(4);
  Default(storage->mutable_backend(), "sqlite");
  auto* postgres = storage->mutable_postgres();
  Default(postgres->mutable_sslmode(), "verify-full");
  if (postgres->pool_size() == 0) postgres->set_pool_size(4);
  if (postgres->statement_timeout_ms() == 0) postgres->set_statement_timeout_ms(30000);
  auto* limits = c->mutable_limits();
  if (limits->max_receive_message_bytes() == 0) limits->set_max_receive_message_bytes(1 << 20);
  if (limits->max_send_message_bytes() == 0) limits->set_max_send_message_bytes(4 << 20);
  if (limits->keepalive_time_seconds() == 0) limits->set_keepalive_time_seconds(60);
  if (limits->keepalive_timeout_seconds() == 0) limits->set_keepalive_timeout_seconds(20);
  if (limits->max_connection_age_seconds() == 0) limits->set_max_connection_age_seconds(3600);
  if (limits->max_connection_age_grace_seconds() == 0) limits->set_max_connection_age_grace_seconds(30);
  // Eight: reads and renders are CPU work now that no write holds a worker
  // (ADR 7), and on two cores sixteen of them preempting one another doubled
  // the p99 of list pages (README, Performance) without serving more.
  if (limits->worker_threads() == 0) limits->set_worker_threads(8);
  if (limits->max_queued_calls() == 0) limits->set_max_queued_calls(4096);
  if (limits->shutdown_grace_seconds() == 0) limits->set_shutdown_grace_seconds(10);
  if (limits->max_calls_per_agency() == 0) limits->set_max_calls_per_agency(256);
  if (limits->busy_calls_in_flight() == 0) limits->set_busy_calls_in_flight(64);
  if (limits->max_concurrent_streams_per_connection() == 0) limits->set_max_concurrent_streams_per_connection(100);
  if (limits->max_read_mask_paths() == 0) limits->set_max_read_mask_paths(64);
  if (limits->max_recipients_per_referral() == 0) limits->set_max_recipients_per_referral(20);
  if (limits->list_render_cache_entries() == 0) limits->set_list_render_cache_entries(4096);
  auto* watch = c->mutable_watch();
  if (watch->max_subscribers() == 0) watch->set_max_subscribers(20000);
  if (watch->ring_events() == 0) watch->set_ring_events(4096);
  if (watch->batch_events() == 0) watch->set_batch_events(64);
  if (watch->stall_timeout_seconds() == 0) watch->set_stall_timeout_seconds(30);
  if (watch->threads() == 0) watch->set_threads(2);
  if (watch->max_subscribers_per_agency() == 0) watch->set_max_subscribers_per_agency(2000);
  if (watch->max_replay_events() == 0) watch->set_max_replay_events(100000);
  auto* retention = c->mutable_retention();
  if (retention->purge_interval_seconds() == 0) retention->set_purge_interval_seconds(3600);
  Default(c->mutable_logging()->mutable_level(), "info");
  Default(c->mutable_logging()->mutable_format(), "text");

  c->set_partnership_file(Resolve(base_dir, c->partnership_file()));
  c->set_agreement_file(Resolve(base_dir, c->agreement_file()));
  tls->set_server_cert_file(Resolve(base_dir, tls->server_cert_file()));
  tls->set_server_key_file(Resolve(base_dir, tls->server_key_file()));
  tls->set_client_ca_file(Resolve(base_dir, tls->client_ca_file()));
  tls->set_revocation_list_file(Resolve(base_dir, tls->revocation_list_file()));
  tls->set_crl_directory(Resolve(base_dir, tls->crl_directory()));
  storage->set_sqlite_path(Resolve(base_dir, storage->sqlite_path()));
  postgres->set_password_file(Resolve(base_dir, postgres->password_file()));
  postgres->set_sslrootcert(Resolve(base_dir, postgres->sslrootcert()));
  if (c->audit_key_file().empty()) {
    c->set_audit_key_file(
        (std::filesystem::path(storage->sqlite_path()).parent_path() / "audit.key").string());
  }
  c->set_audit_key_file(Resolve(base_dir, c->audit_key_file()));
  if (c->victim_token_key_file().empty()) c->set_victim_token_key_file(DefaultVictimTokenKeyFile(*c));
  c->set_victim_token_key_file(Resolve(base_dir, c->victim_token_key_file()));
  if (c->audit_signing_key_file().empty()) {
    c->set_audit_signing_key_file(
        (std::filesystem::path(storage->sqlite_path()).parent_path() / "audit-signing.key").string());
  }
  c->set_audit_signing_key_file(Resolve(base_dir, c->audit_signing_key_file()));
  if (storage->encryption_key_file().empty()) {
    storage->set_encryption_key_file(
        (std::filesystem::path(storage->sqlite_path()).parent_path() / "data-encryption.key").string());
  }
  storage->set_encryption_key_file(Resolve(base_dir, storage->encryption_key_file()));
  for (std::string& previous : *storage->mutable_previous_encryption_key_files()) {
    previous = Resolve(base_dir, previous);
  }
}

std::string PublicKeyFileFor(const std::string& private_key_file) {
  std::filesystem::path path(private_key_file);
  if (path.extension() == ".key") return path.replace_extension(".pub").string();
  return private_key_file + ".pub";
}

std::string DefaultVictimTokenKeyFile(const config::v1::ServerConfig& c) {
  return (std::filesystem::path(c.storage().sqlite_path()).parent_path() / "victim-token.key").string();
}

absl::StatusOr<config::v1::ServerConfig> LoadServerConfig(const std::string& path) {
  config::v1::ServerConfig config;
  std::string base_dir = std::filesystem::current_path().string();
  if (!path.empty()) {
    REFX_RETURN_IF_ERROR(ReadYamlFileToProto(path, &config));
    base_dir = std::filesystem::absolute(path).parent_path().string();
  }
  ApplyDefaults(base_dir, &config);
  return config;
}

absl::Status ValidateServerConfig(const config::v1::ServerConfig& c) {
  const auto& tls = c.tls();
  REFX_RETURN_IF_ERROR(CheckReadable("partnership_file", c.partnership_file()));
  REFX_RETURN_IF_ERROR(CheckReadable("agreement_file", c.agreement_file()));
  REFX_RETURN_IF_ERROR(CheckReadable("tls.server_cert_file", tls.server_cert_file()));
  REFX_RETURN_IF_ERROR(CheckReadable("tls.server_key_file", tls.server_key_file()));
  REFX_RETURN_IF_ERROR(CheckReadable("tls.client_ca_file", tls.client_ca_file()));
  // A rotation's old keys must all be there: the data keys they wrap cannot
  // be re-wrapped (or read) without them.
  for (const std::string& previous : c.storage().previous_encryption_key_files()) {
    REFX_RETURN_IF_ERROR(CheckReadable("storage.previous_encryption_key_files", previous));
  }
  // A missing revocation list is not a start-up error: the server starts and
  // refuses agencies until it appears (fail closed, logged, health).
  if (!tls.crl_directory().empty() && !std::filesystem::is_directory(tls.crl_directory())) {
    return absl::NotFoundError(
        absl::StrCat("tls.crl_directory: ", tls.crl_directory(), " is not a directory"));
  }
  std::string pem;
  REFX_RETURN_IF_ERROR(ReadFileToString(tls.server_cert_file(), &pem));
  if (!pki::Certificate::FromPem(pem).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.server_cert_file: ", tls.server_cert_file(), " holds no PEM certificate"));
  }
  REFX_RETURN_IF_ERROR(ReadFileToString(tls.server_key_file(), &pem));
  if (!pki::PrivateKey::FromPem(pem).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tls.server_key_file: ", tls.server_key_file(),
                                                   " holds no unencrypted PEM private key"));
  }
  REFX_RETURN_IF_ERROR(ReadFileToString(tls.client_ca_file(), &pem));
  auto cas = pki::Certificate::AllFromPem(pem);
  if (!cas.ok() || cas->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.client_ca_file: ", tls.client_ca_file(), " holds no PEM certificate"));
  }
  const auto& l = c.limits();
  auto positive = [](const char* key, int64_t v) {
    return v > 0 ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrCat(key, ": must be positive"));
  };
  REFX_RETURN_IF_ERROR(positive("limits.max_receive_message_bytes", l.max_receive_message_bytes()));
  REFX_RETURN_IF_ERROR(positive("limits.max_send_message_bytes", l.max_send_message_bytes()));
  REFX_RETURN_IF_ERROR(positive("limits.worker_threads", l.worker_threads()));
  REFX_RETURN_IF_ERROR(positive("limits.max_queued_calls", l.max_queued_calls()));
  REFX_RETURN_IF_ERROR(positive("limits.max_calls_per_agency", l.max_calls_per_agency()));
  REFX_RETURN_IF_ERROR(positive("limits.busy_calls_in_flight", l.busy_calls_in_flight()));
  REFX_RETURN_IF_ERROR(
      positive("limits.max_concurrent_streams_per_connection", l.max_concurrent_streams_per_connection()));
  REFX_RETURN_IF_ERROR(positive("limits.max_read_mask_paths", l.max_read_mask_paths()));
  REFX_RETURN_IF_ERROR(positive("limits.max_recipients_per_referral", l.max_recipients_per_referral()));
  REFX_RETURN_IF_ERROR(positive("limits.list_render_cache_entries", l.list_render_cache_entries()));
  const auto& w = c.watch();
  REFX_RETURN_IF_ERROR(positive("watch.max_subscribers", w.max_subscribers()));
  REFX_RETURN_IF_ERROR(positive("watch.ring_events", w.ring_events()));
  REFX_RETURN_IF_ERROR(positive("watch.batch_events", w.batch_events()));
  REFX_RETURN_IF_ERROR(positive("watch.stall_timeout_seconds", w.stall_timeout_seconds()));
  REFX_RETURN_IF_ERROR(positive("watch.threads", w.threads()));
  REFX_RETURN_IF_ERROR(positive("watch.max_subscribers_per_agency", w.max_subscribers_per_agency()));
  REFX_RETURN_IF_ERROR(positive("watch.max_replay_events", w.max_replay_events()));
  REFX_RETURN_IF_ERROR(positive("retention.purge_interval_seconds", c.retention().purge_interval_seconds()));
  REFX_RETURN_IF_ERROR(positive("limits.max_connection_age_seconds", l.max_connection_age_seconds()));
  REFX_RETURN_IF_ERROR(positive("tls.refresh_interval_seconds", tls.refresh_interval_seconds()));
  REFX_RETURN_IF_ERROR(storage::CheckStorageConfig(c.storage()));
  for (const auto& [key, address] : {std::pair<const char*, std::string>{"ops.listen_address", c.ops().listen_address()},
                                     {"ops.grpc_health_address", c.ops().grpc_health_address()}}) {
    const bool same_as_api = address == c.listen_address() && !absl::EndsWith(address, ":0");
    if (!address.empty() && (same_as_api || address.rfind(':') == std::string::npos)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": must be host:port, and not the API's listen_address (", address, ")"));
    }
  }
  if (!c.ops().listen_address().empty() && c.ops().listen_address() == c.ops().grpc_health_address() &&
      !absl::EndsWith(c.ops().listen_address(), ":0")) {
    return absl::InvalidArgumentError("ops.grpc_health_address: must differ from ops.listen_address");
  }
  if (c.logging().format() != "text" && c.logging().format() != "json") {
    return absl::InvalidArgumentError("logging.format: must be text or json");
  }
  return absl::OkStatus();
}

}  // namespace refx::server
