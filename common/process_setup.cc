#include "common/process_setup.h"

#include <dlfcn.h>

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace refx {

void DisableMutexDeadlockDetection() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

std::string MemoryAllocatorName() {
  // Looked up, not linked: a build without jemalloc (the sanitizer builds)
  // has no mallctl, and nothing here may depend on its header.
  using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "glibc";
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) return "jemalloc";
  return absl::StrCat("jemalloc ", version);
}

}  // namespace refx
