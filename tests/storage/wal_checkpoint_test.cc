// The SQLite log's checkpoints run on the checkpointer's thread, not in the
// writer's COMMIT (storage/sqlite/wal_checkpointer.h): the log stays
// bounded although the writing connection never checkpoints itself.
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/sqlite/wal_checkpointer.h"
#include "tests/testing/server_fixture.h"

namespace refx::storage::sqlite {
namespace {

int64_t FileSize(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : -1;
}

void Exec(sqlite3* db, const char* sql) {
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
}

TEST(WalCheckpointerTest, TheLogIsCheckpointedOffTheWritingConnectionAndStaysBounded) {
  const std::string path = testing::MakeTempDir("wal-checkpoint") + "/wal.db";
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &writer, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  Exec(writer, "PRAGMA journal_mode=WAL");
  Exec(writer, "PRAGMA synchronous=FULL");
  Exec(writer, "CREATE TABLE t (v BLOB)");

  WalCheckpointer::Options options;
  options.path = path;
  options.wal_pages = 16;
  auto checkpointer = WalCheckpointer::Start(options);
  checkpointer->Attach(writer);

  // 1,500 commits of 2 KB: 3 MB through the log. Attached, the writer's
  // own automatic checkpoints are off, so only the thread keeps it short.
  sqlite3_stmt* insert = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(writer, "INSERT INTO t VALUES (zeroblob(2048))", -1, &insert, nullptr), SQLITE_OK);
  int64_t largest_log = 0;
  for (int i = 0; i < 1500; ++i) {
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_reset(insert);
    largest_log = std::max(largest_log, FileSize(path + "-wal"));
    if (i % 100 == 99) absl::SleepFor(absl::Milliseconds(5));  // a moment for the thread to catch up
  }
  sqlite3_finalize(insert);
  EXPECT_GT(checkpointer->checkpoints(), 0);
  EXPECT_EQ(checkpointer->failures(), 0);
  EXPECT_LT(largest_log, 1 << 20) << "the log grew as if nothing checkpointed it";
  sqlite3_close(writer);
  checkpointer.reset();  // stops the thread and closes its connection

  // Everything committed is in the database.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(reader, "SELECT count(*) FROM t", -1, &count, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(count, 0), 1500);
  sqlite3_finalize(count);
  sqlite3_close(reader);
}

TEST(WalCheckpointerTest, StoppingBeforeAnyCheckpointOpensNothing) {
  WalCheckpointer::Options options;
  options.path = testing::MakeTempDir("wal-checkpoint-idle") + "/never-created.db";
  auto checkpointer = WalCheckpointer::Start(options);
  checkpointer.reset();
  EXPECT_EQ(FileSize(options.path), -1);
}

}  // namespace
}  // namespace refx::storage::sqlite
