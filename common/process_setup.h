// What every long-running refx process (server, bench, echo) sets up before
// it starts threads.
#ifndef REFX_COMMON_PROCESS_SETUP_H_
#define REFX_COMMON_PROCESS_SETUP_H_

#include <string>

namespace refx {

// Turns off Abseil's mutex deadlock detection. Debian 12 builds libabsl
// without NDEBUG, so by default every absl::Mutex lock (gRPC's own
// included) records its lock order in one global graph under one global
// lock, and every mutex destroyed is removed from it: a profile of the
// server delivering a watch batch to 10,000 streams spent 18% of its CPU
// in GraphCycles::GetId alone. The detector is a debugging aid (tests
// keep it); a production process must not pay for it.
void DisableMutexDeadlockDetection();

// The malloc this process runs on, for its start-up event: "jemalloc
// <version>" when jemalloc is linked in (refx-server and refx-bench-echo are
// by default; see ADR 11) or preloaded, otherwise "glibc". Asked of the
// running process, not of the build, so the event says what is true.
std::string MemoryAllocatorName();

}  // namespace refx

#endif  // REFX_COMMON_PROCESS_SETUP_H_
