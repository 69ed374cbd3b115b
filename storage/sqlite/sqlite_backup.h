// A consistent copy of a refx SQLite database while the server may be
// writing to it, with SQLite's online backup API (sqlite.org/backup.html):
// the copy is the database as of one committed transaction, never a torn
// mix of pages, and the server's writes go on meanwhile.
#ifndef REFX_STORAGE_SQLITE_SQLITE_BACKUP_H_
#define REFX_STORAGE_SQLITE_SQLITE_BACKUP_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace refx::storage::sqlite {

struct BackupOptions {
  std::string from;  // an existing database file (opened read-only)
  std::string to;    // must not exist: created owner-only (0600), never overwritten
  // Told the pages copied and the total after each step (progress).
  std::function<void(int64_t copied, int64_t total)> progress;
};

// Copies `from` to `to`. ALREADY_EXISTS if `to` (or its -wal) exists,
// NOT_FOUND if `from` does not; on any failure `to` is removed, so a file
// at `to` is always a whole copy. The copy is in rollback-journal mode
// with no -wal beside it: one self-contained file.
absl::Status BackupDatabaseFile(const BackupOptions& options);

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_BACKUP_H_
