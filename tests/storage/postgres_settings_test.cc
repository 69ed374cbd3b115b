// How refx reaches PostgreSQL: the settings it refuses before connecting
// (a password in the DSN, a plaintext sslmode to a host that is not local,
// a password file others can read or that is missing, an unknown sslmode),
// and over TCP: verify-full against the server's CA connects encrypted,
// while plaintext (the test server has hostssl lines only) and a wrong CA
// are refused. Uses the test server of scripts/postgres.sh for the TCP part.
// And the driver's pipelined write transactions: a statement sent without
// waiting that fails is reported by the next one that waits, and fails the
// commit rather than being rolled back in silence; and a pooled connection
// whose session the server ended while it sat idle is reopened before its
// next statement.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/make_store.h"
#include "storage/postgres/pg_store.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_pki.h"

namespace refx::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

config::v1::StorageConfig Postgres() {
  config::v1::StorageConfig c;
  c.set_backend("postgres");
  c.mutable_postgres()->set_sslmode("verify-full");
  c.mutable_postgres()->set_pool_size(1);
  c.mutable_postgres()->set_statement_timeout_ms(30000);
  return c;
}

std::string WriteSecret(const std::string& dir, mode_t mode) {
  const std::string path = dir + "/password";
  std::ofstream(path) << "QZSECRETCANARY\n";
  chmod(path.c_str(), mode);
  return path;
}

TEST(PostgresSettingsTest, RefusesWhatWouldLeakBeforeConnecting) {
  const std::string dir = testing::MakeTempDir("pg-settings");
  struct Case {
    const char* what;
    std::function<void(config::v1::PostgresConfig*)> set;
    absl::StatusCode code;
    const char* names;
  };
  const std::vector<Case> cases = {
      {"password in a DSN", [](auto* p) { p->set_dsn("host=db.example.org dbname=refx password=QZSECRETCANARY"); },
       absl::StatusCode::kInvalidArgument, "storage.postgres.dsn"},
      {"password in a URI", [](auto* p) { p->set_dsn("postgresql://refx:QZSECRETCANARY@db.example.org/refx"); },
       absl::StatusCode::kInvalidArgument, "storage.postgres.dsn"},
      {"plaintext to a remote host",
       [](auto* p) {
         p->set_host("db.example.org");
         p->set_sslmode("disable");
       },
       absl::StatusCode::kInvalidArgument, "storage.postgres.sslmode"},
      {"plaintext to a remote host named in the DSN",
       [](auto* p) {
         p->set_dsn("host=db.example.org dbname=refx");
         p->set_sslmode("prefer");
       },
       absl::StatusCode::kInvalidArgument, "storage.postgres.sslmode"},
      {"unknown sslmode", [](auto* p) { p->set_sslmode("verify-some"); }, absl::StatusCode::kInvalidArgument,
       "storage.postgres.sslmode"},
      {"missing password file", [&](auto* p) { p->set_password_file(dir + "/absent"); },
       absl::StatusCode::kNotFound, "storage.postgres.password_file"},
      {"password file others can read", [&](auto* p) { p->set_password_file(WriteSecret(dir, 0644)); },
       absl::StatusCode::kFailedPrecondition, "storage.postgres.password_file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    config::v1::StorageConfig config = Postgres();
    c.set(config.mutable_postgres());
    absl::Status status = CheckStorageConfig(config);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.names));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("QZSECRETCANARY")));
  }
  config::v1::StorageConfig unknown = Postgres();
  unknown.set_backend("mysql");
  EXPECT_THAT(std::string(CheckStorageConfig(unknown).message()), HasSubstr("storage.backend"));

  // Accepted: TLS to a remote host; plaintext to a socket or loopback.
  config::v1::StorageConfig remote = Postgres();
  remote.mutable_postgres()->set_host("db.example.org");
  remote.mutable_postgres()->set_password_file(WriteSecret(dir, 0600));
  EXPECT_TRUE(CheckStorageConfig(remote).ok());
  for (const char* local : {"/var/run/postgresql", "localhost", "127.0.0.1"}) {
    config::v1::StorageConfig plain = Postgres();
    plain.mutable_postgres()->set_host(local);
    plain.mutable_postgres()->set_sslmode("disable");
    EXPECT_TRUE(CheckStorageConfig(plain).ok()) << local;
  }
}

