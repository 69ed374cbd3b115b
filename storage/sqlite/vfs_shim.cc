#include "storage/sqlite/vfs_shim.h"

#include <algorithm>

namespace refx::storage::sqlite {
namespace {

int Close(sqlite3_file* file) { return RealFile(file)->pMethods->xClose(RealFile(file)); }
int Read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  return RealFile(file)->pMethods->xRead(RealFile(file), buffer, amount, offset);
}
int Write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  return RealFile(file)->pMethods->xWrite(RealFile(file), buffer, amount, offset);
}
int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  return RealFile(file)->pMethods->xTruncate(RealFile(file), size);
}
int Sync(sqlite3_file* file, int flags) { return RealFile(file)->pMethods->xSync(RealFile(file), flags); }
int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  return RealFile(file)->pMethods->xFileSize(RealFile(file), size);
}
int Lock(sqlite3_file* file, int level) { return RealFile(file)->pMethods->xLock(RealFile(file), level); }
int Unlock(sqlite3_file* file, int level) { return RealFile(file)->pMethods->xUnlock(RealFile(file), level); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return RealFile(file)->pMethods->xCheckReservedLock(RealFile(file), out);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  return RealFile(file)->pMethods->xFileControl(RealFile(file), op, arg);
}
int SectorSize(sqlite3_file* file) { return RealFile(file)->pMethods->xSectorSize(RealFile(file)); }
int DeviceCharacteristics(sqlite3_file* file) {
  return RealFile(file)->pMethods->xDeviceCharacteristics(RealFile(file));
}
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return RealFile(file)->pMethods->xShmMap(RealFile(file), region, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return RealFile(file)->pMethods->xShmLock(RealFile(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) { RealFile(file)->pMethods->xShmBarrier(RealFile(file)); }
int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return RealFile(file)->pMethods->xShmUnmap(RealFile(file), delete_flag);
}
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return RealFile(file)->pMethods->xFetch(RealFile(file), offset, amount, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return RealFile(file)->pMethods->xUnfetch(RealFile(file), offset, page);
}

}  // namespace

std::array<sqlite3_io_methods, 3> PassThroughMethods() {
  std::array<sqlite3_io_methods, 3> methods;
  for (int version = 1; version <= 3; ++version) {
    methods[version - 1] = {version,
                            Close,
                            Read,
                            Write,
                            Truncate,
                            Sync,
                            FileSize,
                            Lock,
                            Unlock,
                            CheckReservedLock,
                            FileControl,
                            SectorSize,
                            DeviceCharacteristics,
                            ShmMap,
                            ShmLock,
                            ShmBarrier,
                            ShmUnmap,
                            Fetch,
                            Unfetch};
  }
  return methods;
}

int OpenBeneath(sqlite3_vfs* underlying, const char* name, sqlite3_file* file, size_t shim_size, int flags,
                int* out_flags, const std::array<sqlite3_io_methods, 3>& methods) {
  auto* shim = reinterpret_cast<ShimFile*>(file);
  shim->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + shim_size);
  const int rc = underlying->xOpen(underlying, name, shim->real, flags, out_flags);
  shim->base.pMethods =
      shim->real->pMethods == nullptr ? nullptr : &methods[std::clamp(shim->real->pMethods->iVersion, 1, 3) - 1];
  return rc;
}

}  // namespace refx::storage::sqlite
