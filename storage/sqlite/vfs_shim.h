// What every SQLite VFS shim of refx shares: an open file that is the shim's
// own header followed by the underlying VFS's file, and io_methods that pass
// each call through to that file. A shim copies PassThroughMethods() and
// replaces the entries it changes (the log-writing VFS: writes, and what must
// see them first; the tests' fault-injecting VFS: writes and syncs).
#ifndef REFX_STORAGE_SQLITE_VFS_SHIM_H_
#define REFX_STORAGE_SQLITE_VFS_SHIM_H_

#include <sqlite3.h>

#include <array>
#include <cstddef>

namespace refx::storage::sqlite {

// The first member of a shim's file struct. `real` points just past the
// shim's struct, where szOsFile reserves the underlying file.
struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
};

inline sqlite3_file* RealFile(sqlite3_file* file) { return reinterpret_cast<ShimFile*>(file)->real; }

// io_methods of versions 1, 2 and 3, every entry passing the call to
// RealFile(). A shim offers the version of the file underneath (SQLite
// calls no entry beyond it): `methods[version - 1]`.
std::array<sqlite3_io_methods, 3> PassThroughMethods();

// Opens `name` on `underlying` into the space behind the shim's struct of
// `shim_size` bytes, and gives the shim's file the methods of `methods`
// matching the real file's version, or none when the real file has none
// (SQLite then calls no xClose).
int OpenBeneath(sqlite3_vfs* underlying, const char* name, sqlite3_file* file, size_t shim_size, int flags,
                int* out_flags, const std::array<sqlite3_io_methods, 3>& methods);

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_VFS_SHIM_H_
