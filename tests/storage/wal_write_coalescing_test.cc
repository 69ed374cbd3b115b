// The log-writing VFS (storage/sqlite/wal_write_coalescing_vfs.h) under a
// writing `Connection`: a commit reaches the log file in a few large writes,
// not two per page; what was committed reads back, from the writer and from
// another connection, exactly; a write the disk refuses fails its commit and
// leaves every earlier commit intact; frames SQLite rewrites within one
// transaction land in order. The fault-injecting VFS (tests/testing/
// fault_vfs.h) sits underneath, as in the I/O-fault tests, and counts the
// writes that reach the file.
#include <cstdio>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_connection.h"
#include "tests/testing/fault_vfs.h"
#include "tests/testing/temp_files.h"

namespace refx::storage::sqlite {
namespace {

using ::refx::testing::FaultVfs;

constexpr char kCreateTable[] = "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)";
constexpr char kInsert[] = "INSERT INTO t (id, v) VALUES (:id, :v)";
constexpr char kUpdate[] = "UPDATE t SET v = :v WHERE id = :id";
constexpr char kCount[] = "SELECT count(*) FROM t";
constexpr char kValue[] = "SELECT v FROM t WHERE id = :id";
constexpr char kIntegrity[] = "PRAGMA integrity_check";
constexpr char kCacheSize[] = "PRAGMA cache_size=8";

// About one 4 KiB page per row, different for every row and version.
std::string ValueOf(int64_t id, int version) {
  std::string v(4000, '\0');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>((id * 131 + version * 17 + i * 7) & 0xff);
  return v;
}

class WalWriteCoalescingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = &FaultVfs::Install();  // the default, so under the coalescing VFS
    vfs_->Clear();
    path_ = ::refx::testing::MakeTempDir("wal-coalescing") + "/db.sqlite";
    auto conn = Connection::Open(path_, /*read_only=*/false);
    ASSERT_TRUE(conn.ok()) << conn.status();
    writer_ = std::move(*conn);
    ASSERT_TRUE(writer_->Exec(kCreateTable).ok());
  }
  void TearDown() override { vfs_->Clear(); }

  // Counts the log's writes and syncs from now on (a sync fault armed never
  // to fire counts both).
  void CountLogOperations() {
    vfs_->Arm(path_ + "-wal", FaultVfs::Operation::kSync, int64_t{1} << 40, SQLITE_IOERR, false);
  }

  absl::Status InsertRows(int64_t first, int64_t count, int version = 0) {
    if (absl::Status s = writer_->BeginWrite(); !s.ok()) return s;
    for (int64_t id = first; id < first + count; ++id) {
      auto insert = writer_->Prepare(kInsert);
      if (!insert.ok()) return insert.status();
      absl::Status s = (*insert)->Bind(":id", id).BindBlob(":v", ValueOf(id, version)).Run();
      if (!s.ok()) {
        writer_->Rollback().IgnoreError();
        return s;
      }
    }
    absl::Status committed = writer_->Commit();
    if (!committed.ok()) writer_->Rollback().IgnoreError();  // if SQLite has not already
    return committed;
  }

  static int64_t Count(Connection& conn) {
    auto count = conn.Prepare(kCount);
    EXPECT_TRUE(count.ok());
    auto row = (*count)->Step();
    EXPECT_TRUE(row.ok() && *row);
    return (*count)->Int(0);
  }

  static std::string Value(Connection& conn, int64_t id) {
    auto value = conn.Prepare(kValue);
    EXPECT_TRUE(value.ok());
    (*value)->Bind(":id", id);
    auto row = (*value)->Step();
    EXPECT_TRUE(row.ok() && *row) << id;
    return row.ok() && *row ? (*value)->Text(0) : std::string();
  }

  static std::string Integrity(Connection& conn) {
    auto check = conn.Prepare(kIntegrity);
    EXPECT_TRUE(check.ok());
    auto row = (*check)->Step();
    EXPECT_TRUE(row.ok() && *row);
    return (*check)->Text(0);
  }

