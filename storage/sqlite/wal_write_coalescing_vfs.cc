#include "storage/sqlite/wal_write_coalescing_vfs.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <string>

#include "storage/sqlite/vfs_shim.h"

namespace refx::storage::sqlite {
namespace {

// A run larger than this is written at once rather than held: a transaction
// that spills many pages needs no more memory than that.
constexpr size_t kMostHeld = 4 << 20;
// The unix VFS writes at most 0x1ffff bytes per call: it masks the length
// with 0x1ffff, so a write of exactly 128 KiB would be reported as a full
// disk. Runs are handed down in pieces no larger.
constexpr size_t kMostPerWrite = 0x1ffff;

// One shim per underlying VFS; pAppData points back here.
struct Shim {
  sqlite3_vfs vfs;
  std::string name;
  sqlite3_vfs* underlying;
};

sqlite3_vfs* Under(sqlite3_vfs* vfs) { return static_cast<Shim*>(vfs->pAppData)->underlying; }

// The open file: the shim's header, then the underlying VFS's file (see
// vfs_shim.h). SQLite hands us raw memory, so the held bytes live behind a
// pointer made at open and freed at close.
struct File {
  ShimFile shim;
  std::string* held;  // Writes not yet handed down, contiguous from `held_at`; null unless a log.
  sqlite3_int64 held_at;
};

File* Of(sqlite3_file* file) { return reinterpret_cast<File*>(file); }

// Hands the held run down. Whatever happens, nothing stays held: on an
// error SQLite fails the transaction and will write its frames again.
int Release(sqlite3_file* file) {
  File* f = Of(file);
  if (f->held == nullptr || f->held->empty()) return SQLITE_OK;
  sqlite3_file* real = RealFile(file);
  int rc = SQLITE_OK;
  for (size_t at = 0; at < f->held->size() && rc == SQLITE_OK; at += kMostPerWrite) {
    const size_t n = std::min(kMostPerWrite, f->held->size() - at);
    rc = real->pMethods->xWrite(real, f->held->data() + at, static_cast<int>(n),
                                f->held_at + static_cast<sqlite3_int64>(at));
  }
  f->held->clear();
  return rc;
}

int Close(sqlite3_file* file) {
  const int released = Release(file);
  const int rc = RealFile(file)->pMethods->xClose(RealFile(file));
  delete Of(file)->held;
  Of(file)->held = nullptr;
  return released != SQLITE_OK ? released : rc;
}
int Write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (f->held == nullptr) return RealFile(file)->pMethods->xWrite(RealFile(file), buffer, amount, offset);
  // A write elsewhere (SQLite rewriting a frame of this transaction) goes
  // after the run it would otherwise overtake.
  if (!f->held->empty() && offset != f->held_at + static_cast<sqlite3_int64>(f->held->size())) {
    if (int rc = Release(file); rc != SQLITE_OK) return rc;
  }
  if (f->held->empty()) f->held_at = offset;
  f->held->append(static_cast<const char*>(buffer), static_cast<size_t>(amount));
  return f->held->size() >= kMostHeld ? Release(file) : SQLITE_OK;
}
// Whatever looks at the file sees the held writes first: a read, a sync, its
// size, a truncation, a file control (which may size or map it), a mapping.
int Read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xRead(RealFile(file), buffer, amount, offset);
}
int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xTruncate(RealFile(file), size);
}
int Sync(sqlite3_file* file, int flags) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xSync(RealFile(file), flags);
}
int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xFileSize(RealFile(file), size);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xFileControl(RealFile(file), op, arg);
}
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  if (int rc = Release(file); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xFetch(RealFile(file), offset, amount, out);
}

const std::array<sqlite3_io_methods, 3> kMethods = [] {
  std::array<sqlite3_io_methods, 3> methods = PassThroughMethods();
  for (sqlite3_io_methods& m : methods) {
    m.xClose = Close;
    m.xRead = Read;
    m.xWrite = Write;
    m.xTruncate = Truncate;
    m.xSync = Sync;
    m.xFileSize = FileSize;
    m.xFileControl = FileControl;
    m.xFetch = Fetch;
  }
  return methods;
}();

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = Of(file);
  f->held = nullptr;
  f->held_at = 0;
  const int rc = OpenBeneath(Under(vfs), name, file, sizeof(File), flags, out_flags, kMethods);
  if (f->shim.base.pMethods != nullptr && (flags & SQLITE_OPEN_WAL) != 0) f->held = new std::string;
  return rc;
}

