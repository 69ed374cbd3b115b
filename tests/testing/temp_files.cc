#include "tests/testing/temp_files.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace refx::testing {

std::string MakeTempDir(const std::string& label) {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/refx-", label, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return pattern;
}

std::string SourcePath(const std::string& relative) { return absl::StrCat(REFX_SOURCE_DIR, "/", relative); }

}  // namespace refx::testing
