// Every SQL statement of the SQLite backend, in one place, with named
// parameters only (values are always bound, never spliced into the text):
// the SQLite dialect of the store engine (storage/sql_driver.h).
#ifndef REFX_STORAGE_SQLITE_SQLITE_STATEMENTS_H_
#define REFX_STORAGE_SQLITE_SQLITE_STATEMENTS_H_

#include <vector>

#include "storage/sql_driver.h"

namespace refx::storage::sqlite {

// The SQLite dialect: every statement the store engine runs, and the
// schema's migrations, as SQLite spells them.
const SqlDialect& SqliteDialect();
const std::vector<Migration>& Migrations();

namespace sql {
extern const char kCreateMigrationsTable[];
extern const char kSelectSchemaVersion[];
extern const char kRecordMigration[];
extern const char kSelectCreateRequest[];
extern const char kInsertCreateRequest[];
extern const char kInsertReferral[];
extern const char kInsertParty[];
extern const char kInsertStrand[];
extern const char kSelectReferral[];
extern const char kSelectRecipients[];
extern const char kSelectStrands[];
extern const char kListReferrals[];
extern const char kInsertAudit[];
extern const char kUpsertAuditHead[];
extern const char kSelectAuditHead[];
extern const char kListAudit[];
extern const char kSelectUpdateRequest[];
extern const char kInsertUpdateRequest[];
extern const char kSelectReferralEtag[];
extern const char kUpdateReferral[];
extern const char kInsertPartyIfAbsent[];
extern const char kInsertEvent[];
extern const char kInsertEventAudience[];
extern const char kSelectLatestEvent[];
extern const char kListEvents[];
extern const char kNextCaseUpdateSequence[];
extern const char kInsertCaseUpdate[];
extern const char kListCaseUpdates[];
extern const char kSelectCaseUpdate[];
extern const char kMarkRedirected[];
extern const char kCountRepeatVictims[];
extern const char kInsertVictimToken[];
extern const char kAnyVictimToken[];
extern const char kHealthCheck[];
}  // namespace sql

}  // namespace refx::storage::sqlite

#endif  // REFX_STORAGE_SQLITE_SQLITE_STATEMENTS_H_
