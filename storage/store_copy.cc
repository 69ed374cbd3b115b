#include "storage/store_copy.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

absl::StatusOr<int64_t> CountOf(SqlConnection* conn, const std::string& sql, std::deque<std::string>* texts) {
  texts->push_back(sql);  // statements are cached by their text's address
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(texts->back().c_str()));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row ? stmt->Int(0) : 0;
}

absl::StatusOr<int> SchemaVersionOf(SqlConnection* conn, const SqlDialect& sql) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_schema_version));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row ? static_cast<int>(stmt->Int(0)) : 0;
}

// Copies every row of `table`; returns how many.
absl::StatusOr<int64_t> CopyTable(const CopyOptions& o, const std::string& table, std::deque<std::string>* texts) {
  texts->push_back(absl::StrCat("SELECT * FROM ", table));
  REFX_ASSIGN_OR_RETURN(auto read, o.from->Prepare(texts->back().c_str()));
  const char* insert_sql = nullptr;
  std::vector<std::string> parameters;
  int64_t rows = 0;
  while (true) {
    REFX_ASSIGN_OR_RETURN(bool row, read->Step());
    if (!row) break;
    if (insert_sql == nullptr) {
      std::vector<std::string> columns;
      for (int i = 0; i < read->ColumnCount(); ++i) {
        columns.push_back(read->ColumnName(i));
        parameters.push_back(absl::StrCat(":c", i));
      }
      texts->push_back(absl::StrCat("INSERT INTO ", table, " (", absl::StrJoin(columns, ", "), ") VALUES (",
                                    absl::StrJoin(parameters, ", "), ")"));
      insert_sql = texts->back().c_str();
    }
    REFX_ASSIGN_OR_RETURN(auto write, o.to->Prepare(insert_sql));
    for (int i = 0; i < read->ColumnCount(); ++i) {
      const char* name = parameters[i].c_str();
      switch (read->Kind(i)) {
        case SqlStatement::ValueKind::kNull:
          write->Bind(name, absl::optional<int64_t>());
          break;
        case SqlStatement::ValueKind::kInteger:
          write->Bind(name, read->Int(i));
          break;
        case SqlStatement::ValueKind::kBlob:
          write->BindBlob(name, read->Text(i));
          break;
        case SqlStatement::ValueKind::kText:
          write->Bind(name, read->Text(i));
          break;
      }
    }
    REFX_RETURN_IF_ERROR(write->Run());
    if (++rows % 1000 == 0 && o.progress) o.progress(table, rows);
  }
  if (o.progress) o.progress(table, rows);
  return rows;
}

}  // namespace

const std::vector<std::string>& CopiedTables() {
  static const std::vector<std::string> kTables = {
      "referrals",    "referral_parties", "create_requests",          "update_requests",
      "audit_events", "audit_head",       "referral_events",          "referral_event_audience",
      "case_updates", "victim_tokens",    "tension_acknowledgements", "data_keys",
      "legal_holds",  "subject_requests", "subject_notifications"};
  return kTables;
}

absl::StatusOr<CopyReport> CopyDatabase(const CopyOptions& o) {
  if (o.from == nullptr || o.to == nullptr || o.from_dialect == nullptr || o.to_dialect == nullptr) {
    return absl::InvalidArgumentError("storage copy: a source and a target are required");
  }
  CopyReport report;
  std::deque<std::string> texts;
  REFX_ASSIGN_OR_RETURN(const int from_version, SchemaVersionOf(o.from, *o.from_dialect));
  REFX_ASSIGN_OR_RETURN(const int to_version, SchemaVersionOf(o.to, *o.to_dialect));
  if (from_version != to_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage copy: the source has schema version ", from_version, " and the target ", to_version,
        "; start this version of refx-server once on the source to migrate it, then copy"));
  }
  report.schema_version = from_version;
  for (const char* table : {"referrals", "audit_events", "audit_head", "referral_events"}) {
    REFX_ASSIGN_OR_RETURN(int64_t rows, CountOf(o.to, absl::StrCat("SELECT count(*) FROM ", table), &texts));
    if (rows > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "storage copy: the target is not empty (", table, " has ", rows,
          " rows); refusing to mix two databases: copy into a new, empty database"));
    }
  }

  REFX_RETURN_IF_ERROR(o.from->BeginRead());  // one snapshot for the whole copy
  struct EndRead {
    SqlConnection* conn;
    ~EndRead() { conn->Rollback().IgnoreError(); }
  } end_read{o.from};
  REFX_ASSIGN_OR_RETURN(report.source, VerifyAuditChainWithin(o.from, *o.from_dialect, o.key, nullptr));
  if (!report.source.intact) {
    return absl::DataLossError(absl::StrCat("storage copy: the source's audit chain is broken at event ",
                                            report.source.first_bad_sequence, " (", report.source.problem,
                                            "); nothing was copied"));
  }

  REFX_ASSIGN_OR_RETURN(SqlTransaction txn, SqlTransaction::Begin(o.to));
  for (const std::string& table : CopiedTables()) {
    REFX_ASSIGN_OR_RETURN(int64_t rows, CopyTable(o, table, &texts));
    report.tables.push_back({table, rows});
  }
  REFX_ASSIGN_OR_RETURN(report.target, VerifyAuditChainWithin(o.to, *o.to_dialect, o.key, nullptr));
  if (!report.target.intact || report.target.events_checked != report.source.events_checked ||
      report.target.head.sequence != report.source.head.sequence ||
      report.target.head.hash != report.source.head.hash) {
    return absl::DataLossError(absl::StrCat("storage copy: the copied audit chain does not verify as the source's (",
                                            report.target.problem, "); rolled back, nothing was copied"));
  }
  REFX_RETURN_IF_ERROR(txn.Commit());
  return report;
}

}  // namespace refx::storage
