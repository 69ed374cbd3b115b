#include "storage/sqlite/wal_checkpointer.h"

#include "common/log.h"

namespace refx::storage::sqlite {

std::shared_ptr<WalCheckpointer> WalCheckpointer::Start(const Options& options) {
  auto checkpointer = std::shared_ptr<WalCheckpointer>(new WalCheckpointer(options));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->Loop(); });
  return checkpointer;
}

WalCheckpointer::~WalCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (db_ != nullptr) sqlite3_close(db_);
}

void WalCheckpointer::Attach(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::OnCommit, this); }

// On the committing thread, inside its COMMIT: a flag and a wake-up, and
// past the inline bound a passive checkpoint of its own, which returns at
// once if the thread's is running (SQLite's default hook does the same).
int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  const int inline_pages = checkpointer->options_.inline_pages > 0 ? checkpointer->options_.inline_pages
                                                                   : 4 * checkpointer->options_.wal_pages;
  if (pages >= inline_pages) sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (pages >= checkpointer->options_.wal_pages) {
    absl::MutexLock lock(&checkpointer->mu_);
    checkpointer->requested_ = true;
  }
  return SQLITE_OK;
}

int64_t WalCheckpointer::checkpoints() const {
  absl::MutexLock lock(&mu_);
  return checkpoints_;
}

int64_t WalCheckpointer::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

int WalCheckpointer::Checkpoint() {
  if (db_ == nullptr) {
    const int rc = sqlite3_open_v2(options_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_close(db_);
      db_ = nullptr;
      return rc;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    // Its own closing would otherwise checkpoint under the same rules as
    // any connection's: harmless, and it is the last one to close.
  }
  int log_frames = 0, checkpointed = 0;
  return sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
}

void WalCheckpointer::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WalCheckpointer* self) { return self->requested_ || self->stopping_; }, this));
      if (stopping_) return;
      requested_ = false;
    }
    const int rc = Checkpoint();
    const bool failed = rc != SQLITE_OK && rc != SQLITE_BUSY;  // BUSY: another checkpoint ran
    {
      absl::MutexLock lock(&mu_);
      ++(failed ? failures_ : checkpoints_);
    }
    // One line when checkpoints start failing and one when they work again,
    // not one per commit: the next commit asks again at once.
    if (failed && !failing) log::Warning("wal_checkpoint_failed", {{"sqlite_error", sqlite3_errstr(rc)}});
    if (!failed && failing) log::Info("wal_checkpoint_recovered", {});
    failing = failed;
    if (failed) {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry_after_failure);
      if (stopping_) return;
    }
  }
}

}  // namespace refx::storage::sqlite
