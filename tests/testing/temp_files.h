// Files a test makes or reads: a fresh temporary directory, and a path in
// the source tree. Apart from the server fixture so that suites which need
// no server (the storage suites, also built under the sanitizers) link none.
#ifndef REFX_TESTS_TESTING_TEMP_FILES_H_
#define REFX_TESTS_TESTING_TEMP_FILES_H_

#include <string>

namespace refx::testing {

// A fresh directory under $TMPDIR (or /tmp), unique per call.
std::string MakeTempDir(const std::string& label);

// The path of a file in the source tree (e.g. "config/partnership.yaml").
std::string SourcePath(const std::string& relative);

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_TEMP_FILES_H_
