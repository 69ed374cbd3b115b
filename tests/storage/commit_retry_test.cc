// A write whose transaction fails on the way to a networked database is
// applied exactly once: the engine (storage/sql_store.h, for dialects with
// retry_failed_commits, i.e. PostgreSQL) looks for the batch's last audit
// event, answers the write if the COMMIT was applied and its answer lost,
// and runs the batch again if it was not. Faults are injected by a
// connection that wraps a real SQLite connection and fails COMMIT either
// before passing it on or after it succeeded.
#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "storage/sql_store.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_statements.h"
#include "tests/storage/store_test_support.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {
namespace {

struct Faults {
  std::atomic<int> fail_begin{0};          // BEGINs refused
  std::atomic<int> fail_before_commit{0};  // COMMITs refused (nothing committed)
  std::atomic<int> lose_commit_answer{0};  // COMMITs applied, answered UNAVAILABLE
};

// Every call goes to `inner`; BeginWrite and Commit obey `faults`.
class FaultyConnection final : public ForwardingConnection {
 public:
  FaultyConnection(std::unique_ptr<SqlConnection> inner, Faults* faults)
      : ForwardingConnection(std::move(inner)), faults_(faults) {}
  absl::Status BeginWrite() override {
    if (faults_->fail_begin.fetch_sub(1) > 0) return absl::UnavailableError("connection lost at BEGIN");
    faults_->fail_begin.store(0);
    return inner().BeginWrite();
  }
  absl::Status Commit() override {
    if (faults_->fail_before_commit.fetch_sub(1) > 0) {
      inner().Rollback().IgnoreError();
      return absl::UnavailableError("connection lost before COMMIT");
    }
    faults_->fail_before_commit.store(0);
    absl::Status committed = inner().Commit();
    if (committed.ok() && faults_->lose_commit_answer.fetch_sub(1) > 0) {
      return absl::UnavailableError("connection lost after COMMIT was sent");
    }
    faults_->lose_commit_answer.store(0);
    return committed;
  }

 private:
  Faults* faults_;
};

class CommitRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dialect_ = sqlite::SqliteDialect();
    dialect_.retry_failed_commits = true;  // as PostgreSQL's
    const std::string path = testing::MakeTempDir("commit-retry") + "/store.db";
    SqlStore::Options options;
    options.dialect = &dialect_;
    options.description = "test database";
    options.connect = [this, path](bool read_only) -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
      auto conn = sqlite::Connection::Open(path, read_only);
      if (!conn.ok()) return conn.status();
      return std::unique_ptr<SqlConnection>(std::make_unique<FaultyConnection>(*std::move(conn), &faults_));
    };
    auto store = SqlStore::Open(std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  size_t AuditEvents() {
    AuditQuery query;
    query.limit = 100;
    auto events = store_->ListAuditEvents(query);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? events->size() : 0;
  }

  CreateReferralRequest Create(const std::string& id) {
    CreateReferralRequest request = Request(Referral(id, "police", {"city"}, absl::Now()), "request-" + id);
    request.audit.action = "COLLECTION";
    return request;
  }

  SqlDialect dialect_;
  Faults faults_;
  std::unique_ptr<SqlStore> store_;
};

TEST_F(CommitRetryTest, ACommitWhoseAnswerWasLostIsConfirmedNotRepeated) {
  faults_.lose_commit_answer = 1;
  auto created = store_->CreateReferral(Create("a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->replayed);
  EXPECT_TRUE(store_->GetReferral("a").ok());
  // An audit event alone has no request id: still written once.
  faults_.lose_commit_answer = 1;
  AuditRecord read;
  read.action = "CONSULTATION";
  ASSERT_TRUE(store_->RecordAudit(read).ok());
  EXPECT_EQ(AuditEvents(), 2u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_F(CommitRetryTest, ABatchThatDidNotCommitRunsAgainOnce) {
  faults_.fail_before_commit = 2;  // the third attempt commits
  auto created = store_->CreateReferral(Create("b"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->replayed);
  EXPECT_EQ(AuditEvents(), 1u);
  ListReferralsQuery query;
  query.party_agency = "city";
  query.limit = 10;
  EXPECT_EQ(store_->ListReferrals(query)->size(), 1u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_F(CommitRetryTest, ABatchThatNeverBeganIsNotTakenForThePreviousOne) {
  ASSERT_TRUE(store_->CreateReferral(Create("before")).ok());
  // The previous batch's last audit event is stored: it must not vouch for
  // a batch that failed before writing anything.
  faults_.fail_begin = 1;
  auto created = store_->CreateReferral(Create("d"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(store_->GetReferral("d").ok());
  EXPECT_EQ(AuditEvents(), 2u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_F(CommitRetryTest, AFailureThatOutlastsTheRetriesIsReportedAndStoresNothing) {
  faults_.fail_before_commit = 3;  // every attempt
  auto created = store_->CreateReferral(Create("c"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_EQ(store_->GetReferral("c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AuditEvents(), 0u);
  // The client's retry with the same request id is then applied, once.
  auto retried = store_->CreateReferral(Create("c"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_FALSE(retried->replayed);
  auto again = store_->CreateReferral(Create("c"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(AuditEvents(), 1u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

}  // namespace
}  // namespace refx::storage
