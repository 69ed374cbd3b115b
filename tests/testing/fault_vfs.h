// A fault-injecting SQLite VFS for the I/O-fault tests (issue 17): a shim
// over the platform's default VFS that makes a chosen write or fsync fail
// with a chosen SQLite error (SQLITE_FULL, SQLITE_IOERR_WRITE,
// SQLITE_IOERR_FSYNC, ...), the way a full or failing disk would, while
// every other operation passes through unchanged.
//
// Install() registers it as the process's default VFS, so every SQLite
// connection opened afterwards (the in-process test server's writer and
// readers included) goes through it; connections opened before keep the
// VFS they had. Faults apply only to files whose path contains the armed
// substring (the database and its -wal file), so other SQLite files of the
// process are untouched.
#ifndef REFX_TESTS_TESTING_FAULT_VFS_H_
#define REFX_TESTS_TESTING_FAULT_VFS_H_

#include <cstdint>
#include <string>

namespace refx::testing {

class FaultVfs {
 public:
  enum class Operation { kWrite, kSync };

  // Registers the shim as the default VFS (once per process) and returns it.
  static FaultVfs& Install();

  // From the `nth` matching `operation` on (1: the next one), fails it with
  // `sqlite_error` instead of performing it: only that one when `once`,
  // otherwise every later one too until Clear(). Replaces any armed fault.
  void Arm(const std::string& path_substring, Operation operation, int64_t nth, int sqlite_error, bool once);
  // Stops injecting: the disk "comes back".
  void Clear();

  // Operations failed since Install().
  int64_t faults_injected() const;
  // Matching writes and syncs that went through since Install().
  int64_t writes_passed() const;
  int64_t syncs_passed() const;

 private:
  FaultVfs() = default;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_FAULT_VFS_H_
