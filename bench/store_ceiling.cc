// The bare loops refx-bench measures the databases' own ceilings with; see
// store_ceiling.h. The template is read with the bench's own SELECTs (this
// is a measuring tool reading what refx wrote, in SQL both backends accept);
// everything the loop writes uses refx's dialect for the backend, so its
// rows are refx's rows.
#include "bench/store_ceiling.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "storage/postgres/pg_statements.h"
#include "storage/postgres/pg_store.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_statements.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::bench {
namespace {

using refx::storage::SqlConnection;
using refx::storage::SqlStatement;
using refx::storage::postgres::ConnectParameters;

ConnectParameters WithDatabase(ConnectParameters parameters, const std::string& dbname) {
  for (auto& [key, value] : parameters.parameters) {
    if (key == "dbname") value = dbname;
  }
  return parameters;
}

// Every row of SELECT `sql` (one :id parameter), each as its columns' text
// (blobs as their bytes).
absl::StatusOr<std::vector<std::vector<std::string>>> Rows(SqlConnection* conn, const char* sql,
                                                           const std::string& id) {
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql));
  stmt->Bind(":id", id);
  std::vector<std::vector<std::string>> rows;
  while (true) {
    REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    std::vector<std::string> columns;
    for (int i = 0; i < stmt->ColumnCount(); ++i) {
      // Integers come back binary: as decimal text here, like the rest.
      columns.push_back(stmt->Kind(i) == SqlStatement::ValueKind::kInteger ? absl::StrCat(stmt->Int(i))
                                                                            : stmt->Text(i));
    }
    rows.push_back(std::move(columns));
  }
  return rows;
}

// The first column of every row of `sql`.
absl::StatusOr<std::vector<std::string>> Column(SqlConnection* conn, const char* sql, const std::string& id) {
  REFX_ASSIGN_OR_RETURN(auto rows, Rows(conn, sql, id));
  std::vector<std::string> out;
  for (auto& row : rows) out.push_back(std::move(row.at(0)));
  return out;
}

}  // namespace

struct StoreCeiling::Template {
  std::vector<std::string> referral;  // referrals' columns, as below
  std::vector<std::string> recipients, strands, audience;
  int victim_tokens = 0;
  std::string fingerprint;
  std::vector<std::string> event;  // kind, referral_document, update_document
  std::vector<std::string> audit;  // action .. event_count, as below
};

absl::Status StoreCeiling::ReadTemplate(SqlConnection* conn) {
  auto t = std::make_unique<Template>();
  REFX_ASSIGN_OR_RETURN(auto newest, Rows(conn,
                                          "SELECT id FROM referrals WHERE id <> CAST(:id AS TEXT) "
                                          "ORDER BY create_time_us DESC LIMIT 1",
                                          ""));
  if (newest.empty()) return absl::FailedPreconditionError("storage ceiling: refx-server created no referral");
  const std::string id = newest[0][0];
  REFX_ASSIGN_OR_RETURN(auto referral, Rows(conn,
                                            "SELECT sender_agency, state, area, report_type, etag, document, "
                                            "response_deadline_us, recipients, strands FROM referrals WHERE id = :id",
                                            id));
  if (referral.empty()) return absl::FailedPreconditionError("storage ceiling: the template referral vanished");
  t->referral = referral[0];
  REFX_ASSIGN_OR_RETURN(t->recipients, Column(conn,
                                               "SELECT agency_id FROM referral_parties WHERE referral_id = :id "
                                               "AND party_role = 'recipient'",
                                               id));
  t->strands = absl::StrSplit(t->referral[8], ',', absl::SkipEmpty());
  REFX_ASSIGN_OR_RETURN(auto tokens, Column(conn, "SELECT token FROM victim_tokens WHERE referral_id = :id", id));
  t->victim_tokens = static_cast<int>(tokens.size());
  REFX_ASSIGN_OR_RETURN(auto key, Rows(conn, "SELECT fingerprint FROM create_requests WHERE referral_id = :id", id));
  t->fingerprint = key.empty() ? "" : key[0][0];
  REFX_ASSIGN_OR_RETURN(auto event, Rows(conn,
                                         "SELECT kind, referral_document, update_document, sequence "
                                         "FROM referral_events WHERE referral_id = :id ORDER BY sequence LIMIT 1",
                                         id));
  if (event.empty()) return absl::FailedPreconditionError("storage ceiling: the template referral has no event");
  t->event = event[0];
  REFX_ASSIGN_OR_RETURN(t->audience, Column(conn,
                                             "SELECT agency_id FROM referral_event_audience "
                                             "WHERE sequence = CAST(:id AS BIGINT)",
                                             t->event[3]));
  REFX_ASSIGN_OR_RETURN(auto audit, Rows(conn,
                                         "SELECT action, method, agency_id, certificate_serial, acting_user_hmac, "
                                         "purpose, referral_ids, data_classes, outcome, agreement, derived, reason, "
                                         "event_count, release FROM audit_events WHERE referral_ids = :id "
                                         "ORDER BY sequence LIMIT 1",
                                         id));
  if (audit.empty()) return absl::FailedPreconditionError("storage ceiling: the template referral has no audit event");
  t->audit = audit[0];
  rows_description_ =
      absl::StrCat("1 referral (its ", t->strands.size(), " strands in the row), ", 1 + t->recipients.size(),
                   " parties, ", t->victim_tokens, " victim tokens, 1 idempotency key, 1 event for ",
                   t->audience.size(), " agencies, 1 audit event; 2 reads (idempotency key, repeat victims)");
  template_ = std::move(t);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StoreCeiling>> StoreCeiling::PreparePostgres(const ConnectParameters& source,
                                                                           const std::string& scratch_db) {
  using refx::storage::postgres::Connection;
  auto ceiling = std::unique_ptr<StoreCeiling>(new StoreCeiling());
  ceiling->dialect_ = &refx::storage::postgres::PostgresDialect();
  {
    REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(source, /*read_only=*/false));
    REFX_RETURN_IF_ERROR(ceiling->ReadTemplate(conn.get()));
    // A database of the loop's own, made by refx's migrations.
    REFX_RETURN_IF_ERROR(conn->Exec(absl::StrCat("DROP DATABASE IF EXISTS ", scratch_db).c_str()));
    REFX_RETURN_IF_ERROR(conn->Exec(absl::StrCat("CREATE DATABASE ", scratch_db).c_str()));
  }
  const ConnectParameters scratch = WithDatabase(source, scratch_db);
  {
    refx::storage::postgres::PostgresStore::Options migrate;
    migrate.connect = scratch;
    migrate.description = scratch_db;
    migrate.pool_size = 1;
    REFX_ASSIGN_OR_RETURN(auto store, refx::storage::postgres::PostgresStore::Create(migrate));
  }
  REFX_ASSIGN_OR_RETURN(ceiling->conn_, Connection::Open(scratch, /*read_only=*/false));
  REFX_ASSIGN_OR_RETURN(ceiling->empty_bytes_, ceiling->DatabaseBytes());
  return ceiling;
}

