// SqlStore's re-encryption: every stored value moved to the newest data key
// after a rotation (and values stored before encryption at rest sealed),
// one page of one table per write beside the live writes. A page is read and
// rewritten inside the writer's transaction, under the database's write
// lock, so no change made meanwhile is overwritten; the plaintext does not
// change, so no document, etag or event does either.
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/sql_store.h"

namespace refx::storage {
namespace {

constexpr char kKeysQueueKey[] = "refx-keys";

// The tables holding sealed values, in the order a pass takes them.
enum SealedTable { kReferrals, kEvents, kReplays, kCaseUpdates, kSealedTables };
constexpr const char* kTableNames[kSealedTables] = {"referrals", "referral_events", "update_requests",
                                                    "case_updates"};

}  // namespace

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

absl::Status SqlStore::ReencryptPage(SqlConnection* conn, int table, int limit, ReencryptCursor* cursor,
                                     ReencryptTally* tally) {
  // Each page is read whole before a row of it is rewritten: no statement
  // steps through rows another is changing.
  int rows = 0;
  switch (table) {
    case kReferrals: {
      std::vector<std::pair<std::string, std::string>> page;  // id, document
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.page_referral_documents));
        stmt->Bind(":after_id", cursor->text).Bind(":limit", int64_t{limit});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          page.emplace_back(stmt->Text(0), stmt->Text(1));
        }
      }
      for (auto& [id, document] : page) {
        REFX_ASSIGN_OR_RETURN(bool changed, Reseal(sealed_column::kReferral, SealedRow(id), &document, tally));
        if (changed) {
          REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_referral_sealed_document));
          stmt->Bind(":id", id).BindBlob(":document", document);
          REFX_RETURN_IF_ERROR(stmt->Run());
        }
        cursor->text = id;
      }
      rows = static_cast<int>(page.size());
      break;
    }
    case kEvents: {
      struct Copy {
        int64_t sequence;
        std::string referral_id, referral_document, update_document;
      };
      std::vector<Copy> page;
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.page_event_documents));
        stmt->Bind(":after_sequence", cursor->number).Bind(":limit", int64_t{limit});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          page.push_back({stmt->Int(0), stmt->Text(1), stmt->Text(2), stmt->Text(3)});
        }
      }
      for (Copy& copy : page) {
        const std::string row = SealedRow(copy.referral_id, copy.sequence);
        REFX_ASSIGN_OR_RETURN(bool referral_changed,
                              Reseal(sealed_column::kEventReferral, row, &copy.referral_document, tally));
        REFX_ASSIGN_OR_RETURN(bool update_changed,
                              Reseal(sealed_column::kEventUpdate, row, &copy.update_document, tally));
        if (referral_changed || update_changed) {
          REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_event_documents));
          stmt->Bind(":sequence", copy.sequence)
              .BindBlob(":referral_document", copy.referral_document)
              .BindBlob(":update_document", copy.update_document);
          REFX_RETURN_IF_ERROR(stmt->Run());
        }
        cursor->number = copy.sequence;
      }
      rows = static_cast<int>(page.size());
      break;
    }
    case kReplays: {
      struct Copy {
        std::string agency_id, request_id, referral_id, document;
      };
      std::vector<Copy> page;
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.page_replay_documents));
        stmt->Bind(":after_agency", cursor->text)
            .Bind(":after_request", cursor->second_text)
            .Bind(":limit", int64_t{limit});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          page.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2), stmt->Text(3)});
        }
      }
      for (Copy& copy : page) {
        REFX_ASSIGN_OR_RETURN(bool changed,
                              Reseal(sealed_column::kReplay, SealedRow(copy.referral_id, copy.agency_id, copy.request_id),
                                     &copy.document, tally));
        if (changed) {
          REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_replay_document));
          stmt->Bind(":agency_id", copy.agency_id)
              .Bind(":request_id", copy.request_id)
              .BindBlob(":document", copy.document);
          REFX_RETURN_IF_ERROR(stmt->Run());
        }
        cursor->text = copy.agency_id;
        cursor->second_text = copy.request_id;
      }
      rows = static_cast<int>(page.size());
      break;
    }
    case kCaseUpdates: {
      struct Copy {
        std::string referral_id;
        int64_t sequence;
        std::string document;
      };
      std::vector<Copy> page;
      {
        REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.page_case_update_documents));
        stmt->Bind(":after_referral", cursor->text)
            .Bind(":after_sequence", cursor->number)
            .Bind(":limit", int64_t{limit});
        while (true) {
          REFX_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          page.push_back({stmt->Text(0), stmt->Int(1), stmt->Text(2)});
        }
      }
      for (Copy& copy : page) {
        REFX_ASSIGN_OR_RETURN(bool changed, Reseal(sealed_column::kCaseUpdate,
                                                   SealedRow(copy.referral_id, copy.sequence), &copy.document, tally));
        if (changed) {
          REFX_ASSIGN_OR_RETURN(auto stmt, conn->Prepare(sql_.update_case_update_document));
          stmt->Bind(":referral_id", copy.referral_id)
              .Bind(":sequence", copy.sequence)
              .BindBlob(":document", copy.document);
          REFX_RETURN_IF_ERROR(stmt->Run());
        }
        cursor->text = copy.referral_id;
        cursor->number = copy.sequence;
      }
      rows = static_cast<int>(page.size());
      break;
    }
    default:
      return absl::InternalError("no such sealed table");
  }
  cursor->done = rows < limit;
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
    for (int table = 0; table < kSealedTables; ++table) {
      ReencryptCursor cursor;
      ReencryptProgress told;
      told.pass = pass;
      told.table = kTableNames[table];
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