TEST(PostgresSettingsTest, TcpIsVerifiedTlsOnly) {
  REFX_SKIP_UNLESS_POSTGRES();
  const char* ca = std::getenv("REFX_TEST_POSTGRES_CA");
  ASSERT_NE(ca, nullptr) << "scripts/postgres.sh sets REFX_TEST_POSTGRES_CA";
  auto base = testing::NewPostgresDatabase();
  ASSERT_TRUE(base.ok()) << base.status();
  auto over_tcp = [&](const std::string& sslmode, const std::string& root) {
    config::v1::StorageConfig c = *base;
    c.mutable_postgres()->set_host("localhost");
    c.mutable_postgres()->set_sslmode(sslmode);
    c.mutable_postgres()->set_sslrootcert(root);
    return c;
  };

  auto described = DescribeStore(over_tcp("verify-full", ca));
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_THAT(*described, HasSubstr("over TLS"));
  MakeStoreOptions options;
  options.config = over_tcp("verify-full", ca);
  auto store = MakeStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->CheckHealth().ok());
  store->reset();

  // Plaintext over TCP: the server has no entry for it.
  options.config = over_tcp("disable", "");
  auto plaintext = MakeStore(options);
  EXPECT_EQ(plaintext.status().code(), absl::StatusCode::kUnavailable) << plaintext.status();
  // A certificate that does not chain to the configured root.
  const std::string dir = testing::MakeTempDir("pg-other-root");
  auto other_pki = testing::TestPki::Create(dir + "/pki", "other.example", {});
  ASSERT_TRUE(other_pki.ok()) << other_pki.status();
  const std::string other_root = dir + "/other-root.pem";
  std::ofstream(other_root) << (*other_pki)->root_ca_pem();
  options.config = over_tcp("verify-full", other_root);
  auto wrong_root = MakeStore(options);
  EXPECT_EQ(wrong_root.status().code(), absl::StatusCode::kUnavailable) << wrong_root.status();
}

TEST(PostgresSettingsTest, APipelinedStatementThatFailsFailsItsTransaction) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  auto parameters = postgres::ParametersFromConfig(config->postgres());
  ASSERT_TRUE(parameters.ok()) << parameters.status();
  auto conn = postgres::Connection::Open(*parameters, /*read_only=*/false);
  ASSERT_TRUE(conn.ok()) << conn.status();
  postgres::Connection& c = **conn;
  ASSERT_TRUE(c.Exec("CREATE TABLE t (k BIGINT PRIMARY KEY)").ok());
  static const char kInsert[] = "INSERT INTO t (k) VALUES (CAST(:k AS BIGINT))";
  static const char kCount[] = "SELECT COUNT(*) FROM t";
  auto insert = [&](int64_t k) {
    auto stmt = c.Prepare(kInsert);
    EXPECT_TRUE(stmt.ok()) << stmt.status();
    return stmt.ok() ? (*stmt)->Bind(":k", k).Run() : stmt.status();
  };
  auto count = [&]() -> absl::StatusOr<int64_t> {
    auto stmt = c.Prepare(kCount);
    if (!stmt.ok()) return stmt.status();
    auto row = (*stmt)->Step();
    if (!row.ok()) return row.status();
    return (*stmt)->Int(0);
  };

  // Sent without waiting: 300 inserts (past the pipeline's read-every-128)
  // and a read that waits for them all.
  ASSERT_TRUE(c.BeginWrite().ok());
  for (int64_t k = 1; k <= 300; ++k) ASSERT_TRUE(insert(k).ok());
  auto counted = count();
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(*counted, 300);
  ASSERT_TRUE(c.Commit().ok());

  // A duplicate key: accepted when sent, reported by the next statement
  // that waits, as the constraint it broke.
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(insert(1).ok());
  ASSERT_TRUE(insert(1000).ok());
  EXPECT_EQ(count().status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(c.Commit().ok());
  ASSERT_TRUE(c.Rollback().ok());

  // Reported at COMMIT when nothing waited before it: the commit fails and
  // nothing of the transaction is stored.
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(insert(2000).ok());
  ASSERT_TRUE(insert(2).ok());
  const absl::Status committed = c.Commit();
  EXPECT_EQ(committed.code(), absl::StatusCode::kAlreadyExists) << committed;
  EXPECT_TRUE(c.CommitFailedOnAStatement());  // the COMMIT itself never ran
  ASSERT_TRUE(c.Rollback().ok());
  EXPECT_EQ(*count(), 300);

  // Flush reports what was sent, and the connection goes on afterwards.
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(insert(3).ok());
  EXPECT_EQ(c.Flush().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.Rollback().ok());
  ASSERT_TRUE(c.BeginWrite().ok());
  ASSERT_TRUE(insert(301).ok());
  ASSERT_TRUE(c.Commit().ok());
  EXPECT_EQ(*count(), 301);
}