absl::StatusOr<std::unique_ptr<StoreCeiling>> StoreCeiling::PrepareSqlite(const std::string& source_path,
                                                                         const std::string& scratch_path) {
  using refx::storage::sqlite::Connection;
  auto ceiling = std::unique_ptr<StoreCeiling>(new StoreCeiling());
  ceiling->dialect_ = &refx::storage::sqlite::SqliteDialect();
  {
    REFX_ASSIGN_OR_RETURN(auto conn, Connection::Open(source_path, /*read_only=*/true));
    REFX_RETURN_IF_ERROR(ceiling->ReadTemplate(conn.get()));
  }
  {
    // A file of the loop's own, made by refx's migrations.
    refx::storage::sqlite::SqliteStore::Options migrate;
    migrate.path = scratch_path;
    REFX_ASSIGN_OR_RETURN(auto store, refx::storage::sqlite::SqliteStore::Create(migrate));
  }
  REFX_ASSIGN_OR_RETURN(ceiling->conn_, Connection::Open(scratch_path, /*read_only=*/false));
  REFX_ASSIGN_OR_RETURN(ceiling->empty_bytes_, ceiling->DatabaseBytes());
  return ceiling;
}

StoreCeiling::~StoreCeiling() = default;

absl::StatusOr<int64_t> StoreCeiling::DatabaseBytes() {
  // SQLite's logical size counts the pages still in the WAL; PostgreSQL's
  // is the database's files (tables, indexes and their free space maps).
  const char* sql = dialect_ == &refx::storage::postgres::PostgresDialect()
                        ? "SELECT pg_database_size(current_database())"
                        : "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
  REFX_ASSIGN_OR_RETURN(auto stmt, conn_->Prepare(sql));
  REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::InternalError("storage ceiling: the database's size was not returned");
  return stmt->Int(0);
}

absl::StatusOr<std::optional<int64_t>> StoreCeiling::BytesPerCreate() {
  if (committed_ == 0) return std::optional<int64_t>();
  REFX_ASSIGN_OR_RETURN(int64_t bytes, DatabaseBytes());
  return std::optional<int64_t>((bytes - empty_bytes_) / committed_);
}

