#include "common/process_setup.h"

#include "absl/synchronization/mutex.h"

namespace refx {

void DisableMutexDeadlockDetection() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace refx
