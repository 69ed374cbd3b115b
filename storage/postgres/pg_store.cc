#include "storage/postgres/pg_store.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "storage/postgres/pg_statements.h"

namespace refx::storage::postgres {
namespace {

bool IsLocalHost(const std::string& host) {
  return host.empty() || host[0] == '/' || host == "localhost" || host == "127.0.0.1" || host == "::1";
}

absl::StatusOr<std::string> ReadPassword(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("storage.postgres.password_file: ", path, " does not exist"));
  }
  REFX_RETURN_IF_ERROR(CheckSecretFileMode("storage.postgres.password_file", path));
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(absl::StrCat("storage.postgres.password_file: ", path, " is empty"));
  }
  return std::string(absl::StripTrailingAsciiWhitespace(line));
}

}  // namespace

absl::StatusOr<ConnectParameters> ParametersFromConfig(const config::v1::PostgresConfig& c) {
  // Where the connection will go: the config's host, else the DSN's, else
  // libpq's environment (PGHOST/PGHOSTADDR), else the local socket.
  std::string dsn_host, dsn_hostaddr;
  if (!c.dsn().empty()) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(c.dsn().c_str(), &error);
    if (options == nullptr) {
      std::string why = error != nullptr ? std::string(absl::StripAsciiWhitespace(error)) : "out of memory";
      PQfreemem(error);
      return absl::InvalidArgumentError(absl::StrCat("storage.postgres.dsn: cannot be parsed: ", why));
    }
    bool has_password = false;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      const std::string keyword = o->keyword;
      if (keyword == "password") has_password = true;
      if (keyword == "host") dsn_host = o->val;
      if (keyword == "hostaddr") dsn_hostaddr = o->val;
    }
    PQconninfoFree(options);
    if (has_password) {
      return absl::InvalidArgumentError(
          "storage.postgres.dsn: carries a password; put it in storage.postgres.password_file or PGPASSFILE");
    }
  }
  auto from_env = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
  };
  const std::string host = !c.host().empty() ? c.host() : !dsn_host.empty() ? dsn_host : from_env("PGHOST");
  const std::string hostaddr = !dsn_hostaddr.empty() ? dsn_hostaddr : from_env("PGHOSTADDR");
  static const char* const kModes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
  bool known = false;
  for (const char* mode : kModes) known = known || c.sslmode() == mode;
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage.postgres.sslmode: \"", c.sslmode(), "\" is not one of disable, allow, prefer, require, "
        "verify-ca, verify-full"));
  }
  const bool plaintext_possible = c.sslmode() == "disable" || c.sslmode() == "allow" || c.sslmode() == "prefer";
  if (plaintext_possible && (!IsLocalHost(host) || !IsLocalHost(hostaddr))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage.postgres.sslmode: \"", c.sslmode(), "\" may send victims' data unencrypted to ",
        host.empty() ? hostaddr : host,
        "; use verify-full (or require) for a database on another host"));
  }
  if (c.pool_size() < 1) return absl::InvalidArgumentError("storage.postgres.pool_size: must be positive");
  if (c.statement_timeout_ms() < 0) {
    return absl::InvalidArgumentError("storage.postgres.statement_timeout_ms: must not be negative");
  }
  ConnectParameters p;
  if (!c.dsn().empty()) p.parameters.push_back({"dbname", c.dsn()});
  if (!c.host().empty()) p.parameters.push_back({"host", c.host()});
  if (c.port() != 0) p.parameters.push_back({"port", absl::StrCat(c.port())});
  if (!c.dbname().empty()) p.parameters.push_back({"dbname", c.dbname()});
  if (!c.user().empty()) p.parameters.push_back({"user", c.user()});
  p.parameters.push_back({"sslmode", c.sslmode()});
  if (!c.sslrootcert().empty()) p.parameters.push_back({"sslrootcert", c.sslrootcert()});
  p.parameters.push_back({"application_name", "refx-server"});
  p.parameters.push_back({"connect_timeout", "5"});
  if (!c.password_file().empty()) {
    REFX_ASSIGN_OR_RETURN(std::string password, ReadPassword(c.password_file()));
    p.parameters.push_back({"password", password});
  }
  p.statement_timeout_ms = c.statement_timeout_ms();
  return p;
}

std::string Describe(const config::v1::PostgresConfig& c) {
  if (!c.host().empty() || !c.dbname().empty()) {
    return absl::StrCat("postgres:", c.host().empty() ? "(default host)" : c.host(),
                        c.port() != 0 ? absl::StrCat(":", c.port()) : "", "/", c.dbname());
  }
  return "postgres (storage.postgres.dsn)";  // the DSN itself may name more than we want in logs
}

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Create(const Options& options) {
  if (options.max_batch_size < 1 || options.pool_size < 1) {
    return absl::InvalidArgumentError("storage: max_batch_size and postgres.pool_size must be >= 1");
  }
  SqlStore::Options engine;
  engine.dialect = &PostgresDialect();
  engine.connect = [parameters = options.connect](bool read_only) -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
    REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(parameters, read_only));
    return std::unique_ptr<SqlConnection>(std::move(conn));
  };
  engine.description = options.description;
  engine.max_batch_size = options.max_batch_size;
  engine.read_connections = options.pool_size;
  engine.audit_head_key = options.audit_head_key;
  engine.adopt_unsigned_head = options.adopt_unsigned_head;
  engine.commit_observer = options.commit_observer;
  engine.key_encryption_key = options.key_encryption_key;
  engine.schema_only = options.schema_only;
  auto store = std::unique_ptr<PostgresStore>(new PostgresStore(std::move(engine)));
  REFX_RETURN_IF_ERROR(store->Start());
  return store;
}

absl::StatusOr<DatabaseProbe> Probe(const ConnectParameters& parameters) {
  REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(parameters, /*read_only=*/true));
  DatabaseProbe probe;
  probe.server_version = conn->ServerVersion();
  probe.tls = conn->UsesTls();
  probe.latest_schema_version = Migrations().empty() ? 0 : Migrations().back().version;
  // A database never migrated has no schema_migrations table: version 0.
  auto exists = conn->Prepare("SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END");
  REFX_RETURN_IF_ERROR(exists.status());
  REFX_ASSIGN_OR_RETURN(bool row, (*exists)->Step());
  if (row && (*exists)->Int(0) == 1) {
    REFX_ASSIGN_OR_RETURN(auto version, conn->Prepare(PostgresDialect().select_schema_version));
    REFX_ASSIGN_OR_RETURN(bool has, version->Step());
    probe.schema_version = has ? static_cast<int>(version->Int(0)) : 0;
  }
  return probe;
}

absl::StatusOr<AuditChainReport> VerifyAuditChainInDatabase(const ConnectParameters& parameters,
                                                            const VerifyingKey* key, const AuditHead* checkpoint) {
  REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(parameters, /*read_only=*/true));
  return VerifyAuditChainOn(conn.get(), PostgresDialect(), key, checkpoint);
}

}  // namespace refx::storage::postgres
