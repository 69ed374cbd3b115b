#include "tests/testing/test_database.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace refx::testing {

TestDatabase::TestDatabase(const config::v1::StorageConfig& storage, bool writable) {
  if (storage.backend() == "postgres") {
    const auto& c = storage.postgres();
    std::ifstream in(c.password_file());
    std::string password;
    std::getline(in, password);
    password = std::string(absl::StripTrailingAsciiWhitespace(password));
    const std::string port = absl::StrCat(c.port());
    const char* keys[] = {"host", "port", "user", "password", "dbname", nullptr};
    const char* values[] = {c.host().c_str(), port.c_str(), c.user().c_str(), password.c_str(), c.dbname().c_str(),
                            nullptr};
    pg_ = PQconnectdbParams(keys, values, 0);
    EXPECT_EQ(PQstatus(pg_), CONNECTION_OK) << PQerrorMessage(pg_);
    return;
  }
  EXPECT_EQ(sqlite3_open_v2(storage.sqlite_path().c_str(), &sqlite_,
                            writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK)
      << storage.sqlite_path();
  sqlite3_busy_timeout(sqlite_, 5000);
}

TestDatabase::~TestDatabase() {
  if (pg_ != nullptr) PQfinish(pg_);
  if (sqlite_ != nullptr) sqlite3_close(sqlite_);
}

std::vector<std::vector<std::string>> TestDatabase::Rows(const std::string& sql) {
  std::vector<std::vector<std::string>> out;
  if (pg_ != nullptr) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(pg_, sql.c_str()), PQclear);
    EXPECT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(result.get());
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      std::vector<std::string> row;
      for (int i = 0; i < PQnfields(result.get()); ++i) {
        row.emplace_back(PQgetvalue(result.get(), r, i), PQgetlength(result.get(), r, i));
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(sqlite_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(sqlite_);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* t = sqlite3_column_text(stmt, i);
      row.push_back(t == nullptr ? "" : std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt, i)));
    }
    out.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return out;
}

int64_t TestDatabase::Int(const std::string& sql) {
  auto rows = Rows(sql);
  int64_t n = -1;
  if (!rows.empty() && !rows[0].empty() && !absl::SimpleAtoi(rows[0][0], &n)) n = -1;
  return n;
}

void TestDatabase::BlockAuditWrites(bool blocked) {
  if (postgres()) {
    Exec(blocked ? "CREATE FUNCTION refx_test_block() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'blocked'; END $$; CREATE TRIGGER block_audit BEFORE INSERT ON "
                   "audit_events FOR EACH ROW EXECUTE FUNCTION refx_test_block();"
                 : "DROP TRIGGER block_audit ON audit_events; DROP FUNCTION refx_test_block();");
  } else {
    Exec(blocked ? "CREATE TRIGGER block_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'blocked'); END;"
                 : "DROP TRIGGER block_audit;");
  }
}

void TestDatabase::Exec(const std::string& sql) {
  if (pg_ != nullptr) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(pg_, sql.c_str()), PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(result.get());
    return;
  }
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(sqlite_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << sql << ": " << (error ? error : "");
  sqlite3_free(error);
}

}  // namespace refx::testing
