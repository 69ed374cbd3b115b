#include "core/audit_coalescer.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::core {
namespace {

// A scheduler that holds tasks until the test runs them, as a busy work
// pool would while other sessions' batches are still being prepared.
class HeldTasks {
 public:
  std::function<bool(std::function<void()>)> Scheduler() {
    return [this](std::function<void()> task) {
      tasks_.push_back(std::move(task));
      return true;
    };
  }
  void RunAll() {
    while (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      task();
    }
  }

 private:
  std::deque<std::function<void()>> tasks_;
};

class AuditCoalescerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/refx-audit-coalescer-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    path_ = std::string(dir_template) + "/refx.db";
    storage::sqlite::SqliteStore::Options options;
    options.path = path_;
    auto store = storage::sqlite::SqliteStore::Create(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auditor_ = std::make_unique<Auditor>(Auditor::Options{.store = store_.get(), .hmac_key = std::string(32, 'k')});
  }
  void TearDown() override {
    auditor_.reset();
    store_.reset();
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path());
  }

  // One stream's batch of referral `id`, sent under certificate `serial`.
  storage::AuditRecord Batch(const std::string& serial, const std::string& id, absl::Time time) {
    storage::AuditRecord r;
    r.time = time;
    r.action = "DISCLOSURE";
    r.method = "refx.v1.ReferralService.WatchReferrals";
    r.agency_id = "leicester-city-council";
    r.certificate_serial = serial;
    r.purpose = "safeguarding";
    r.referral_ids = id;
    r.data_classes = "VICTIM_IDENTITY";
    r.outcome = "OK";
    r.agreement = "isa@1";
    return r;
  }

  // Submits `record` and counts its outcome.
  void Submit(AuditCoalescer& coalescer, storage::AuditRecord record) {
    auto done = std::make_shared<absl::Notification>();
    completions_.push_back(done);
    coalescer.RecordAsync(std::move(record), [this, done](absl::Status written) {
      absl::MutexLock lock(&mu_);
      outcomes_.push_back(written);
      done->Notify();
    });
  }

  void AwaitAll() {
    for (const auto& done : completions_) {
      ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(10)));
    }
  }

  std::vector<storage::AuditRecord> Events() {
    auto events = auditor_->ListEvents(storage::AuditQuery{});
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<storage::AuditRecord>{};
  }

  std::string path_;
  std::unique_ptr<storage::ReferralStore> store_;
  std::unique_ptr<Auditor> auditor_;
  std::vector<std::shared_ptr<absl::Notification>> completions_;
  absl::Mutex mu_;
  std::vector<absl::Status> outcomes_;
};

TEST_F(AuditCoalescerTest, AlikeBatchesSubmittedBeforeTheFlushBecomeOneEventCountingEachStream) {
  HeldTasks pool;
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = pool.Scheduler()});
  const absl::Time first = absl::FromUnixSeconds(1800000000);
  Submit(coalescer, Batch("0a", "r1", first + absl::Milliseconds(3)));
  Submit(coalescer, Batch("0a", "r1", first));
  Submit(coalescer, Batch("0a", "r1", first + absl::Milliseconds(1)));
  EXPECT_EQ(coalescer.pending_groups(), 1u);
  pool.RunAll();
  AwaitAll();

  std::vector<storage::AuditRecord> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].count, 3);
  EXPECT_EQ(events[0].time, first);  // the earliest disclosure's time
  EXPECT_EQ(events[0].referral_ids, "r1");
  EXPECT_EQ(events[0].certificate_serial, "0a");
  ASSERT_EQ(outcomes_.size(), 3u);
  for (const absl::Status& s : outcomes_) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(coalescer.pending_groups(), 0u);
  auto verdict = auditor_->Verify();
  ASSERT_TRUE(verdict.ok());
  EXPECT_TRUE(verdict->intact);
}

TEST_F(AuditCoalescerTest, WhatDiffersInAnyFieldIsAnotherEvent) {
  HeldTasks pool;
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = pool.Scheduler()});
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  Submit(coalescer, Batch("0a", "r1", now));
  Submit(coalescer, Batch("0b", "r1", now));  // another certificate
  Submit(coalescer, Batch("0a", "r2", now));  // another batch
  storage::AuditRecord masked = Batch("0a", "r1", now);
  masked.data_classes = "";  // another read mask
  Submit(coalescer, masked);
  storage::AuditRecord person = Batch("0a", "r1", now);
  person.acting_user_hmac = "ab";  // another acting person
  Submit(coalescer, person);
  Submit(coalescer, Batch("0a", "r1", now));  // alike the first
  pool.RunAll();
  AwaitAll();

  std::vector<storage::AuditRecord> events = Events();
  ASSERT_EQ(events.size(), 5u);
  int64_t total = 0;
  for (const auto& e : events) total += e.count;
  EXPECT_EQ(total, 6);
}

TEST_F(AuditCoalescerTest, ABatchSubmittedAfterItsGroupWasWrittenGetsAnEventOfItsOwn) {
  HeldTasks pool;
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = pool.Scheduler()});
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  Submit(coalescer, Batch("0a", "r1", now));
  pool.RunAll();
  Submit(coalescer, Batch("0a", "r1", now));
  pool.RunAll();
  AwaitAll();
  std::vector<storage::AuditRecord> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].count, 1);
  EXPECT_EQ(events[1].count, 1);
}

TEST_F(AuditCoalescerTest, WhenThePoolRefusesTheFlushTheEventIsWrittenAtOnce) {
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = [](std::function<void()>) { return false; }});
  Submit(coalescer, Batch("0a", "r1", absl::FromUnixSeconds(1800000000)));
  EXPECT_EQ(coalescer.pending_groups(), 0u);
  AwaitAll();
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(AuditCoalescerTest, FlushAllHandsEveryPendingGroupToTheStore) {
  HeldTasks pool;  // never run: the server is stopping
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = pool.Scheduler()});
  Submit(coalescer, Batch("0a", "r1", absl::FromUnixSeconds(1800000000)));
  Submit(coalescer, Batch("0a", "r2", absl::FromUnixSeconds(1800000000)));
  coalescer.FlushAll();
  AwaitAll();
  EXPECT_EQ(Events().size(), 2u);
  pool.RunAll();  // the queued flushes find nothing left to write
  EXPECT_EQ(Events().size(), 2u);
}

TEST_F(AuditCoalescerTest, WhenTheGroupsEventCannotBeWrittenEveryStreamHearsItAndNothingIsRecorded) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                         "BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  HeldTasks pool;
  AuditCoalescer coalescer({.auditor = auditor_.get(), .schedule = pool.Scheduler()});
  for (int i = 0; i < 4; ++i) Submit(coalescer, Batch("0a", "r1", absl::FromUnixSeconds(1800000000)));
  pool.RunAll();
  AwaitAll();
  ASSERT_EQ(outcomes_.size(), 4u);
  for (const absl::Status& s : outcomes_) EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_TRUE(Events().empty());
}

TEST(AuditCoalescingKeyTest, NoTwoDifferentRecordsShareAKey) {
  storage::AuditRecord a, b;
  a.referral_ids = "r1,";
  a.data_classes = "X";
  b.referral_ids = "r1";
  b.data_classes = ",X";
  EXPECT_NE(AuditCoalescingKey(a), AuditCoalescingKey(b));
  storage::AuditRecord c = a;
  c.time = absl::Now();
  c.count = 7;
  EXPECT_EQ(AuditCoalescingKey(a), AuditCoalescingKey(c));
}

}  // namespace
}  // namespace refx::core
