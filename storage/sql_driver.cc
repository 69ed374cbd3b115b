#include "storage/sql_driver.h"

namespace refx::storage {

absl::StatusOr<SqlTransaction> SqlTransaction::Begin(SqlConnection* conn) {
  if (absl::Status s = conn->BeginWrite(); !s.ok()) return s;
  return SqlTransaction(conn);
}

SqlTransaction::~SqlTransaction() {
  if (conn_ != nullptr) conn_->Rollback().IgnoreError();
}

absl::Status SqlTransaction::Commit() {
  absl::Status s = conn_->Commit();
  if (s.ok()) conn_ = nullptr;
  return s;
}

}  // namespace refx::storage