absl::Status StoreCeiling::WriteOneCreate(int64_t n) {
  const auto& sql = *dialect_;
  const Template& t = *template_;
  SqlConnection* conn = conn_.get();
  const std::string id = absl::StrCat("ceiling", n);
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  const std::string sender = t.audit[2];
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.select_create_request));
    stmt->Bind(":sender_agency", sender).Bind(":request_id", id);
    REFX_RETURN_IF_ERROR(stmt->Step().status());
  }
  std::vector<std::string> tokens;
  for (int i = 0; i < t.victim_tokens; ++i) tokens.push_back(absl::StrCat(id, "-token-", i));
  if (!tokens.empty()) {
    std::string json = "[";
    for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&json, i > 0 ? "," : "", "\"", tokens[i], "\"");
    json += "]";
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.count_repeat_victims));
    stmt->Bind(":tokens", json).Bind(":since_us", now_us - 1).Bind(":now_us", now_us).Bind(":referral_id", id);
    REFX_RETURN_IF_ERROR(stmt->Step().status());
  }
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_referral));
    int64_t state = 0, report_type = 0;
    (void)absl::SimpleAtoi(t.referral[1], &state);
    (void)absl::SimpleAtoi(t.referral[3], &report_type);
    stmt->Bind(":id", id)
        .Bind(":sender_agency", t.referral[0])
        .Bind(":state", state)
        .Bind(":area", t.referral[2])
        .Bind(":report_type", report_type)
        .Bind(":create_time_us", now_us)
        .Bind(":update_time_us", now_us)
        .Bind(":response_deadline_us", now_us + 86400000000)
        .Bind(":etag", t.referral[4])
        .BindBlob(":document", t.referral[5])
        .Bind(":recipients", t.referral[7])
        .Bind(":strands", t.referral[8]);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  auto party = [&](const std::string& agency, const char* role) -> absl::Status {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_party));
    stmt->Bind(":agency_id", agency).Bind(":referral_id", id).Bind(":party_role", role).Bind(":create_time_us", now_us);
    return stmt->Run();
  };
  REFX_RETURN_IF_ERROR(party(t.referral[0], "sender"));
  for (const std::string& r : t.recipients) REFX_RETURN_IF_ERROR(party(r, "recipient"));
  for (const std::string& token : tokens) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_victim_token));
    stmt->Bind(":token", token).Bind(":referral_id", id).Bind(":create_time_us", now_us);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_create_request));
    stmt->Bind(":sender_agency", sender).Bind(":referral_id", id).Bind(":request_id", id).BindBlob(
        ":fingerprint", t.fingerprint);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  const int64_t sequence = n + 1;
  {
    int64_t kind = 0;
    (void)absl::SimpleAtoi(t.event[0], &kind);
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_event));
    stmt->Bind(":sequence", sequence)
        .Bind(":time_us", now_us)
        .Bind(":kind", kind)
        .Bind(":referral_id", id)
        .BindBlob(":referral_document", t.event[1])
        .BindBlob(":update_document", t.event[2]);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  for (const std::string& agency : t.audience) {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_event_audience));
    stmt->Bind(":agency_id", agency).Bind(":sequence", sequence);
    REFX_RETURN_IF_ERROR(stmt->Run());
  }
  int64_t event_count = 0;
  (void)absl::SimpleAtoi(t.audit[12], &event_count);
  const std::string hash(32, static_cast<char>(n & 0xff));
  REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql.insert_audit));
  stmt->Bind(":sequence", sequence)
      .Bind(":time_us", now_us)
      .Bind(":action", t.audit[0])
      .Bind(":method", t.audit[1])
      .Bind(":agency_id", t.audit[2])
      .Bind(":certificate_serial", t.audit[3])
      .Bind(":acting_user_hmac", t.audit[4])
      .Bind(":purpose", t.audit[5])
      .Bind(":referral_ids", id)
      .Bind(":data_classes", t.audit[7])
      .Bind(":outcome", t.audit[8])
      .Bind(":agreement", t.audit[9])
      .BindBlob(":previous_hash", hash)
      .BindBlob(":hash", hash)
      .Bind(":derived", t.audit[10])
      .Bind(":reason", t.audit[11])
      .Bind(":event_count", event_count)
      .Bind(":release", t.audit[13]);
  return stmt->Run();
}

LoadResult StoreCeiling::Run(const LoadOptions& options, int creates_per_transaction) {
  const auto& sql = *dialect_;
  LoadResult result;
  const absl::Time start = absl::Now();
  const absl::Time stop = start + options.duration;
  while (absl::Now() < stop && (options.cancel == nullptr || !options.cancel->load())) {
    const absl::Time begun = absl::Now();
    absl::Status status = conn_->BeginWrite();
    for (int i = 0; status.ok() && i < creates_per_transaction; ++i) status = WriteOneCreate(next_++);
    if (status.ok()) {
      auto head = conn_->Prepare(sql.upsert_audit_head);
      status = head.status();
      if (status.ok()) {
        (*head)->Bind(":sequence", next_).BindBlob(":hash", std::string(32, 'h')).Bind(":signature",
                                                                                        absl::optional<int64_t>());
        status = (*head)->Run();
      }
    }
    status = status.ok() ? conn_->Commit() : (conn_->Rollback().IgnoreError(), status);
    if (!status.ok()) {
      if (result.errors++ == 0) result.first_error = std::string(status.message());
      continue;
    }
    const int64_t latency_ns = absl::ToInt64Nanoseconds(absl::Now() - begun);
    result.ok += creates_per_transaction;
    committed_ += creates_per_transaction;
    for (int i = 0; i < creates_per_transaction; ++i) result.latencies_ns.push_back(latency_ns);
  }
  result.elapsed = absl::Now() - start;
  return result;
}

}  // namespace refx::bench
