// The SQLite backend beyond the store contract: group commit and its
// savepoints, the durability settings and schema version it opens with, and
// the audit chain verified offline from the file (every kind of tampering
// the issue names). The contract itself is store_conformance_test.cc.
#include "storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_statements.h"
#include "tests/storage/store_test_support.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {
namespace {

// A fresh store in a file of `name` under a new temporary directory.
std::unique_ptr<sqlite::SqliteStore> OpenStore(const std::string& name, int max_batch_size = 0) {
  sqlite::SqliteStore::Options options;
  options.path = testing::MakeTempDir(name) + "/" + name + ".db";
  if (max_batch_size > 0) options.max_batch_size = max_batch_size;
  auto store = sqlite::SqliteStore::Create(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// SQLite specifics: durability settings, migrations and group commit.
TEST(SqliteStoreTest, ConcurrentWritesShareCommits) {
  auto store = OpenStore("group");
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 32, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = absl::StrCat("t", t, "-", i);
        if (store->CreateReferral(Request(Referral(id, "police", {"city"}, absl::Now()), id)).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  // Group commit: many calls per fsync. One commit per call would be 640.
  EXPECT_LT(store->commits(), kThreads * kEach / 2) << "commits=" << store->commits();
  ListReferralsQuery q;
  q.party_agency = "city";
  q.limit = 10000;
  EXPECT_EQ(store->ListReferrals(q)->size(), static_cast<size_t>(kThreads * kEach));
}

// The non-blocking writes: one thread hands over many without waiting; each
// is answered once, from its commit, with what the blocking form returns
// (a reused request id with another payload fails alone), and they share
// commits.
TEST(SqliteStoreTest, AsyncWritesFromOneThreadShareCommitsAndAreEachAnsweredOnce) {
  auto store = OpenStore("async");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateReferral(Request(Referral("taken", "police", {"city"}, absl::Now()), "taken", "fp-1")).ok());
  const int64_t commits_before = store->commits();
  constexpr int kWrites = 64;
  absl::Mutex mu;
  int answered = 0, ok = 0;
  std::vector<int> answers(kWrites + 1, 0);
  std::vector<absl::Status> statuses(kWrites + 1);
  for (int i = 0; i <= kWrites; ++i) {
    // The last one reuses a request id with a different fingerprint.
    CreateReferralRequest request = i < kWrites
                                        ? Request(Referral(absl::StrCat("async-", i), "police", {"city"}, absl::Now()),
                                                  absl::StrCat("async-", i))
                                        : Request(Referral("other", "police", {"city"}, absl::Now()), "taken", "fp-2");
    store->CreateReferralAsync(std::move(request), [&, i](absl::StatusOr<CreateReferralResult> result) {
      absl::MutexLock lock(&mu);
      ++answers[i];
      ++answered;
      statuses[i] = result.status();
      if (result.ok() && !result->replayed && result->referral.id == absl::StrCat("async-", i)) ++ok;
    });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(+[](int* n) { return *n == kWrites + 1; }, &answered),
                                    absl::Seconds(30)));
    EXPECT_EQ(ok, kWrites);
    for (int n : answers) EXPECT_EQ(n, 1);
    EXPECT_EQ(statuses[kWrites].code(), absl::StatusCode::kAlreadyExists) << statuses[kWrites];
  }
  EXPECT_LT(store->commits() - commits_before, kWrites / 2) << "commits=" << store->commits();
  for (int i = 0; i < kWrites; ++i) EXPECT_TRUE(store->GetReferral(absl::StrCat("async-", i)).ok()) << i;
  EXPECT_EQ(store->GetReferral("other").status().code(), absl::StatusCode::kNotFound);
}

// Batches are filled in turn by agency: one agency's write queued behind
// another's backlog of 200 goes in the next batch, not after the backlog.
TEST(SqliteStoreTest, AnAgencysWriteDoesNotWaitBehindAnotherAgencysBacklog) {
  constexpr int kMaxBatch = 16;
  auto store = OpenStore("fair", kMaxBatch);
  ASSERT_NE(store, nullptr);
  constexpr int kBacklog = 200;
  absl::Mutex mu;
  int flood_done = 0, flood_done_before_polite = -1, flood_done_when_polite_queued = 0;
  auto flood_answer = [&](absl::StatusOr<CreateReferralResult> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    absl::MutexLock lock(&mu);
    ++flood_done;
  };
  for (int i = 0; i < kBacklog; ++i) {
    const std::string id = absl::StrCat("flood-", i);
    store->CreateReferralAsync(Request(Referral(id, "flooder", {"city"}, absl::Now()), id), flood_answer);
  }
  store->CreateReferralAsync(Request(Referral("polite-1", "polite", {"city"}, absl::Now()), "polite-1"),
                                [&](absl::StatusOr<CreateReferralResult> r) {
                                  EXPECT_TRUE(r.ok()) << r.status();
                                  absl::MutexLock lock(&mu);
                                  flood_done_before_polite = flood_done;
                                });
  // Read once the polite write is queued: batches the writer took before
  // that (while the backlog was being queued) may all finish first.
  absl::MutexLock lock(&mu);
  flood_done_when_polite_queued = flood_done;
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(+[](int* n) { return *n == kBacklog; }, &flood_done),
                                  absl::Seconds(60)));
  ASSERT_GE(flood_done_before_polite, 0);
  // From then on, at most the batch being written and the polite write's
  // own batch-mates ahead of it. (Reading the count before queueing it let
  // a batch finish in between: 33 against 32, once in CI.)
  EXPECT_LE(flood_done_before_polite - flood_done_when_polite_queued, 2 * kMaxBatch - 1)
      << flood_done_before_polite << " of " << kBacklog << " done, " << flood_done_when_polite_queued
      << " when it was queued";
  EXPECT_LT(flood_done_before_polite, kBacklog);
}