// Everything but opening a file is the underlying VFS's, called as itself.
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) { return Under(vfs)->xDelete(Under(vfs), name, sync_dir); }
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Under(vfs)->xAccess(Under(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Under(vfs)->xFullPathname(Under(vfs), name, size, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Under(vfs)->xDlOpen(Under(vfs), name); }
void DlError(sqlite3_vfs* vfs, int size, char* out) { Under(vfs)->xDlError(Under(vfs), size, out); }
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Under(vfs)->xDlSym(Under(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) { Under(vfs)->xDlClose(Under(vfs), handle); }
int Randomness(sqlite3_vfs* vfs, int size, char* out) { return Under(vfs)->xRandomness(Under(vfs), size, out); }
int Sleep(sqlite3_vfs* vfs, int microseconds) { return Under(vfs)->xSleep(Under(vfs), microseconds); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Under(vfs)->xCurrentTime(Under(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int size, char* out) { return Under(vfs)->xGetLastError(Under(vfs), size, out); }
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) { return Under(vfs)->xCurrentTimeInt64(Under(vfs), out); }
int SetSystemCall(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
  return Under(vfs)->xSetSystemCall(Under(vfs), name, call);
}
sqlite3_syscall_ptr GetSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Under(vfs)->xGetSystemCall(Under(vfs), name);
}
const char* NextSystemCall(sqlite3_vfs* vfs, const char* name) { return Under(vfs)->xNextSystemCall(Under(vfs), name); }

Shim* MakeShim(sqlite3_vfs* underlying, int number) {
  auto* shim = new Shim{};
  shim->underlying = underlying;
  // Numbered: two underlying VFSes could share a name, and SQLite finds a
  // VFS by name.
  shim->name = "refx-wal-coalescing-" + std::to_string(number) + "-over-" + underlying->zName;
  sqlite3_vfs& vfs = shim->vfs;
  vfs.iVersion = std::min(underlying->iVersion, 3);
  vfs.szOsFile = static_cast<int>(sizeof(File)) + underlying->szOsFile;
  vfs.mxPathname = underlying->mxPathname;
  vfs.zName = shim->name.c_str();
  vfs.pAppData = shim;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = underlying->xDlOpen != nullptr ? DlOpen : nullptr;
  vfs.xDlError = underlying->xDlError != nullptr ? DlError : nullptr;
  vfs.xDlSym = underlying->xDlSym != nullptr ? DlSym : nullptr;
  vfs.xDlClose = underlying->xDlClose != nullptr ? DlClose : nullptr;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = underlying->xGetLastError != nullptr ? GetLastError : nullptr;
  if (vfs.iVersion >= 2) vfs.xCurrentTimeInt64 = underlying->xCurrentTimeInt64 != nullptr ? CurrentTimeInt64 : nullptr;
  if (vfs.iVersion >= 3) {
    vfs.xSetSystemCall = underlying->xSetSystemCall != nullptr ? SetSystemCall : nullptr;
    vfs.xGetSystemCall = underlying->xGetSystemCall != nullptr ? GetSystemCall : nullptr;
    vfs.xNextSystemCall = underlying->xNextSystemCall != nullptr ? NextSystemCall : nullptr;
  }
  return shim;
}

}  // namespace

const char* WalWriteCoalescingVfsOver(sqlite3_vfs* underlying) {
  static std::mutex mu;
  // Shims live as long as the process: SQLite may use one until the last
  // connection over it closes, which can be at exit.
  static auto* shims = new std::map<sqlite3_vfs*, Shim*>;
  if (underlying == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = shims->find(underlying); it != shims->end()) return it->second->name.c_str();
  Shim* shim = MakeShim(underlying, static_cast<int>(shims->size()) + 1);
  if (sqlite3_vfs_register(&shim->vfs, /*makeDflt=*/0) != SQLITE_OK) {
    delete shim;
    return nullptr;
  }
  shims->emplace(underlying, shim);
  return shim->name.c_str();
}

}  // namespace refx::storage::sqlite
