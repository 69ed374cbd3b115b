#include "storage/sqlite/sqlite_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace refx::storage::sqlite {
namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Pages per step: small enough that the server's writer is never held off
// for long (each step holds a read transaction on the source), large enough
// to copy gigabytes in reasonable time.
constexpr int kPagesPerStep = 1024;

absl::Status Copy(const BackupOptions& options) {
  sqlite3* source = nullptr;
  sqlite3* target = nullptr;
  auto close_both = [&] {
    sqlite3_close(source);
    sqlite3_close(target);
  };
  if (sqlite3_open_v2(options.from.c_str(), &source, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(source);
    close_both();
    return absl::UnavailableError(absl::StrCat("cannot open ", options.from, ": ", why));
  }
  sqlite3_busy_timeout(source, 5000);
  if (sqlite3_open_v2(options.to.c_str(), &target, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(target);
    close_both();
    return absl::UnavailableError(absl::StrCat("cannot open ", options.to, ": ", why));
  }
  sqlite3_backup* backup = sqlite3_backup_init(target, "main", source, "main");
  if (backup == nullptr) {
    const std::string why = sqlite3_errmsg(target);
    close_both();
    return absl::InternalError(absl::StrCat("cannot start the backup: ", why));
  }
  int rc = SQLITE_OK;
  while (true) {
    rc = sqlite3_backup_step(backup, kPagesPerStep);
    if (options.progress) {
      const int total = sqlite3_backup_pagecount(backup);
      options.progress(total - sqlite3_backup_remaining(backup), total);
    }
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) continue;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      sqlite3_sleep(50);
      continue;
    }
    break;
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    const std::string why = sqlite3_errstr(rc);
    close_both();
    return absl::UnavailableError(absl::StrCat("the backup failed: ", why));
  }
  // One self-contained file: no -wal to carry beside it.
  char* error = nullptr;
  if (sqlite3_exec(target, "PRAGMA journal_mode=DELETE", nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why = error == nullptr ? "" : error;
    sqlite3_free(error);
    close_both();
    return absl::InternalError(absl::StrCat("cannot finish the copy: ", why));
  }
  close_both();
  return absl::OkStatus();
}

}  // namespace

absl::Status BackupDatabaseFile(const BackupOptions& options) {
  if (!Exists(options.from)) return absl::NotFoundError(absl::StrCat(options.from, " does not exist"));
  if (Exists(options.to) || Exists(options.to + "-wal")) {
    return absl::AlreadyExistsError(absl::StrCat(options.to, " exists; it is never overwritten"));
  }
  // Created owner-only before SQLite opens it: the copy holds victims' data.
  const int fd = ::open(options.to.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create ", options.to, ": ", std::strerror(errno)));
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  absl::Status copied = Copy(options);
  if (!copied.ok()) {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::remove((options.to + suffix).c_str());
  }
  return copied;
}

}  // namespace refx::storage::sqlite