  std::unique_ptr<Connection> Reader() {
    auto conn = Connection::Open(path_, /*read_only=*/true);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  FaultVfs* vfs_ = nullptr;
  std::string path_;
  std::unique_ptr<Connection> writer_;
};

TEST_F(WalWriteCoalescingTest, ACommitReachesTheLogInAFewLargeWritesNotTwoPerPage) {
  CountLogOperations();
  const int64_t writes_before = vfs_->writes_passed(), syncs_before = vfs_->syncs_passed();
  // ~300 pages of rows and their b-tree: SQLite would write ~600 times
  // (each frame's header, then its page), 1.2 MB in all.
  ASSERT_TRUE(InsertRows(1, 300).ok());
  const int64_t writes = vfs_->writes_passed() - writes_before;
  std::printf("a commit of 300 rows reached the log in %lld writes\n", static_cast<long long>(writes));
  EXPECT_GE(writes, 9) << "1.2 MB goes down in pieces of under 128 KiB";
  EXPECT_LE(writes, 16) << "the commit's frames were not gathered";
  EXPECT_GE(vfs_->syncs_passed() - syncs_before, 1) << "a commit syncs the log";

  // The writer and a second connection (on the plain VFS) read it all back.
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  for (Connection* conn : {writer_.get(), reader.get()}) {
    EXPECT_EQ(Count(*conn), 300);
    for (int64_t id : {1, 2, 150, 299, 300}) EXPECT_EQ(Value(*conn, id), ValueOf(id, 0)) << id;
    EXPECT_EQ(Integrity(*conn), "ok");
  }
}

TEST_F(WalWriteCoalescingTest, EveryCommitReadsBackAfterTheWriterClosesAndReopens) {
  for (int64_t batch = 0; batch < 20; ++batch) ASSERT_TRUE(InsertRows(1 + batch * 25, 25).ok()) << batch;
  writer_.reset();  // the last connection: SQLite checkpoints the log into the database
  auto reopened = Connection::Open(path_, /*read_only=*/false);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(Count(**reopened), 500);
  for (int64_t id : {1, 26, 250, 499, 500}) EXPECT_EQ(Value(**reopened, id), ValueOf(id, 0)) << id;
  EXPECT_EQ(Integrity(**reopened), "ok");
}

TEST_F(WalWriteCoalescingTest, ALogWriteTheDiskRefusesFailsItsCommitAndLosesNothingBefore) {
  ASSERT_TRUE(InsertRows(1, 100).ok());
  // The third write to reach the log fails as a full disk would: with the
  // writes gathered, that is during the commit, which must fail.
  vfs_->Arm(path_ + "-wal", FaultVfs::Operation::kWrite, 3, SQLITE_FULL, /*once=*/true);
  const int64_t faults_before = vfs_->faults_injected();
  EXPECT_FALSE(InsertRows(101, 100).ok());
  EXPECT_EQ(vfs_->faults_injected() - faults_before, 1);

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Count(*reader), 100) << "the failed commit must not be visible";
  EXPECT_EQ(Count(*writer_), 100);

  // The disk "comes back": the same rows commit, and all of it reads back.
  vfs_->Clear();
  ASSERT_TRUE(InsertRows(101, 100).ok());
  reader = Reader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Count(*reader), 200);
  for (int64_t id : {1, 100, 101, 200}) EXPECT_EQ(Value(*reader, id), ValueOf(id, 0)) << id;
  EXPECT_EQ(Integrity(*reader), "ok");
}

TEST_F(WalWriteCoalescingTest, PagesRewrittenWithinOneTransactionLandInOrder) {
  // A tiny page cache makes SQLite spill pages to the log mid-transaction,
  // read them back, and write them again: out-of-order log writes, reads of
  // held bytes, and frames overwritten in place.
  ASSERT_TRUE(writer_->Exec(kCacheSize).ok());
  ASSERT_TRUE(writer_->BeginWrite().ok());
  for (int64_t id = 1; id <= 200; ++id) {
    auto insert = writer_->Prepare(kInsert);
    ASSERT_TRUE(insert.ok());
    ASSERT_TRUE((*insert)->Bind(":id", id).BindBlob(":v", ValueOf(id, 0)).Run().ok()) << id;
  }
  for (int64_t id = 1; id <= 200; id += 3) {
    auto update = writer_->Prepare(kUpdate);
    ASSERT_TRUE(update.ok());
    ASSERT_TRUE((*update)->Bind(":id", id).BindBlob(":v", ValueOf(id, 1)).Run().ok()) << id;
  }
  for (int64_t id = 1; id <= 200; ++id) ASSERT_EQ(Value(*writer_, id), ValueOf(id, id % 3 == 1 ? 1 : 0)) << id;
  ASSERT_TRUE(writer_->Commit().ok());

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Count(*reader), 200);
  for (int64_t id = 1; id <= 200; ++id) EXPECT_EQ(Value(*reader, id), ValueOf(id, id % 3 == 1 ? 1 : 0)) << id;
  EXPECT_EQ(Integrity(*reader), "ok");
}

TEST_F(WalWriteCoalescingTest, AnotherConnectionSeesACommitAtOnceAndNothingBefore) {
  ASSERT_TRUE(writer_->BeginWrite().ok());
  auto insert = writer_->Prepare(kInsert);
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE((*insert)->Bind(":id", int64_t{1}).BindBlob(":v", ValueOf(1, 0)).Run().ok());
  insert->reset();
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Count(*reader), 0);
  ASSERT_TRUE(writer_->Commit().ok());
  EXPECT_EQ(Count(*reader), 1);
}

}  // namespace
}  // namespace refx::storage::sqlite
