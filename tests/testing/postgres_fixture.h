// PostgreSQL for tests: a fresh database per call in the throwaway server
// that scripts/postgres.sh starts (its REFX_TEST_POSTGRES_* variables), so
// tests on PostgreSQL are as isolated as tests on a fresh SQLite file.
//
// Without those variables the PostgreSQL tests skip, unless
// REFX_TEST_REQUIRE_POSTGRES=1 (set by scripts/test.sh, so CI can never
// pass by skipping them): then they fail. REFX_SKIP_UNLESS_POSTGRES() is
// that rule, written once.
#ifndef REFX_TESTS_TESTING_POSTGRES_FIXTURE_H_
#define REFX_TESTS_TESTING_POSTGRES_FIXTURE_H_

#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "refx/config/v1/server_config.pb.h"

namespace refx::testing {

// Whether the test server's variables are set.
bool PostgresAvailable();
// Whether a missing server is a failure rather than a skip.
bool PostgresRequired();
// Whether the suite runs on PostgreSQL (REFX_TEST_BACKEND=postgres): the
// integration suites are registered twice, once per backend.
bool SuiteBackendIsPostgres();

// Creates an empty database and returns the storage config that reaches it
// (backend postgres, Unix socket, password file; max_batch_size and the
// pool as defaults). FAILED_PRECONDITION when no server is configured.
absl::StatusOr<config::v1::StorageConfig> NewPostgresDatabase();

// Runs one SQL statement (no parameters) as the test server's owner in the
// database `dbname` (tests that tamper with or inspect a database).
absl::Status RunPostgresSql(const std::string& dbname, const std::string& sql);

}  // namespace refx::testing

// Opens a test (or a SetUp) that needs the test PostgreSQL: skips it when
// none is configured, or fails it when PostgresRequired(). A macro because
// GTEST_SKIP and FAIL end only the function they are written in.
#define REFX_SKIP_UNLESS_POSTGRES()                                                                 \
  do {                                                                                              \
    if (!::refx::testing::PostgresAvailable()) {                                                    \
      if (::refx::testing::PostgresRequired()) {                                                    \
        FAIL() << "REFX_TEST_REQUIRE_POSTGRES=1 but no test PostgreSQL is configured";              \
      }                                                                                             \
      GTEST_SKIP() << "no test PostgreSQL (eval \"$(bash scripts/postgres.sh start)\")";            \
    }                                                                                               \
  } while (false)

#endif  // REFX_TESTS_TESTING_POSTGRES_FIXTURE_H_
