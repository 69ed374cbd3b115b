// What the storage suites share (store_conformance_test.cc,
// sqlite_store_test.cc, store_retention_test.cc, encryption_at_rest_test.cc,
// data_key_rotation_test.cc): a minimal valid referral row, the requests that
// store and change it, the backends, and a connection of the test's own to
// the stored bytes, so each test states only what it is about; and a
// connection to derive fault-injecting ones from (commit_retry_test.cc,
// writer_batches_test.cc).
#ifndef REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_
#define REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/make_store.h"
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_store.h"
#include "storage/referral_store.h"
#include "storage/sql_driver.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {

// A connection that passes every call to `inner`: a test derives from it
// and overrides the calls it injects a fault or a wait into.
class ForwardingConnection : public SqlConnection {
 public:
  explicit ForwardingConnection(std::unique_ptr<SqlConnection> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<std::unique_ptr<SqlStatement>> Prepare(const char* sql) override { return inner_->Prepare(sql); }
  absl::Status Exec(const char* sql) override { return inner_->Exec(sql); }
  absl::Status BeginWrite() override { return inner_->BeginWrite(); }
  absl::Status BeginRead() override { return inner_->BeginRead(); }
  absl::Status Commit() override { return inner_->Commit(); }
  absl::Status Rollback() override { return inner_->Rollback(); }
  absl::Status Savepoint() override { return inner_->Savepoint(); }
  absl::Status ReleaseSavepoint() override { return inner_->ReleaseSavepoint(); }
  absl::Status RollbackToSavepoint() override { return inner_->RollbackToSavepoint(); }

 protected:
  SqlConnection& inner() { return *inner_; }

 private:
  std::unique_ptr<SqlConnection> inner_;
};

inline StoredReferral Referral(const std::string& id, const std::string& sender, std::vector<std::string> recipients,
                               absl::Time created, const std::string& area = "leicester") {
  StoredReferral r;
  r.id = id;
  r.sender_agency = sender;
  r.recipient_agencies = std::move(recipients);
  r.state = 1;
  r.area = area;
  r.report_type = 1;
  r.strands = {"race"};
  r.create_time = r.update_time = created;
  r.etag = "e-" + id;
  r.document = "doc-" + id;
  return r;
}

inline CreateReferralRequest Request(StoredReferral r, const std::string& request_id, const std::string& fp = "fp") {
  CreateReferralRequest req;
  req.request_id = request_id;
  req.request_fingerprint = fp;
  req.referral = std::move(r);
  return req;
}

// Change requests over a referral made by Referral(): a lifecycle change to
// state 2, a case update (a second later), and the event a change logs.
inline UpdateReferralRequest Update(const StoredReferral& base, const std::string& agency, const std::string& request_id,
                             const std::string& expected_etag, const std::string& new_etag) {
  UpdateReferralRequest req;
  req.agency_id = agency;
  req.request_id = request_id;
  req.request_fingerprint = "fp-" + request_id + new_etag;
  req.expected_etag = expected_etag;
  req.referral = base;
  req.referral.state = 2;
  req.referral.etag = new_etag;
  req.referral.document = "doc-" + new_etag;
  req.audit.action = "ALTERATION";
  return req;
}

inline ReferralEvent Event(const StoredReferral& r, int32_t kind) {
  ReferralEvent e;
  e.time = r.update_time;
  e.kind = kind;
  e.referral_id = r.id;
  e.audience = {r.sender_agency};
  for (const auto& a : r.recipient_agencies) e.audience.push_back(a);
  e.referral_document = r.document;
  return e;
}

inline AddCaseUpdateRequest CaseUpdate(const StoredReferral& base, const std::string& agency, const std::string& request_id,
                                const std::string& expected_etag, const std::string& new_etag,
                                const std::string& update_id) {
  AddCaseUpdateRequest req;
  req.agency_id = agency;
  req.request_id = request_id;
  req.request_fingerprint = "fp-" + request_id + update_id;
  req.expected_etag = expected_etag;
  req.referral = base;
  req.referral.etag = new_etag;
  req.referral.update_time = base.update_time + absl::Seconds(1);
  req.referral.document = "doc-" + new_etag;
  req.update.update_id = update_id;
  req.update.kind = 1;
  req.update.author_agency = agency;
  req.update.create_time = req.referral.update_time;
  req.update.document = "update-" + update_id;
  req.audit.action = "ALTERATION";
  return req;
}

// The backends every store suite runs against: SQLite, and PostgreSQL when
// the test server is up (required in CI). Suites derive their fixture from
// StoreBackendTest and instantiate it with AllBackends().
struct Backend {
  std::string name;
  std::function<std::unique_ptr<ReferralStore>(const std::string& dir)> open;
};

inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// The contract holds with encryption at rest on, as every server runs
// (encryption_at_rest_test.cc covers it, and the store without it).
inline KeyEncryptionKey ConformanceKey() {
  KeyEncryptionKey kek;
  kek.key = std::string(32, 'c');
  kek.source = "conformance test key";
  return kek;
}

inline std::unique_ptr<ReferralStore> OpenSqliteBackend(const std::string& dir, int batch = 256) {
  sqlite::SqliteStore::Options options;
  options.path = dir + "/store.db";
  options.max_batch_size = batch;
  options.key_encryption_key = ConformanceKey();
  auto store = sqlite::SqliteStore::Create(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// A store (a replica: call it again for another) on the database `config`
// names, as a server opens it; null, with a test failure, if it cannot.
inline std::unique_ptr<ReferralStore> OpenConfiguredStore(const config::v1::StorageConfig& config,
                                                          KeyEncryptionKey kek = ConformanceKey()) {
  MakeStoreOptions options;
  options.config = config;
  options.key_encryption_key = std::move(kek);
  auto store = MakeStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

inline std::unique_ptr<ReferralStore> OpenPostgresBackend(const std::string&) {
  auto config = testing::NewPostgresDatabase();
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? OpenConfiguredStore(*config) : nullptr;
}

// The configuration of an SQLite store at `path`, as a server's would be.
inline config::v1::StorageConfig SqliteConfig(const std::string& path) {
  config::v1::StorageConfig config;
  config.set_backend("sqlite");
  config.set_sqlite_path(path);
  config.set_max_batch_size(256);
  config.set_read_connections(4);
  return config;
}

// A new, empty database of `backend` ("sqlite": refx.db in `dir`;
// "postgres": a database of its own on the test server).
inline absl::StatusOr<config::v1::StorageConfig> NewDatabaseConfig(const std::string& backend, const std::string& dir) {
  if (backend == "postgres") return testing::NewPostgresDatabase();
  return SqliteConfig(dir + "/refx.db");
}

// A connection of the test's own to the database `config` names, to look at
// the stored bytes past the store (or, writable, to make a database as an
// older release left it); null, with a test failure, if it cannot connect.
inline std::unique_ptr<SqlConnection> OpenRawConnection(const config::v1::StorageConfig& config,
                                                        bool read_only = true) {
  if (config.backend() == "postgres") {
    auto parameters = postgres::ParametersFromConfig(config.postgres());
    EXPECT_TRUE(parameters.ok()) << parameters.status();
    if (!parameters.ok()) return nullptr;
    auto conn = postgres::Connection::Open(*parameters, read_only);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? std::move(*conn) : nullptr;
  }
  auto conn = sqlite::Connection::Open(config.sqlite_path(), read_only);
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

class StoreBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().name == "postgres") REFX_SKIP_UNLESS_POSTGRES();
    dir_ = testing::MakeTempDir("store");
    store_ = GetParam().open(dir_);
    ASSERT_NE(store_, nullptr);
  }
  std::string dir_;
  std::unique_ptr<ReferralStore> store_;
};

inline auto AllBackends() {
  return ::testing::Values(Backend{"sqlite", [](const std::string& d) { return OpenSqliteBackend(d); }},
                           Backend{"postgres", OpenPostgresBackend});
}
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

}  // namespace refx::storage

#endif  // REFX_TESTS_STORAGE_STORE_TEST_SUPPORT_H_
