// The server's database, read (and for tamper tests written) beside the
// server with plain SQL, whichever backend the suite runs on: the SQLite
// file, or the test's PostgreSQL database. Columns come back as text
// (PostgreSQL's bytea as \x-hex).
#ifndef REFX_TESTS_TESTING_TEST_DATABASE_H_
#define REFX_TESTS_TESTING_TEST_DATABASE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "refx/config/v1/server_config.pb.h"

struct sqlite3;
typedef struct pg_conn PGconn;

namespace refx::testing {

class TestDatabase {
 public:
  explicit TestDatabase(const config::v1::StorageConfig& storage, bool writable = false);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool postgres() const { return pg_ != nullptr; }
  // The first column of the first row as an integer; -1 if none.
  int64_t Int(const std::string& sql);
  // Rows as vectors of text columns (failures are test failures).
  std::vector<std::vector<std::string>> Rows(const std::string& sql);
  void Exec(const std::string& sql);
  // Makes every insert into the audit log fail, as a full or read-only disk
  // would (needs `writable`), or undoes that.
  void BlockAuditWrites(bool blocked);

 private:
  sqlite3* sqlite_ = nullptr;
  PGconn* pg_ = nullptr;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_TEST_DATABASE_H_
