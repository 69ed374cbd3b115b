#include "tests/testing/fault_vfs.h"

#include <sqlite3.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "storage/sqlite/vfs_shim.h"

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

// The open file: the shim's header, then the real VFS's file
// (storage/sqlite/vfs_shim.h).
struct FaultFile {
  storage::sqlite::ShimFile shim;
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

using storage::sqlite::RealFile;

int Write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  if (int rc = Decide(reinterpret_cast<FaultFile*>(file), FaultVfs::Operation::kWrite); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xWrite(RealFile(file), buffer, amount, offset);
}
int Sync(sqlite3_file* file, int flags) {
  if (int rc = Decide(reinterpret_cast<FaultFile*>(file), FaultVfs::Operation::kSync); rc != SQLITE_OK) return rc;
  return RealFile(file)->pMethods->xSync(RealFile(file), flags);
}

const std::array<sqlite3_io_methods, 3> kMethods = [] {
  std::array<sqlite3_io_methods, 3> methods = storage::sqlite::PassThroughMethods();
  for (sqlite3_io_methods& m : methods) {
    m.xWrite = Write;
    m.xSync = Sync;
  }
  return methods;
}();

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  reinterpret_cast<FaultFile*>(file)->path = name;
  return storage::sqlite::OpenBeneath(g_real, name, file, sizeof(FaultFile), flags, out_flags, kMethods);
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
