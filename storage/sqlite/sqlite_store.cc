#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_statements.h"

namespace refx::storage::sqlite {
namespace {

// The database holds victims' data: its directory and file are owner-only,
// whatever the umask. SQLite gives its -wal and -shm files the database
// file's mode, so creating the file 0600 before SQLite does covers all
// three; files found wider (an earlier version, a copy) are narrowed.
absl::Status PrepareDatabaseFiles(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (!error) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot create database directory ", parent.string(), ": ", error.message()));
    }
  }
  if (::access(path.c_str(), F_OK) != 0) {
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return absl::UnavailableError(absl::StrCat("cannot create database ", path, ": ", std::strerror(errno)));
    }
    if (fd >= 0) {
      const int changed = ::fchmod(fd, 0600);  // open() applied the umask; 0600 is narrower than any
      ::close(fd);
      if (changed != 0) return absl::UnavailableError(absl::StrCat("cannot restrict database ", path));
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = path + suffix;
    struct stat info;
    if (::stat(file.c_str(), &info) != 0 || (info.st_mode & 077) == 0) continue;
    if (::chmod(file.c_str(), 0600) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot restrict ", file, " to its owner: ", std::strerror(errno)));
    }
    log::Warning("database_file_restricted", {{"file", file}});
  }
  return absl::OkStatus();
}

// The engine keeps the chain's head and the event sequence in memory, so a
// second process writing the same file would fork the audit chain. An
// exclusive lock on a file beside the database (not the database itself:
// closing any descriptor of a file drops the POSIX locks SQLite holds on
// it) makes a second writer fail at start. The kernel drops it when the
// holder exits, however it exits.
class WriterLock {
 public:
  static absl::StatusOr<std::shared_ptr<WriterLock>> Take(const std::string& database) {
    const std::string file = database + ".writer-lock";
    const int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", file, ": ", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            "database ", database, " is open for writing by another process (a running refx-server?); one process "
            "at a time may write an SQLite database: stop it first"));
      }
      return absl::UnavailableError(absl::StrCat("cannot lock ", file, ": ", std::strerror(error)));
    }
    return std::shared_ptr<WriterLock>(new WriterLock(fd));
  }
  ~WriterLock() { ::close(fd_); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(const Options& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("storage: sqlite_path is empty");
  if (options.max_batch_size < 1 || options.read_connections < 1) {
    return absl::InvalidArgumentError("storage: max_batch_size and read_connections must be >= 1");
  }
  REFX_RETURN_IF_ERROR(PrepareDatabaseFiles(options.path));
  REFX_ASSIGN_OR_RETURN(std::shared_ptr<WriterLock> lock, WriterLock::Take(options.path));
  SqlStore::Options engine;
  engine.dialect = &SqliteDialect();
  // The lock lives as long as the engine's way to connect, i.e. the store.
  engine.connect = [path = options.path, lock](bool read_only) -> absl::StatusOr<std::unique_ptr<SqlConnection>> {
    REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(path, read_only));
    if (!read_only) {
      REFX_RETURN_IF_ERROR(conn->Exec(absl::StrCat("PRAGMA wal_autocheckpoint=", kWalCheckpointPages).c_str()));
    }
    return std::unique_ptr<SqlConnection>(std::move(conn));
  };
  engine.description = options.path;
  engine.max_batch_size = options.max_batch_size;
  engine.read_connections = options.read_connections;
  engine.audit_head_key = options.audit_head_key;
  engine.adopt_unsigned_head = options.adopt_unsigned_head;
  engine.commit_observer = options.commit_observer;
  engine.key_encryption_key = options.key_encryption_key;
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(std::move(engine)));
  REFX_RETURN_IF_ERROR(store->Start());
  return store;
}

absl::StatusOr<AuditChainReport> VerifyAuditChainInFile(const std::string& path, const VerifyingKey* key,
                                                        const AuditHead* checkpoint) {
  if (::access(path.c_str(), R_OK) != 0) return absl::NotFoundError(absl::StrCat("cannot read database ", path));
  REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(path, /*read_only=*/true));
  return VerifyAuditChainOn(conn.get(), SqliteDialect(), key, checkpoint);
}

}  // namespace refx::storage::sqlite
