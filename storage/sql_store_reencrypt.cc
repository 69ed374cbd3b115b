// SqlStore's re-encryption: every stored value moved to the newest data key
// after a rotation (and values stored before encryption at rest sealed),
// one page of one table per write beside the live writes. A page is read and
// rewritten inside the writer's transaction, under the database's write
// lock, so no change made meanwhile is overwritten; the plaintext does not
// change, so no document, etag or event does either.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sql_store.h"

namespace refx::storage {

// Where a pass through one table has got to: the last row's key.
struct SqlStore::ReencryptCursor {
  std::string text, second_text;  // referral id; or agency and request id; or referral id
  int64_t number = 0;             // event sequence; or case update sequence
  bool done = false;
};

struct SqlStore::ReencryptTally {
  int64_t examined = 0;
  int64_t rewritten = 0;
  std::map<uint32_t, int64_t> found_by_key;
};

namespace {

// One row of a table holding sealed values: its key (as the cursor keeps
// it), the identity its values are sealed to, and the values themselves.
struct SealedCopy {
  std::string text, second_text;
  int64_t number = 0;
  std::string row;                  // SealedRow(...)
  std::vector<std::string> values;  // in the order of SealedTable::columns
};

// How one table is paged through and rewritten; the statements are named in
// storage/sql_driver.h.
struct SealedTable {
  const char* name;
  const char* SqlDialect::*page;
  const char* SqlDialect::*update;
  std::vector<absl::string_view> columns;
  void (*bind_after)(SqlStatement*, const SealedCopy& after);  // the key fields only
  SealedCopy (*read)(const SqlStatement&);
  void (*bind_update)(SqlStatement*, const SealedCopy&);
};

// The tables of many documents per referral (case updates, subject
// notifications), keyed and sealed by (referral_id, sequence).
void BindAfterReferralSequence(SqlStatement* s, const SealedCopy& after) {
  s->Bind(":after_referral", after.text).Bind(":after_sequence", after.number);
}
SealedCopy ReadReferralSequenceDocument(const SqlStatement& s) {  // referral_id, sequence, document
  SealedCopy c;
  c.text = s.Text(0);
  c.number = s.Int(1);
  c.values = {s.Text(2)};
  c.row = SealedRow(c.text, c.number);
  return c;
}
void BindReferralSequenceDocument(SqlStatement* s, const SealedCopy& c) {
  s->Bind(":referral_id", c.text).Bind(":sequence", c.number).BindBlob(":document", c.values[0]);
}

const std::vector<SealedTable>& SealedTables() {
  static const auto* tables = new std::vector<SealedTable>{
      {"referrals", &SqlDialect::page_referral_documents, &SqlDialect::update_referral_sealed_document,
       {sealed_column::kReferral},
       [](SqlStatement* s, const SealedCopy& after) { s->Bind(":after_id", after.text); },
       [](const SqlStatement& s) {  // id, document
         SealedCopy c;
         c.text = s.Text(0);
         c.values = {s.Text(1)};
         c.row = SealedRow(c.text);
         return c;
       },
       [](SqlStatement* s, const SealedCopy& c) { s->Bind(":id", c.text).BindBlob(":document", c.values[0]); }},
      {"referral_events", &SqlDialect::page_event_documents, &SqlDialect::update_event_documents,
       {sealed_column::kEventReferral, sealed_column::kEventUpdate},
       [](SqlStatement* s, const SealedCopy& after) { s->Bind(":after_sequence", after.number); },
       [](const SqlStatement& s) {  // sequence, referral_id, referral_document, update_document
         SealedCopy c;
         c.number = s.Int(0);
         c.values = {s.Text(2), s.Text(3)};
         c.row = SealedRow(s.Text(1), c.number);
         return c;
       },
       [](SqlStatement* s, const SealedCopy& c) {
         s->Bind(":sequence", c.number)
             .BindBlob(":referral_document", c.values[0])
             .BindBlob(":update_document", c.values[1]);
       }},
      {"update_requests", &SqlDialect::page_replay_documents, &SqlDialect::update_replay_document,
       {sealed_column::kReplay},
       [](SqlStatement* s, const SealedCopy& after) {
         s->Bind(":after_agency", after.text).Bind(":after_request", after.second_text);
       },
       [](const SqlStatement& s) {  // agency_id, request_id, referral_id, document
         SealedCopy c;
         c.text = s.Text(0);
         c.second_text = s.Text(1);
         c.values = {s.Text(3)};
         c.row = SealedRow(s.Text(2), c.text, c.second_text);
         return c;
       },
       [](SqlStatement* s, const SealedCopy& c) {
         s->Bind(":agency_id", c.text).Bind(":request_id", c.second_text).BindBlob(":document", c.values[0]);
       }},
      {"case_updates", &SqlDialect::page_case_update_documents, &SqlDialect::update_case_update_document,
       {sealed_column::kCaseUpdate}, BindAfterReferralSequence, ReadReferralSequenceDocument,
       BindReferralSequenceDocument},
      {"subject_notifications", &SqlDialect::page_subject_notification_documents,
       &SqlDialect::update_subject_notification_document,
       {sealed_column::kSubjectNotification}, BindAfterReferralSequence, ReadReferralSequenceDocument,
       BindReferralSequenceDocument},
  };
  return *tables;
}

}  // namespace

absl::StatusOr<bool> SqlStore::Reseal(absl::string_view column, absl::string_view row, std::string* stored,
                                      ReencryptTally* tally) {
  if (stored->empty()) return false;
  ++tally->examined;
  const uint32_t key_id = ValueCipher::KeyIdOf(*stored);
  ++tally->found_by_key[key_id];
  if (key_id != 0 && key_id == Cipher()->active_key_id()) return false;
  std::string plaintext = *stored;
  REFX_RETURN_IF_ERROR(OpenValue(column, row, &plaintext));
  REFX_ASSIGN_OR_RETURN(*stored, SealValue(column, row, plaintext));
  ++tally->rewritten;
  return true;
}

absl::Status SqlStore::ReencryptPage(SqlConnection* conn, int table_index, int limit, ReencryptCursor* cursor,
                                     ReencryptTally* tally) {
  const SealedTable& table = SealedTables().at(table_index);
  // The page is read whole before a row of it is rewritten: no statement
  // steps through rows another is changing.
  std::vector<SealedCopy> page;
  {
    REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.*table.page));
    SealedCopy after;
    after.text = cursor->text;
    after.second_text = cursor->second_text;
    after.number = cursor->number;
    table.bind_after(stmt.get(), after);
    stmt->Bind(":limit", int64_t{limit});
    while (true) {
      REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      page.push_back(table.read(*stmt));
    }
  }
  for (SealedCopy& copy : page) {
    bool changed = false;
    for (size_t i = 0; i < table.columns.size(); ++i) {
      REFX_ASSIGN_OR_RETURN(bool resealed, Reseal(table.columns[i], copy.row, &copy.values[i], tally));
      changed = changed || resealed;
    }
    if (changed) {
      REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.*table.update));
      table.bind_update(stmt.get(), copy);
      REFX_RETURN_IF_ERROR(stmt->Run());
    }
    cursor->text = copy.text;
    cursor->second_text = copy.second_text;
    cursor->number = copy.number;
  }
  cursor->done = static_cast<int>(page.size()) < limit;
  return absl::OkStatus();
}

