// Checkpoints of an SQLite database's write-ahead log, run on a thread of
// their own instead of inside the writer's COMMIT.
//
// By default SQLite checkpoints from the connection whose commit takes the
// log past 1,000 pages: that commit then also copies the log into the
// database and fsyncs it, and every write in its group commit waits for
// that (8% of the server's CPU under the overload run, all of it on the
// writer thread, the store's one bottleneck). Here the store's read-write
// connections only report the log's size after each commit
// (sqlite3_wal_hook, which also turns their automatic checkpoints off), and
// past `wal_pages` this thread runs a PASSIVE checkpoint on a connection of
// its own, which never blocks the writer or the readers. Durability is the
// log's: a commit is on disk when its log frames are, as before.
//
// A passive checkpoint copies the log as far as it reached when it began,
// and SQLite starts the log afresh only once a checkpoint has caught up with
// it; under a steady stream of commits the thread never quite does, so past
// `inline_pages` the committing connection checkpoints itself, as SQLite
// would have, but with what the thread copied already done (a test wrote
// 18 MB of log without this).
#ifndef REFX_STORAGE_SQLITE_WAL_CHECKPOINTER_H_
#define REFX_STORAGE_SQLITE_WAL_CHECKPOINTER_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace refx::storage::sqlite {

class WalCheckpointer {
 public:
  struct Options {
    std::string path;      // the database file
    int wal_pages = 1000;  // SQLite's own default threshold
    // The committing connection checkpoints itself from here (0: 4 x wal_pages).
    int inline_pages = 0;
    // After a checkpoint that failed (a full disk), the next waits this long.
    absl::Duration retry_after_failure = absl::Seconds(1);
  };
  // Starts the thread; its connection is opened at the first checkpoint,
  // when the database exists.
  static std::shared_ptr<WalCheckpointer> Start(const Options& options);
  ~WalCheckpointer();  // stops the thread after the checkpoint in progress
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Hands `db`'s checkpoints to this thread. `db` must not commit after
  // this object is destroyed.
  void Attach(sqlite3* db);

  // Checkpoints run and failed so far (tests, operations).
  int64_t checkpoints() const;
  int64_t failures() const;

 private:
  explicit WalCheckpointer(const Options& options) : options_(options) {}
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  void Loop();
  int Checkpoint();  // returns SQLite's result code

  const Options options_;
  mutable absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  sqlite3* db_ = nullptr;  // the thread's own connection; only the thread uses it
  std::thread thread_;
};

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_WAL_CHECKPOINTER_H_