TEST(SqliteStoreTest, AFailedWriteDoesNotTakeItsBatchMatesWithIt) {
  auto store = OpenStore("savepoint");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateReferral(Request(Referral("dup", "police", {"city"}, absl::Now()), "first")).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, failed{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      // Even threads reuse the primary key "dup" (a constraint failure).
      const std::string id = t % 2 == 0 ? "dup" : absl::StrCat("fine", t);
      auto r = store->CreateReferral(Request(Referral(id, "police", {"city"}, absl::Now()), absl::StrCat("q", t)));
      (r.ok() ? ok : failed)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(failed.load(), 8);
  for (int t = 1; t < 16; t += 2) EXPECT_TRUE(store->GetReferral(absl::StrCat("fine", t)).ok());
}

// The writer checkpoints the log every kWalCheckpointPages pages, not
// SQLite's 1,000: the -wal file grows well past 1,000 pages (4 MB) before
// it is reused from its start, and not without bound.
TEST(SqliteStoreTest, TheLogIsCheckpointedEveryFourThousandPagesNotEveryThousand) {
  sqlite::SqliteStore::Options options;
  options.path = testing::MakeTempDir("checkpoints") + "/c.db";
  auto store = sqlite::SqliteStore::Create(options);
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string wal = options.path + "-wal";
  constexpr int64_t kPage = 4096;
  int64_t largest = 0;
  for (int i = 0; i < 3000 && largest <= 2000 * kPage; ++i) {
    const std::string id = absl::StrCat("c", i);
    ASSERT_TRUE((*store)->CreateReferral(Request(Referral(id, "police", {"city"}, absl::Now()), id)).ok());
    std::error_code error;
    largest = std::max(largest, static_cast<int64_t>(std::filesystem::file_size(wal, error)));
  }
  EXPECT_GT(largest, 2000 * kPage) << "the log was checkpointed as SQLite's default does";
  EXPECT_LT(largest, (sqlite::kWalCheckpointPages + 500) * kPage);
}

TEST(SqliteStoreTest, OpensWithWalFullSyncAndRecordsTheSchemaVersion) {
  const std::string dir = testing::MakeTempDir("pragmas");
  sqlite::SqliteStore::Options options;
  options.path = dir + "/p.db";
  {
    auto store = sqlite::SqliteStore::Create(options);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->schema_version(), sqlite::Migrations().back().version);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("SELECT MAX(version) FROM schema_migrations"), std::to_string(sqlite::Migrations().back().version));
  // Recipients are found by referral through an index, not a scan.
  {
    sqlite3_stmt* plan = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT agency_id FROM referral_parties "
                                     "WHERE referral_id = 'x' AND party_role = 'recipient'", -1, &plan, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(plan), SQLITE_ROW);
    const std::string detail = reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
    sqlite3_finalize(plan);
    EXPECT_NE(detail.find("USING"), std::string::npos) << detail;
  }
  // A list page reads the party's rows from its index alone: a seek into
  // referral_parties per listed referral (random in its key) cost a page
  // read each (migration 20).
  {
    sqlite3_stmt* plan = nullptr;
    const std::string explain = std::string("EXPLAIN QUERY PLAN ") + sqlite::SqliteDialect().list_referrals;
    ASSERT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &plan, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string details;
    while (sqlite3_step(plan) == SQLITE_ROW) {
      details += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
      details += "\n";
    }
    sqlite3_finalize(plan);
    EXPECT_NE(details.find("SEARCH p USING COVERING INDEX referral_parties_by_time"), std::string::npos) << details;
  }
  // A database from a newer binary is refused rather than misread.
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'future', 0)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto newer = sqlite::SqliteStore::Create(options);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
}

