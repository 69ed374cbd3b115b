// Encryption at rest (storage/value_cipher.h), on both backends: no stored
// copy of a document (referral row, event log, replay response, case
// record) holds plaintext after creates, changes, case updates and
// replays, while every read returns it; a missing, wrong or new key fails
// the open closed and says which key is needed; a sealed value moved to
// another row does not open; values stored before encryption stay
// readable.
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/make_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store_copy.h"
#include "storage/value_cipher.h"
#include "tests/storage/store_test_support.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {
namespace {

constexpr char kCanary[] = "CANARY-at-rest-5e1f";

KeyEncryptionKey TestKey(char fill = 'k') {
  KeyEncryptionKey kek;
  kek.key = std::string(32, fill);
  kek.source = "test key";
  return kek;
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

absl::StatusOr<std::unique_ptr<sqlite::SqliteStore>> OpenSqlite(const std::string& path, KeyEncryptionKey kek) {
  sqlite::SqliteStore::Options options;
  options.path = path;
  options.key_encryption_key = std::move(kek);
  return sqlite::SqliteStore::Create(options);
}

// Every kind of write a referral's content goes through, each with the
// canary in its documents, and each retried once (a replay is answered from
// what was stored). Checks every read gives the plaintext back.
void WriteEverything(ReferralStore* store) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  StoredReferral base = Referral("x1", "police", {"city"}, t);
  base.document = absl::StrCat("referral ", kCanary, " v1");
  CreateReferralRequest create = Request(base, "c1");
  ReferralEvent created;
  created.time = t;
  created.kind = 2;
  created.referral_id = "x1";
  created.audience = {"police", "city"};
  create.event = created;
  ASSERT_TRUE(store->CreateReferral(create).ok());
  auto replayed_create = store->CreateReferral(create);
  ASSERT_TRUE(replayed_create.ok()) << replayed_create.status();
  EXPECT_TRUE(replayed_create->replayed);
  EXPECT_EQ(replayed_create->referral.document, base.document);

  UpdateReferralRequest update;
  update.agency_id = "city";
  update.request_id = "u1";
  update.request_fingerprint = "fp-u1";
  update.expected_etag = "e-x1";
  update.referral = base;
  update.referral.etag = "e2";
  update.referral.document = absl::StrCat("referral ", kCanary, " v2");
  update.audit.action = "ALTERATION";
  update.event = created;
  update.event->kind = 3;
  ASSERT_TRUE(store->UpdateReferral(update).ok());
  auto replayed_update = store->UpdateReferral(update);
  ASSERT_TRUE(replayed_update.ok()) << replayed_update.status();
  EXPECT_TRUE(replayed_update->replayed);
  EXPECT_EQ(replayed_update->referral.document, update.referral.document);
  auto found = store->FindUpdate("city", "u1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->document, update.referral.document);

  AddCaseUpdateRequest note;
  note.agency_id = "city";
  note.request_id = "n1";
  note.request_fingerprint = "fp-n1";
  note.expected_etag = "e2";
  note.referral = update.referral;
  note.referral.etag = "e3";
  note.referral.document = absl::StrCat("referral ", kCanary, " v3");
  note.update.update_id = "cu1";
  note.update.kind = 1;
  note.update.author_agency = "city";
  note.update.create_time = t + absl::Seconds(1);
  note.update.document = absl::StrCat("case update ", kCanary);
  note.audit.action = "ALTERATION";
  note.event = created;
  note.event->kind = 4;
  note.event->update_document = note.update.document;
  ASSERT_TRUE(store->AddCaseUpdate(note).ok());
  auto replayed_note = store->AddCaseUpdate(note);
  ASSERT_TRUE(replayed_note.ok()) << replayed_note.status();
  EXPECT_TRUE(replayed_note->replayed);
  EXPECT_EQ(replayed_note->update.document, note.update.document);

  StoredSubjectNotification step;
  step.referral_id = "x1";
  step.agency_id = "police";
  step.request_id = "s1";
  step.create_time = t + absl::Seconds(2);
  step.document = absl::StrCat("subject notification ", kCanary);
  AuditRecord collected;
  collected.action = "COLLECTION";
  collected.agency_id = "police";
  ASSERT_TRUE(store->RecordSubjectNotification(step, 100, collected).ok());
  auto replayed_step = store->RecordSubjectNotification(step, 100, collected);
  ASSERT_TRUE(replayed_step.ok()) << replayed_step.status();
  EXPECT_TRUE(replayed_step->replayed);
  EXPECT_EQ(replayed_step->stored.document, step.document);

  // Every read path opens what it reads.
  auto got = store->GetReferral("x1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->document, note.referral.document);
  ListReferralsQuery list;
  list.party_agency = "city";
  list.limit = 10;
  auto listed = store->ListReferrals(list);
  ASSERT_TRUE(listed.ok() && listed->size() == 1u);
  EXPECT_EQ((*listed)[0].document, note.referral.document);
  auto events = store->ListEvents(EventQuery{"city", 0, 10});
  ASSERT_TRUE(events.ok() && events->size() == 3u);
  EXPECT_EQ((*events)[0].referral_document, base.document);
  EXPECT_EQ((*events)[2].update_document, note.update.document);
  auto updates = store->ListCaseUpdates("x1", 0, 10);
  ASSERT_TRUE(updates.ok() && updates->size() == 1u);
  EXPECT_EQ((*updates)[0].document, note.update.document);
  auto steps = store->ListSubjectNotifications("x1");
  ASSERT_TRUE(steps.ok() && steps->size() == 1u);
  EXPECT_EQ((*steps)[0].document, step.document);
  auto one = store->GetCaseUpdate("x1", "cu1");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->document, note.update.document);
}

TEST(ValueCipherTest, SealsBoundToColumnAndReferralWithTheNewestKey) {
  auto cipher = ValueCipher::Create({{1, std::string(32, 'a')}, {2, std::string(32, 'b')}});
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  EXPECT_EQ(cipher->active_key_id(), 2u);
  auto sealed = cipher->Seal(sealed_column::kReferral, "r1", "hello");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(ValueCipher::IsSealed(*sealed));
  EXPECT_EQ(ValueCipher::KeyIdOf(*sealed), 2u);
  EXPECT_EQ(sealed->find("hello"), std::string::npos);
  EXPECT_NE(*sealed, *cipher->Seal(sealed_column::kReferral, "r1", "hello"));  // a fresh nonce each time
  EXPECT_EQ(*cipher->Open(sealed_column::kReferral, "r1", *sealed), "hello");
  // Another referral, another column, one flipped bit: none opens.
  EXPECT_EQ(cipher->Open(sealed_column::kReferral, "r2", *sealed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(cipher->Open(sealed_column::kReplay, "r1", *sealed).status().code(), absl::StatusCode::kDataLoss);
  std::string flipped = *sealed;
  flipped.back() ^= 1;
  EXPECT_EQ(cipher->Open(sealed_column::kReferral, "r1", flipped).status().code(), absl::StatusCode::kDataLoss);
  // A key this cipher does not hold.
  auto older = ValueCipher::Create({{1, std::string(32, 'a')}});
  EXPECT_EQ(older->Open(sealed_column::kReferral, "r1", *sealed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*older->Open(sealed_column::kReferral, "r1",
                         *cipher->Open(sealed_column::kReferral, "r1", *sealed)),
            "hello");  // a value stored before encryption reads as it is
  EXPECT_EQ(*cipher->Seal(sealed_column::kReferral, "r1", ""), "");
  EXPECT_FALSE(ValueCipher::Create({}).ok());
  EXPECT_FALSE(ValueCipher::Create({{1, "short"}}).ok());
}

TEST(ValueCipherTest, DataKeysUnwrapOnlyWithTheirKeyEncryptionKeyAndId) {
  const std::string kek(32, 'k');
  const std::string dek(32, 'd');
  auto wrapped = WrapDataKey(kek, 7, dek);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(*UnwrapDataKey(kek, 7, *wrapped), dek);
  EXPECT_EQ(UnwrapDataKey(std::string(32, 'x'), 7, *wrapped).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(UnwrapDataKey(kek, 8, *wrapped).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(KeyEncryptionKeyId(kek).size(), 16u);
  EXPECT_NE(KeyEncryptionKeyId(kek), KeyEncryptionKeyId(std::string(32, 'x')));
}

TEST(EncryptionAtRestTest, SqliteFilesHoldNoPlaintextAfterEveryKindOfWrite) {
  const std::string dir = testing::MakeTempDir("at-rest");
  const std::string path = dir + "/refx.db";
  auto store = OpenSqlite(path, TestKey());
  ASSERT_TRUE(store.ok()) << store.status();
  WriteEverything(store->get());
  auto search = [&] { return FileBytes(path) + FileBytes(path + "-wal") + FileBytes(path + "-shm"); };
  // While open (the WAL holds the latest pages) and after closing.
  EXPECT_EQ(search().find(kCanary), std::string::npos);
  store->reset();
  EXPECT_EQ(search().find(kCanary), std::string::npos);
  // Reopened with the key, everything reads back.
  auto reopened = OpenSqlite(path, TestKey());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_NE((*reopened)->GetReferral("x1")->document.find(kCanary), std::string::npos);

  // The search is real: without encryption the same writes are found.
  const std::string plain = dir + "/plain.db";
  auto control = OpenSqlite(plain, KeyEncryptionKey());
  ASSERT_TRUE(control.ok()) << control.status();
  WriteEverything(control->get());
  control->reset();
  EXPECT_NE((FileBytes(plain) + FileBytes(plain + "-wal")).find(kCanary), std::string::npos);
}

TEST(EncryptionAtRestTest, AMissingWrongOrNewKeyFailsTheOpenAndNamesTheKeyNeeded) {
  const std::string path = testing::MakeTempDir("at-rest-keys") + "/refx.db";
  ASSERT_TRUE(OpenSqlite(path, TestKey()).ok());
  const std::string needed = KeyEncryptionKeyId(TestKey().key);

  auto without = OpenSqlite(path, KeyEncryptionKey());
  EXPECT_EQ(without.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(without.status().message().find("storage.encryption_key_file"), std::string::npos) << without.status();
  EXPECT_NE(without.status().message().find(needed), std::string::npos) << without.status();

  auto wrong = OpenSqlite(path, TestKey('w'));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find(needed), std::string::npos) << wrong.status();
  EXPECT_EQ(wrong.status().message().find(std::string(32, 'w')), std::string::npos);

  // A key made by this start (its file was missing) is never saved over a
  // database sealed under another.
  KeyEncryptionKey made = TestKey('n');
  bool saved = false;
  made.source = "storage.encryption_key_file /gone/data-encryption.key";
  made.save_new = [&] {
    saved = true;
    return absl::OkStatus();
  };
  auto fresh = OpenSqlite(path, made);
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(fresh.status().message().find("/gone/data-encryption.key does not exist"), std::string::npos)
      << fresh.status();
  EXPECT_FALSE(saved);

  // On a new database it is saved before the first data key it wraps.
  auto created = OpenSqlite(testing::MakeTempDir("at-rest-new") + "/refx.db", made);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(saved);
  // And the right key still opens the first database.
  EXPECT_TRUE(OpenSqlite(path, TestKey()).ok());
}

TEST(EncryptionAtRestTest, ASealedDocumentMovedToAnotherReferralDoesNotOpen) {
  const std::string path = testing::MakeTempDir("at-rest-move") + "/refx.db";
  {
    auto store = OpenSqlite(path, TestKey());
    ASSERT_TRUE(store.ok());
    const absl::Time t = absl::Now();
    ASSERT_TRUE((*store)->CreateReferral(Request(Referral("m1", "police", {"city"}, t), "a")).ok());
    ASSERT_TRUE((*store)->CreateReferral(Request(Referral("m2", "police", {"city"}, t), "b")).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE referrals SET document = (SELECT document FROM referrals WHERE id = 'm1') "
                             "WHERE id = 'm2'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = OpenSqlite(path, TestKey());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->GetReferral("m1")->document, "doc-m1");
  auto moved = (*store)->GetReferral("m2");
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kDataLoss) << moved.status();
  EXPECT_EQ(moved.status().message().find("doc-m1"), std::string::npos);
}

// Rows a referral has many of are told apart too: its event-log copies
// (bound to their sequence) cannot be swapped or replayed into another.
TEST(EncryptionAtRestTest, OneReferralsEventCopiesCannotBeSwapped) {
  const std::string path = testing::MakeTempDir("at-rest-swap") + "/refx.db";
  {
    auto store = OpenSqlite(path, TestKey());
    ASSERT_TRUE(store.ok());
    WriteEverything(store->get());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE referral_events SET referral_document = (SELECT referral_document FROM "
                             "referral_events WHERE sequence = 1) WHERE sequence = 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = OpenSqlite(path, TestKey());
  ASSERT_TRUE(store.ok());
  auto events = (*store)->ListEvents(EventQuery{"city", 0, 10});
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss) << events.status();
  auto first = (*store)->ListEvents(EventQuery{"city", 0, 1});  // the untouched one still opens
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE((*first)[0].referral_document.find(kCanary), std::string::npos);
}

TEST(EncryptionAtRestTest, DocumentsStoredBeforeEncryptionStayReadableAndNewOnesAreSealed) {
  const std::string path = testing::MakeTempDir("at-rest-legacy") + "/refx.db";
  const absl::Time t = absl::Now();
  {
    auto store = OpenSqlite(path, KeyEncryptionKey());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateReferral(Request(Referral("old", "police", {"city"}, t), "a")).ok());
  }
  {
    auto store = OpenSqlite(path, TestKey());
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->GetReferral("old")->document, "doc-old");
    StoredReferral fresh = Referral("new", "police", {"city"}, t);
    fresh.document = kCanary;
    ASSERT_TRUE((*store)->CreateReferral(Request(fresh, "b")).ok());
    EXPECT_EQ((*store)->GetReferral("new")->document, kCanary);
  }
  EXPECT_EQ((FileBytes(path) + FileBytes(path + "-wal")).find(kCanary), std::string::npos);
}

TEST(EncryptionAtRestTest, ANewKeyEncryptionKeyRewrapsTheDataKeysAndRetiresTheOldOne) {
  const std::string path = testing::MakeTempDir("at-rest-rotate") + "/refx.db";
  {
    auto store = OpenSqlite(path, TestKey('1'));
    ASSERT_TRUE(store.ok());
    StoredReferral r = Referral("r1", "police", {"city"}, absl::Now());
    r.document = kCanary;
    ASSERT_TRUE((*store)->CreateReferral(Request(r, "a")).ok());
  }
  // The new key alone does not open it; with the old one listed, it does,
  // and re-wraps.
  EXPECT_EQ(OpenSqlite(path, TestKey('2')).status().code(), absl::StatusCode::kFailedPrecondition);
  KeyEncryptionKey rotating = TestKey('2');
  rotating.previous.push_back({std::string(32, '1'), "previous test key"});
  {
    auto store = OpenSqlite(path, rotating);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->GetReferral("r1")->document, kCanary);
  }
  // From then on the new key alone opens it, and the old one no longer does.
  auto rotated = OpenSqlite(path, TestKey('2'));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ((*rotated)->GetReferral("r1")->document, kCanary);
  rotated->reset();
  auto old = OpenSqlite(path, TestKey('1'));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(old.status().message().find(KeyEncryptionKeyId(std::string(32, '2'))), std::string::npos) << old.status();
}

// PostgreSQL: every table's rows as text (bytea as hex) hold no canary.
TEST(EncryptionAtRestTest, PostgresTablesHoldNoPlaintextAfterEveryKindOfWrite) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  MakeStoreOptions options;
  options.config = *config;
  options.key_encryption_key = TestKey();
  {
    auto store = MakeStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    WriteEverything(store->get());
  }
  std::unique_ptr<SqlConnection> conn = OpenRawConnection(*config);
  ASSERT_NE(conn, nullptr);
  static const std::vector<std::string>* const kDumps = [] {
    auto* dumps = new std::vector<std::string>;
    for (const std::string& table : CopiedTables()) {
      dumps->push_back(absl::StrCat("SELECT COALESCE(string_agg(t::text, ' '), '') FROM ", table, " t"));
    }
    return dumps;
  }();
  std::string everything;
  for (const std::string& dump : *kDumps) {
    auto stmt = conn->Prepare(dump.c_str());
    ASSERT_TRUE(stmt.ok()) << stmt.status();
    ASSERT_TRUE(*(*stmt)->Step());
    absl::StrAppend(&everything, (*stmt)->Text(0), "\n");
  }
  EXPECT_NE(everything.find("x1"), std::string::npos);  // the rows are there
  EXPECT_EQ(everything.find(kCanary), std::string::npos);
  EXPECT_EQ(everything.find(absl::BytesToHexString(kCanary)), std::string::npos);
  // And reopened with the wrong key, the database refuses to open.
  options.key_encryption_key = TestKey('w');
  EXPECT_EQ(MakeStore(options).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace refx::storage