TEST(PostgresSettingsTest, AnIdleConnectionTheServerEndedIsReopenedBeforeItsNextStatement) {
  // A pooled reader sits idle while PostgreSQL restarts (or an administrator
  // ends its session); the next read on it must not be the one that finds
  // out. Ending the session here stands in for the restart.
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  auto parameters = postgres::ParametersFromConfig(config->postgres());
  ASSERT_TRUE(parameters.ok()) << parameters.status();
  auto pooled = postgres::Connection::Open(*parameters, /*read_only=*/true);
  auto admin = postgres::Connection::Open(*parameters, /*read_only=*/false);
  ASSERT_TRUE(pooled.ok()) << pooled.status();
  ASSERT_TRUE(admin.ok()) << admin.status();
  static const char kPid[] = "SELECT pg_backend_pid()";
  static const char kEnd[] = "SELECT pg_terminate_backend(CAST(:pid AS INTEGER), 10000)";
  auto backend_pid = [&]() -> absl::StatusOr<int64_t> {
    auto stmt = (*pooled)->Prepare(kPid);
    if (!stmt.ok()) return stmt.status();
    auto row = (*stmt)->Step();
    if (!row.ok()) return row.status();
    return (*stmt)->Int(0);
  };
  auto end_session = [&](int64_t pid) {
    auto stmt = (*admin)->Prepare(kEnd);
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    (*stmt)->Bind(":pid", pid);
    auto row = (*stmt)->Step();
    ASSERT_TRUE(row.ok() && *row) << row.status();
    ASSERT_EQ((*stmt)->Int(0), 1) << "the session did not end within 10 s";
  };

  ::testing::internal::CaptureStderr();
  auto first = backend_pid();
  ASSERT_TRUE(first.ok()) << first.status();
  end_session(*first);
  // A prepared statement's next run: answered, by a new session.
  auto second = backend_pid();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*second, *first);
  // A read transaction's BEGIN (how the store starts most reads).
  end_session(*second);
  ASSERT_TRUE((*pooled)->BeginRead().ok());
  auto third = backend_pid();
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(*third, *second);
  ASSERT_TRUE((*pooled)->Commit().ok());
  // Nor is anything printed, a server's warning included ("there is no
  // transaction in progress"): refx logs only its own events.
  EXPECT_TRUE((*admin)->Exec("COMMIT").ok());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(PostgresSettingsTest, ReplicasReadTheEventLogThroughAnIndex) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  MakeStoreOptions options;
  options.config = *config;
  ASSERT_TRUE(MakeStore(options).ok());  // migrates
  auto parameters = postgres::ParametersFromConfig(config->postgres());
  ASSERT_TRUE(parameters.ok()) << parameters.status();
  auto conn = postgres::Connection::Open(*parameters, /*read_only=*/true);
  ASSERT_TRUE(conn.ok()) << conn.status();
  // Every event read by a replica looks its audience up by sequence; a scan
  // per event made creates slower the more events were stored. With scans
  // priced out, a missing index still shows as a scan.
  ASSERT_TRUE((*conn)->Exec("SET enable_seqscan = off").ok());
  static const char kPlan[] =
      "EXPLAIN SELECT string_agg(agency_id, ',') FROM referral_event_audience WHERE sequence = 42";
  auto plan = (*conn)->Prepare(kPlan);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::string text;
  while (true) {
    auto row = (*plan)->Step();
    ASSERT_TRUE(row.ok()) << row.status();
    if (!*row) break;
    text += (*plan)->Text(0) + "\n";
  }
  EXPECT_THAT(text, Not(HasSubstr("Seq Scan"))) << text;
}

}  // namespace
}  // namespace refx::storage
