// What every long-running refx process (server, bench, echo) sets up before
// it starts threads.
#ifndef REFX_COMMON_PROCESS_SETUP_H_
#define REFX_COMMON_PROCESS_SETUP_H_

namespace refx {

// Turns off Abseil's mutex deadlock detection. Debian 12 builds libabsl
// without NDEBUG, so by default every absl::Mutex lock (gRPC's own
// included) records its lock order in one global graph under one global
// lock, and every mutex destroyed is removed from it: a profile of the
// server delivering a watch batch to 10,000 streams spent 18% of its CPU
// in GraphCycles::GetId alone. The detector is a debugging aid (tests
// keep it); a production process must not pay for it.
void DisableMutexDeadlockDetection();

}  // namespace refx

#endif  // REFX_COMMON_PROCESS_SETUP_H_
