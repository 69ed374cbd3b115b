// An SQLite VFS shim that gathers the writes a connection makes to its
// write-ahead log and hands each contiguous run to the VFS underneath as a
// few large writes when SQLite next syncs, reads, truncates, sizes or closes
// that file. SQLite writes each log frame as two writes (its 24-byte header,
// then the page): a group commit of ~190 frames made ~375 write syscalls,
// each costly on a VM, and now makes a handful.
//
// Sound only for connections with `PRAGMA synchronous=FULL` (every writable
// connection `Connection::Open` makes): a commit then syncs the log before it
// publishes the new frames in the wal-index, so no other connection can be
// told of a frame still held here. With synchronous=NORMAL the frames would
// be published unsynced, and unwritten. A failed write surfaces at the sync,
// which fails the commit, exactly as a failed sync does.
//
// Never the process's default VFS: it is chosen per connection, over the
// default of the moment (so a test's fault-injecting VFS stays underneath).
#ifndef REFX_STORAGE_SQLITE_WAL_WRITE_COALESCING_VFS_H_
#define REFX_STORAGE_SQLITE_WAL_WRITE_COALESCING_VFS_H_

#include <sqlite3.h>

namespace refx::storage::sqlite {

// The name to pass to sqlite3_open_v2 for a connection whose log writes
// should be coalesced over `underlying` (registered on first use, one shim
// per underlying VFS, for the life of the process), or null if there is no
// underlying VFS or SQLite refused to register the shim. Thread-safe.
const char* WalWriteCoalescingVfsOver(sqlite3_vfs* underlying);

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_WAL_WRITE_COALESCING_VFS_H_
