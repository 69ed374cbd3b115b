#include "tests/testing/postgres_fixture.h"

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace refx::testing {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string Password() {
  std::ifstream in(Env("REFX_TEST_POSTGRES_PASSWORD_FILE"));
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripTrailingAsciiWhitespace(line));
}

}  // namespace

bool PostgresAvailable() { return !Env("REFX_TEST_POSTGRES_HOST").empty(); }
bool PostgresRequired() { return Env("REFX_TEST_REQUIRE_POSTGRES") == "1"; }
bool SuiteBackendIsPostgres() { return Env("REFX_TEST_BACKEND") == "postgres"; }

absl::Status RunPostgresSql(const std::string& dbname, const std::string& sql) {
  if (!PostgresAvailable()) return absl::FailedPreconditionError("no test PostgreSQL (scripts/postgres.sh start)");
  const std::string host = Env("REFX_TEST_POSTGRES_HOST");
  const std::string port = Env("REFX_TEST_POSTGRES_PORT");
  const std::string user = Env("REFX_TEST_POSTGRES_USER");
  const std::string password = Password();
  const char* keys[] = {"host", "port", "user", "password", "dbname", nullptr};
  const char* values[] = {host.c_str(), port.c_str(), user.c_str(), password.c_str(), dbname.c_str(), nullptr};
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdbParams(keys, values, 0), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("test PostgreSQL: ", PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()), PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat("test PostgreSQL: ", PQresultErrorMessage(result.get())));
  }
  return absl::OkStatus();
}

absl::StatusOr<config::v1::StorageConfig> NewPostgresDatabase() {
  static std::atomic<int> counter{0};
  const std::string name = absl::StrCat("refx_test_", absl::Uniform<uint32_t>(absl::BitGen()), "_", ++counter);
  if (absl::Status s = RunPostgresSql("postgres", absl::StrCat("CREATE DATABASE ", name)); !s.ok()) return s;
  config::v1::StorageConfig config;
  config.set_backend("postgres");
  config.set_max_batch_size(256);
  config.set_read_connections(4);
  auto* pg = config.mutable_postgres();
  pg->set_host(Env("REFX_TEST_POSTGRES_HOST"));
  pg->set_port(std::atoi(Env("REFX_TEST_POSTGRES_PORT").c_str()));
  pg->set_user(Env("REFX_TEST_POSTGRES_USER"));
  pg->set_dbname(name);
  pg->set_password_file(Env("REFX_TEST_POSTGRES_PASSWORD_FILE"));
  pg->set_sslmode("disable");  // a Unix socket in the test's own directory
  pg->set_pool_size(4);
  pg->set_statement_timeout_ms(30000);
  return config;
}

}  // namespace refx::testing