absl::StatusOr<ReencryptReport> SqlStore::ReencryptStoredValues(
    int page_size, const std::function<void(const ReencryptProgress&)>& progress) {
  if (Cipher() == nullptr) {
    return absl::FailedPreconditionError(
        "encryption at rest is off for this store (no storage.encryption_key_file): nothing to re-encrypt");
  }
  if (page_size < 1) return absl::InvalidArgumentError("the page size must be at least 1");
  // The newest key any replica made is the one to move to.
  REFX_RETURN_IF_ERROR(RefreshDataKeys());
  ReencryptReport report;
  constexpr int kMaxPasses = 3;
  for (int pass = 1; pass <= kMaxPasses; ++pass) {
    report.passes = pass;
    ReencryptTally pass_tally;
    for (int table = 0; table < static_cast<int>(SealedTables().size()); ++table) {
      ReencryptCursor cursor;
      ReencryptProgress told;
      told.pass = pass;
      told.table = SealedTables()[table].name;
      while (!cursor.done) {
        ReencryptCursor next;
        ReencryptTally page;
        // The write may run more than once (a batch-mate's failure, a
        // retried commit): each run starts from the same cursor afresh.
        REFX_RETURN_IF_ERROR(Submit(kKeysQueueKey, [&](SqlConnection* conn) {
          next = cursor;
          page = ReencryptTally();
          return ReencryptPage(conn, table, page_size, &next, &page);
        }));
        cursor = next;
        pass_tally.examined += page.examined;
        pass_tally.rewritten += page.rewritten;
        for (const auto& [key_id, count] : page.found_by_key) pass_tally.found_by_key[key_id] += count;
        told.values_examined += page.examined;
        told.values_rewritten += page.rewritten;
        told.table_done = cursor.done;
        if (progress) progress(told);
      }
    }
    if (pass == 1) {
      report.found_by_key = pass_tally.found_by_key;
      report.values_examined = pass_tally.examined;
    }
    report.values_rewritten += pass_tally.rewritten;
    report.values_left = pass_tally.rewritten;
    // A pass that moved nothing proves every value is under the newest key;
    // one that moved some is checked by another (a replica may have sealed
    // with the old key until it picked up the new one).
    if (pass_tally.rewritten == 0) {
      report.values_left = 0;
      break;
    }
  }
  report.key_id = Cipher()->active_key_id();
  log::Info("storage_values_reencrypted", {{"key_id", static_cast<int64_t>(report.key_id)},
                                           {"values_rewritten", report.values_rewritten},
                                           {"passes", static_cast<int64_t>(report.passes)},
                                           {"values_left", report.values_left}});
  return report;
}

}  // namespace refx::storage
