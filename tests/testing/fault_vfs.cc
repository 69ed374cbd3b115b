#include "tests/testing/fault_vfs.h"

#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace refx::testing {
namespace {

struct FaultState {
  std::mutex mu;
  bool armed = false;
  std::string path_substring;
  FaultVfs::Operation operation = FaultVfs::Operation::kWrite;
  int64_t countdown = 0;  // Matching operations still to pass before failing.
  int error = SQLITE_IOERR;
  bool once = false;
  int64_t injected = 0, writes = 0, syncs = 0;
};

FaultState& State() {
  static FaultState* state = new FaultState;
  return *state;
}

// The open file: ours first, the real VFS's file right behind it.
struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
  const char* path;  // Valid until xClose (SQLite's guarantee); may be null.
};

sqlite3_vfs* g_real = nullptr;

// SQLITE_OK to let the operation through, or the error to return.
int Decide(const FaultFile* f, FaultVfs::Operation operation) {
  FaultState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.armed || f->path == nullptr || std::strstr(f->path, s.path_substring.c_str()) == nullptr) {
    return SQLITE_OK;
  }
  if (operation != s.operation) {
    ++(operation == FaultVfs::Operation::kWrite ? s.writes : s.syncs);
    return SQLITE_OK;
  }
  if (s.countdown > 0) {
    --s.countdown;
    ++(operation == FaultVfs::Operation::kWrite ? s.writes : s.syncs);
    return SQLITE_OK;
  }
  ++s.injected;
  if (s.once) s.armed = false;
  return s.error;
}

sqlite3_file* Real(sqlite3_file* file) { return reinterpret_cast<FaultFile*>(file)->real; }

int Close(sqlite3_file* file) { return Real(file)->pMethods->xClose(Real(file)); }
int Read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  return Real(file)->pMethods->xRead(Real(file), buffer, amount, offset);
}
int Write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  if (int rc = Decide(reinterpret_cast<FaultFile*>(file), FaultVfs::Operation::kWrite); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xWrite(Real(file), buffer, amount, offset);
}
int Truncate(sqlite3_file* file, sqlite3_int64 size) { return Real(file)->pMethods->xTruncate(Real(file), size); }
int Sync(sqlite3_file* file, int flags) {
  if (int rc = Decide(reinterpret_cast<FaultFile*>(file), FaultVfs::Operation::kSync); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xSync(Real(file), flags);
}
int FileSize(sqlite3_file* file, sqlite3_int64* size) { return Real(file)->pMethods->xFileSize(Real(file), size); }
int Lock(sqlite3_file* file, int level) { return Real(file)->pMethods->xLock(Real(file), level); }
int Unlock(sqlite3_file* file, int level) { return Real(file)->pMethods->xUnlock(Real(file), level); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), out);
}
int FileControl(sqlite3_file* file, int op, void* arg) { return Real(file)->pMethods->xFileControl(Real(file), op, arg); }
int SectorSize(sqlite3_file* file) { return Real(file)->pMethods->xSectorSize(Real(file)); }
int DeviceCharacteristics(sqlite3_file* file) { return Real(file)->pMethods->xDeviceCharacteristics(Real(file)); }
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return Real(file)->pMethods->xShmMap(Real(file), region, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return Real(file)->pMethods->xShmLock(Real(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) { Real(file)->pMethods->xShmBarrier(Real(file)); }
int ShmUnmap(sqlite3_file* file, int delete_flag) { return Real(file)->pMethods->xShmUnmap(Real(file), delete_flag); }
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return Real(file)->pMethods->xFetch(Real(file), offset, amount, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return Real(file)->pMethods->xUnfetch(Real(file), offset, page);
}

const sqlite3_io_methods kMethods = {
    3,         Close,   Read,      Write,    Truncate, Sync,  FileSize,    Lock,
    Unlock,    CheckReservedLock,  FileControl,        SectorSize,  DeviceCharacteristics,
    ShmMap,    ShmLock, ShmBarrier, ShmUnmap, Fetch,    Unfetch,
};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<FaultFile*>(file);
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(FaultFile));
  f->path = name;
  int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set; mirror the real file.
  f->base.pMethods = f->real->pMethods != nullptr ? &kMethods : nullptr;
  return rc;
}

}  // namespace

FaultVfs& FaultVfs::Install() {
  static FaultVfs* vfs = [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr || g_real->iVersion < 1) std::abort();
    // Every other entry (delete, access, randomness, time...) is the real
    // VFS's own, with its app data, so only opening a file differs.
    static sqlite3_vfs shim = *g_real;
    shim.zName = "refx-fault";
    shim.pNext = nullptr;
    shim.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
    shim.xOpen = Open;
    if (sqlite3_vfs_register(&shim, /*makeDflt=*/1) != SQLITE_OK) std::abort();
    return new FaultVfs;
  }();
  return *vfs;
}

void FaultVfs::Arm(const std::string& path_substring, Operation operation, int64_t nth, int sqlite_error,
                   bool once) {
  FaultState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.armed = true;
  s.path_substring = path_substring;
  s.operation = operation;
  s.countdown = nth > 1 ? nth - 1 : 0;
  s.error = sqlite_error;
  s.once = once;
}

void FaultVfs::Clear() {
  FaultState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.armed = false;
}

int64_t FaultVfs::faults_injected() const {
  std::lock_guard<std::mutex> lock(State().mu);
  return State().injected;
}
int64_t FaultVfs::writes_passed() const {
  std::lock_guard<std::mutex> lock(State().mu);
  return State().writes;
}
int64_t FaultVfs::syncs_passed() const {
  std::lock_guard<std::mutex> lock(State().mu);
  return State().syncs;
}

}  // namespace refx::testing
