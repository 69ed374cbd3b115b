// How the store's writer fills a group commit while a backlog waits
// (storage/sql_store.h): an agency's only queued write goes out in a short
// batch, not a full one, so a partner within its share is answered after
// the batch in progress and a short one even while another agency floods
// the writer (issue 17, the well-behaved agency under overload). The
// writer is held in its first transaction by a connection whose BeginWrite
// waits at a gate, so the backlog behind it is known exactly.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/sql_store.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_statements.h"
#include "tests/storage/store_test_support.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {
namespace {

// Holds the next write transaction at BeginWrite until opened.
struct Gate {
  absl::Mutex mu;
  bool armed ABSL_GUARDED_BY(mu) = false;
  bool held ABSL_GUARDED_BY(mu) = false;  // a BeginWrite is waiting
  bool open ABSL_GUARDED_BY(mu) = false;
};

class GatedConnection final : public ForwardingConnection {
 public:
  GatedConnection(std::unique_ptr<SqlConnection> inner, Gate* gate)
      : ForwardingConnection(std::move(inner)), gate_(gate) {}
  absl::Status BeginWrite() override {
    {
      absl::MutexLock lock(&gate_->mu);
      if (gate_->armed) {
        gate_->armed = false;
        gate_->held = true;
        gate_->mu.Await(absl::Condition(&gate_->open));
      }
    }
    return inner().BeginWrite();
  }

 private:
  Gate* gate_;
};

TEST(WriterBatchesTest, UnderABacklogAnAgencysOnlyWriteGoesOutInAShortBatch) {
  Gate gate;
  absl::Mutex mu;
  std::vector<size_t> batches;  // writes per committed transaction, in order
  SqlDialect dialect = sqlite::SqliteDialect();
  const std::string path = testing::MakeTempDir("writer-batches") + "/store.db";
  SqlStore::Options options;
  options.dialect = &dialect;
  options.description = "test database";
  options.connect = [&gate, path](bool read_only) -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
    auto conn = sqlite::Connection::Open(path, read_only);
    if (!conn.ok()) return conn.status();
    return std::unique_ptr<SqlConnection>(std::make_unique<GatedConnection>(*std::move(conn), &gate));
  };
  options.commit_observer = [&](const CommitReport& report) {
    absl::MutexLock lock(&mu);
    if (report.committed) batches.push_back(report.writes);
  };
  auto store = SqlStore::Open(std::move(options));
  ASSERT_TRUE(store.ok()) << store.status();

  auto create = [](const std::string& id, const std::string& sender, const std::string& recipient) {
    CreateReferralRequest request = Request(Referral(id, sender, {recipient}, absl::Now()), "request-" + id);
    request.audit.action = "COLLECTION";
    return request;
  };
  absl::Mutex done_mu;
  int answered = 0;
  size_t lone_answered_after = 0;  // committed batches when the city's write was answered
  auto count = [&](absl::StatusOr<CreateReferralResult> result) {
    EXPECT_TRUE(result.ok()) << result.status();
    absl::MutexLock lock(&done_mu);
    ++answered;
  };

  // The writer takes the first write and waits at the gate; 40 of the
  // police's writes queue behind it, then the city's one.
  {
    absl::MutexLock lock(&gate.mu);
    gate.armed = true;
  }
  (*store)->CreateReferralAsync(create("first", "police", "city"), count);
  {
    absl::MutexLock lock(&gate.mu);
    gate.mu.Await(absl::Condition(&gate.held));
  }
  for (int i = 0; i < 40; ++i)
    (*store)->CreateReferralAsync(create("flood-" + std::to_string(i), "police", "city"), count);
  (*store)->CreateReferralAsync(create("lone", "city", "police"), [&](absl::StatusOr<CreateReferralResult> result) {
    EXPECT_TRUE(result.ok()) << result.status();
    {
      absl::MutexLock lock(&mu);
      lone_answered_after = batches.size();
    }
    absl::MutexLock lock(&done_mu);
    ++answered;
  });
  // The held batch took long for its one write, so the next is the
  // writer's least batch (16), fewer than the 41 queued: a backlog.
  absl::SleepFor(absl::Milliseconds(20));
  {
    absl::MutexLock lock(&gate.mu);
    gate.open = true;
  }
  {
    absl::MutexLock lock(&done_mu);
    done_mu.Await(absl::Condition(
        +[](int* n) { return *n == 42; }, &answered));
  }

  absl::MutexLock lock(&mu);
  // The held batch, then the one the city's write was in: the police's
  // write whose turn came first, the city's, and two more, not 16.
  ASSERT_GE(batches.size(), 3u);
  EXPECT_EQ(batches[0], 1u);
  EXPECT_EQ(batches[1], 2u + SqlStore::kAfterALoneWrite);
  EXPECT_EQ(lone_answered_after, 2u);
  // The rest of the backlog follows; nothing is lost.
  size_t total = 0;
  for (size_t b : batches) total += b;
  EXPECT_EQ(total, 42u);
}

}  // namespace
}  // namespace refx::storage