// The chain's head and the event sequence live in the writer's memory: a
// second writer on the file would fork the audit chain, so it is refused
// until the first closes the file.
TEST(SqliteStoreTest, OneWriterAtATime) {
  const std::string dir = testing::MakeTempDir("writer-lock");
  sqlite::SqliteStore::Options options;
  options.path = dir + "/w.db";
  {
    auto first = sqlite::SqliteStore::Create(options);
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = sqlite::SqliteStore::Create(options);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find("open for writing by another process"), absl::string_view::npos)
        << second.status();
    // Reading the file offline stays possible (refx-admin audit verify).
    EXPECT_TRUE(sqlite::VerifyAuditChainInFile(options.path).ok());
  }
  auto after = sqlite::SqliteStore::Create(options);
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST(SqliteStoreTest, UnwritableLocationIsAClearError) {
  sqlite::SqliteStore::Options options;
  options.path = "/proc/refx-cannot-exist/refx.db";
  auto store = sqlite::SqliteStore::Create(options);
  EXPECT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/proc/refx-cannot-exist"), absl::string_view::npos);
}

// The audit chain at the storage level: every kind of tampering the issue
// names is caught, offline, on a copy of the file.
class AuditChainTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("audit");
    sqlite::SqliteStore::Options options;
    options.path = dir_ + "/audit.db";
    auto store = sqlite::SqliteStore::Create(options);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 10; ++i) {
      AuditRecord r;
      r.time = absl::FromUnixSeconds(1790000000 + i);
      r.action = "DISCLOSURE";
      r.method = "refx.v1.ReferralService.GetReferral";
      r.agency_id = "leicester-city-council";
      r.outcome = "OK";
      r.referral_ids = absl::StrCat("ref", i);
      ASSERT_TRUE((*store)->RecordAudit(r).ok());
    }
    auto intact = (*store)->VerifyAuditChain();
    ASSERT_TRUE(intact.ok());
    ASSERT_TRUE(intact->intact) << intact->problem;
    ASSERT_EQ(intact->events_checked, 10);
  }

  // Applies `sql` to a copy of the database and verifies the copy offline.
  AuditChainReport TamperAndVerify(const std::string& sql) {
    const std::string copy = dir_ + "/copy-" + std::to_string(copies_++) + ".db";
    std::filesystem::copy_file(dir_ + "/audit.db", copy);
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(copy.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
    auto report = sqlite::VerifyAuditChainInFile(copy);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : AuditChainReport{};
  }

  std::string dir_;
  int copies_ = 0;
};

TEST_F(AuditChainTamperTest, UntouchedCopyIsIntact) {
  AuditChainReport r = TamperAndVerify("SELECT 1");
  EXPECT_TRUE(r.intact);
  EXPECT_EQ(r.events_checked, 10);
}

TEST_F(AuditChainTamperTest, AlteredFieldIsNamed) {
  AuditChainReport r = TamperAndVerify("UPDATE audit_events SET agency_id = 'met-police' WHERE sequence = 4");
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_sequence, 4);
}

TEST_F(AuditChainTamperTest, DeletedEventIsNamed) {
  AuditChainReport r = TamperAndVerify("DELETE FROM audit_events WHERE sequence = 6");
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_sequence, 6);
}

TEST_F(AuditChainTamperTest, ReorderedEventsAreNamed) {
  // Swap the contents of events 3 and 7, hashes and all.
  AuditChainReport r = TamperAndVerify(
      "UPDATE audit_events SET sequence = -3 WHERE sequence = 3;"
      "UPDATE audit_events SET sequence = 3 WHERE sequence = 7;"
      "UPDATE audit_events SET sequence = 7 WHERE sequence = -3;");
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_sequence, 3);
}

TEST_F(AuditChainTamperTest, TruncatedTailIsDetected) {
  AuditChainReport r = TamperAndVerify("DELETE FROM audit_events WHERE sequence > 8");
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.events_checked, 8);
  EXPECT_NE(r.problem.find("head"), std::string::npos) << r.problem;
}

TEST_F(AuditChainTamperTest, MissingDatabaseIsAClearError) {
  EXPECT_EQ(sqlite::VerifyAuditChainInFile(dir_ + "/absent.db").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace refx::storage
