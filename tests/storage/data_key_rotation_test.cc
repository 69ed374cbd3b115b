// Data key rotation and re-encryption (ReferralStore::RotateDataKey,
// ReencryptStoredValues), on both backends: a rotation seals new values with
// the new key while old ones stay readable; a re-encryption moves every
// stored value (referral rows, event-log copies, retry responses, case
// updates) to the newest key without changing what any read returns, seals
// values stored before encryption, and leaves no plaintext behind in the
// SQLite file once checkpointed; a replica picks up another's new key on the first value it
// meets under it and at its health check; and a rotation and re-encryption
// under live writes and reads on another replica fail no call. Each test
// checks the stored bytes themselves (the key id every sealed value
// carries), read with a connection of its own.
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/value_cipher.h"
#include "tests/storage/store_test_support.h"

namespace refx::storage {
namespace {

constexpr char kCanary[] = "CANARY-rekey-41c7";

// Sealed values in the stored bytes by the key that sealed them (0: not
// sealed); empty values are not counted.
std::map<uint32_t, int64_t> KeyCensus(SqlConnection* conn) {
  std::map<uint32_t, int64_t> census;
  for (const char* query : {"SELECT document FROM referrals", "SELECT referral_document FROM referral_events",
                            "SELECT update_document FROM referral_events", "SELECT document FROM update_requests",
                            "SELECT document FROM case_updates", "SELECT document FROM subject_notifications"}) {
    auto stmt = conn->Prepare(query);
    EXPECT_TRUE(stmt.ok()) << stmt.status();
    if (!stmt.ok()) return census;
    while (true) {
      auto row = (*stmt)->Step();
      EXPECT_TRUE(row.ok()) << row.status();
      if (!row.ok() || !*row) break;
      const std::string value = (*stmt)->Text(0);
      if (!value.empty()) ++census[ValueCipher::KeyIdOf(value)];
    }
  }
  return census;
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

AuditRecord RotationAudit() {
  AuditRecord audit;
  audit.time = absl::Now();
  audit.action = "ALTERATION";
  audit.method = "data_key_rotation_test";
  audit.agency_id = "refx-admin";
  audit.outcome = "OK";
  return audit;
}

// What a reader sees of referral `id`: every stored copy, opened.
struct Seen {
  std::string document, etag, replay;
  std::vector<std::string> events, updates;
  bool operator==(const Seen&) const = default;
};

// Writes referral `id` through every kind of write (a create, a lifecycle
// change and a case update, each with its event), with the canary in every
// document; the change's request id is "u-<id>".
void WriteReferral(ReferralStore* store, const std::string& id) {
  StoredReferral base = Referral(id, "police", {"city"}, absl::Now());
  base.document = absl::StrCat("referral ", kCanary, " ", id);
  CreateReferralRequest create = Request(base, "c-" + id);
  create.event = Event(base, 2);
  ASSERT_TRUE(store->CreateReferral(create).ok());
  UpdateReferralRequest update = Update(base, "city", "u-" + id, base.etag, "e2-" + id);
  update.referral.document = absl::StrCat("changed ", kCanary, " ", id);
  update.event = Event(update.referral, 3);
  ASSERT_TRUE(store->UpdateReferral(update).ok());
  AddCaseUpdateRequest note = CaseUpdate(update.referral, "city", "n-" + id, "e2-" + id, "e3-" + id, "cu-" + id);
  note.referral.document = absl::StrCat("noted ", kCanary, " ", id);
  note.update.document = absl::StrCat("note ", kCanary, " ", id);
  note.event = Event(note.referral, 4);
  note.event->update_document = note.update.document;
  auto added = store->AddCaseUpdate(note);
  ASSERT_TRUE(added.ok()) << added.status();
}

Seen Read(ReferralStore* store, const std::string& id) {
  Seen seen;
  auto referral = store->GetReferral(id);
  EXPECT_TRUE(referral.ok()) << referral.status();
  if (referral.ok()) {
    seen.document = referral->document;
    seen.etag = referral->etag;
  }
  auto replay = store->FindUpdate("city", "u-" + id);
  EXPECT_TRUE(replay.ok() && replay->has_value()) << replay.status();
  if (replay.ok() && replay->has_value()) seen.replay = (*replay)->document;
  auto events = store->ListEvents(EventQuery{"city", 0, 1000});
  EXPECT_TRUE(events.ok()) << events.status();
  if (events.ok()) {
    for (const ReferralEvent& e : *events) {
      if (e.referral_id == id) seen.events.push_back(e.referral_document + "|" + e.update_document);
    }
  }
  auto updates = store->ListCaseUpdates(id, 0, 100);
  EXPECT_TRUE(updates.ok()) << updates.status();
  if (updates.ok()) {
    for (const StoredCaseUpdate& u : *updates) seen.updates.push_back(u.document);
  }
  EXPECT_NE(seen.document.find(kCanary), std::string::npos);
  return seen;
}

// Both backends, each with a connection of the test's own to its bytes and
// a way to open a second store (a second replica) on the same database.
class DataKeyRotationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("rekey");
    if (GetParam() == "postgres") REFX_SKIP_UNLESS_POSTGRES();
    auto config = NewDatabaseConfig(GetParam(), dir_);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<ReferralStore> Open(KeyEncryptionKey kek = ConformanceKey()) {
    return OpenConfiguredStore(config_, std::move(kek));
  }

  std::map<uint32_t, int64_t> StoredKeys() {
    std::unique_ptr<SqlConnection> conn = OpenRawConnection(config_);
    return conn == nullptr ? std::map<uint32_t, int64_t>() : KeyCensus(conn.get());
  }

  std::string dir_;
  config::v1::StorageConfig config_;
  std::unique_ptr<ReferralStore> store_;
};

using KeyCounts = std::map<uint32_t, int64_t>;

TEST_P(DataKeyRotationTest, ANewKeySealsWhatIsWrittenNextAndOlderValuesStayReadable) {
  WriteReferral(store_.get(), "before");
  const Seen before = Read(store_.get(), "before");
  // The referral row, 3 event-log copies of it and 1 of the case update, 2
  // retry responses (the change's and the case update's), the case update.
  EXPECT_EQ(StoredKeys(), (KeyCounts{{1, 8}}));

  auto rotation = store_->RotateDataKey(RotationAudit());
  ASSERT_TRUE(rotation.ok()) << rotation.status();
  EXPECT_EQ(rotation->key_id, 2u);
  EXPECT_EQ(rotation->data_keys, 2);
  WriteReferral(store_.get(), "after");
  EXPECT_EQ(StoredKeys(), (KeyCounts{{1, 8}, {2, 8}}));
  EXPECT_EQ(Read(store_.get(), "before"), before);
  Read(store_.get(), "after");

  // Audited, naming the key and nothing else.
  AuditQuery query;
  query.limit = 100;
  auto audit = store_->ListAuditEvents(query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  bool found = false;
  for (const AuditRecord& event : *audit) {
    if (event.method != "data_key_rotation_test") continue;
    found = true;
    EXPECT_EQ(event.reason, "data key 2");
    EXPECT_EQ(event.referral_ids, "");
  }
  EXPECT_TRUE(found);

  // Reopened, the store seals with the newest key and reads all.
  store_.reset();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Read(store_.get(), "before"), before);
  WriteReferral(store_.get(), "reopened");
  EXPECT_EQ(StoredKeys()[2], 16);
}

TEST_P(DataKeyRotationTest, ReencryptionMovesEveryStoredValueAndChangesNothingARead) {
  WriteReferral(store_.get(), "r1");
  WriteReferral(store_.get(), "r2");
  WriteReferral(store_.get(), "r3");
  // And a subject notification step, kept in its own table.
  StoredSubjectNotification step;
  step.referral_id = "r1";
  step.agency_id = "police";
  step.request_id = "n1";
  step.create_time = absl::FromUnixMicros(1790000000000000);
  step.document = absl::StrCat("step ", kCanary);
  AuditRecord collected;
  collected.action = "COLLECTION";
  collected.agency_id = "police";
  ASSERT_TRUE(store_->RecordSubjectNotification(step, 100, collected).ok());
  const Seen r1 = Read(store_.get(), "r1"), r2 = Read(store_.get(), "r2");
  ASSERT_TRUE(store_->RotateDataKey(RotationAudit()).ok());
  WriteReferral(store_.get(), "r4");
  const Seen r4 = Read(store_.get(), "r4");
  ASSERT_EQ(StoredKeys(), (KeyCounts{{1, 25}, {2, 8}}));

  std::vector<ReencryptProgress> told;
  // Pages of two rows: every table takes several.
  auto report = store_->ReencryptStoredValues(2, [&](const ReencryptProgress& p) { told.push_back(p); });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->key_id, 2u);
  EXPECT_EQ(report->found_by_key, (KeyCounts{{1, 25}, {2, 8}}));
  EXPECT_EQ(report->values_examined, 33);
  EXPECT_EQ(report->values_rewritten, 25);
  EXPECT_EQ(report->passes, 2);  // the second finds nothing left
  EXPECT_EQ(report->values_left, 0);
  EXPECT_EQ(StoredKeys(), (KeyCounts{{2, 33}}));
  EXPECT_EQ(Read(store_.get(), "r1"), r1);
  auto steps = store_->ListSubjectNotifications("r1");
  ASSERT_TRUE(steps.ok() && steps->size() == 1u) << steps.status();
  EXPECT_EQ((*steps)[0].document, step.document);
  EXPECT_EQ(Read(store_.get(), "r2"), r2);
  EXPECT_EQ(Read(store_.get(), "r4"), r4);
  // Progress: every table of every pass ends once, with its counts.
  int ends = 0;
  for (const ReencryptProgress& p : told) {
    if (!p.table_done) continue;
    ++ends;
    if (p.pass == 1 && p.table == "referrals") {
      EXPECT_EQ(p.values_rewritten, 3);
    }
    if (p.pass == 1 && p.table == "referral_events") {
      EXPECT_EQ(p.values_rewritten, 12);
    }
  }
  EXPECT_EQ(ends, 10);  // five tables, two passes
  EXPECT_GT(told.size(), 10u);

  // Run again: nothing to move, one pass.
  auto again = store_->ReencryptStoredValues(200, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->values_rewritten, 0);
  EXPECT_EQ(again->passes, 1);

  // And a replay still answers from what was first returned, a change still
  // checks the etag it was given.
  StoredReferral r1_now = *store_->GetReferral("r1");
  UpdateReferralRequest stale = Update(r1_now, "city", "stale", "e-r1", "e9");
  EXPECT_EQ(store_->UpdateReferral(stale).status().code(), absl::StatusCode::kAborted);
}

TEST_P(DataKeyRotationTest, WithoutEncryptionAtRestThereIsNoKeyToRotate) {
  store_.reset();
  // A fresh database of its own, without a key.
  if (GetParam() == "postgres") {
    auto config = testing::NewPostgresDatabase();
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
  } else {
    config_ = SqliteConfig(dir_ + "/plain.db");
  }
  store_ = Open(KeyEncryptionKey());
  ASSERT_NE(store_, nullptr);
  auto rotation = store_->RotateDataKey(RotationAudit());
  EXPECT_EQ(rotation.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(rotation.status().message().find("storage.encryption_key_file"), std::string::npos);
  EXPECT_EQ(store_->ReencryptStoredValues(10, nullptr).status().code(), absl::StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Backends, DataKeyRotationTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// Values stored before encryption at rest was turned on are sealed by a
// re-encryption, and their plaintext does not survive in the file's free
// space (secure_delete) or its WAL.
TEST(DataKeyReencryptionTest, ValuesStoredBeforeEncryptionAreSealedAndLeaveNoPlaintextInTheFile) {
  const std::string path = testing::MakeTempDir("rekey-legacy") + "/refx.db";
  MakeStoreOptions options;
  options.config = SqliteConfig(path);
  {
    auto plain = MakeStore(options);
    ASSERT_TRUE(plain.ok()) << plain.status();
    WriteReferral(plain->get(), "legacy");
  }
  ASSERT_NE(FileBytes(path).find(kCanary), std::string::npos);  // the control: it was there
  options.key_encryption_key = ConformanceKey();
  {
    auto store = MakeStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    const Seen before = Read(store->get(), "legacy");
    auto report = (*store)->ReencryptStoredValues(200, nullptr);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->found_by_key, (KeyCounts{{0, 8}}));
    EXPECT_EQ(report->values_rewritten, 8);
    EXPECT_EQ(Read(store->get(), "legacy"), before);
  }
  auto conn = sqlite::Connection::Open(path, /*read_only=*/true);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(KeyCensus(conn->get()), (KeyCounts{{1, 8}}));
  conn->reset();
  // Once the WAL is checkpointed into the file (SQLite does so as the WAL
  // grows, and here at once), the old bytes are gone from both.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ((FileBytes(path) + FileBytes(path + "-wal")).find(kCanary), std::string::npos);
}

// Two replicas on one PostgreSQL database: one rotates; the other reads
// what is sealed with the new key at once, and seals with it from its next
// health check.
TEST(DataKeyReplicasTest, AReplicaPicksUpAnotherReplicasNewKeyWhenItMeetsItAndAtItsHealthCheck) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<ReferralStore> a = OpenConfiguredStore(*config);
  ASSERT_NE(a, nullptr);
  std::unique_ptr<ReferralStore> b = OpenConfiguredStore(*config);
  ASSERT_NE(b, nullptr);
  auto key_of = [&](const std::string& id) {
    std::unique_ptr<SqlConnection> conn = OpenRawConnection(*config);
    auto stmt = conn->Prepare("SELECT document FROM referrals WHERE id = :id");
    (*stmt)->Bind(":id", id);
    EXPECT_TRUE(*(*stmt)->Step());
    return ValueCipher::KeyIdOf((*stmt)->Text(0));
  };

  WriteReferral(a.get(), "on-a-1");
  EXPECT_EQ(key_of("on-a-1"), 1u);
  ASSERT_TRUE(b->RotateDataKey(RotationAudit()).ok());
  // A has not heard of key 2 yet: it still seals with key 1.
  WriteReferral(a.get(), "on-a-1b");
  EXPECT_EQ(key_of("on-a-1b"), 1u);
  // B's first value under key 2 reaches A (through the event log it
  // follows, or a read) and opens; A seals with key 2 from then on.
  WriteReferral(b.get(), "on-b-2");
  EXPECT_EQ(key_of("on-b-2"), 2u);
  Read(a.get(), "on-b-2");
  WriteReferral(a.get(), "on-a-2");
  EXPECT_EQ(key_of("on-a-2"), 2u);

  // A third key, and no value under it yet: A takes it at its health check.
  ASSERT_TRUE(b->RotateDataKey(RotationAudit()).ok());
  WriteReferral(a.get(), "on-a-2b");
  EXPECT_EQ(key_of("on-a-2b"), 2u);
  ASSERT_TRUE(a->CheckHealth().ok());
  WriteReferral(a.get(), "on-a-3");
  EXPECT_EQ(key_of("on-a-3"), 3u);
}

// A rotation and a re-encryption by one store while another serves writes
// and reads (checking its health as a server does): no call fails, and at
// the end every stored value is under the new key.
TEST(DataKeyReplicasTest, RotationAndReencryptionUnderLoadFailNoCall) {
  REFX_SKIP_UNLESS_POSTGRES();
  auto config = testing::NewPostgresDatabase();
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<ReferralStore> serving = OpenConfiguredStore(*config);
  ASSERT_NE(serving, nullptr);
  std::unique_ptr<ReferralStore> admin = OpenConfiguredStore(*config);
  ASSERT_NE(admin, nullptr);
  for (int i = 0; i < 20; ++i) WriteReferral(serving.get(), absl::StrCat("seed-", i));

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::thread load([&] {
    for (int i = 0; !stop.load() || i < 20; ++i) {
      const std::string id = absl::StrCat("load-", i);
      StoredReferral r = Referral(id, "police", {"city"}, absl::Now());
      r.document = absl::StrCat(kCanary, " ", id);
      CreateReferralRequest create = Request(r, "c-" + id);
      create.event = Event(r, 2);
      std::vector<absl::Status> results = {serving->CreateReferral(create).status(),
                                           serving->GetReferral(absl::StrCat("seed-", i % 20)).status(),
                                           serving->ListEvents(EventQuery{"city", 0, 50}).status()};
      if (i % 5 == 0) results.push_back(serving->CheckHealth());
      for (const absl::Status& s : results) {
        ++calls;
        if (!s.ok() && failures++ == 0) first_failure = s.ToString();
      }
    }
  });
  auto rotation = admin->RotateDataKey(RotationAudit());
  ASSERT_TRUE(rotation.ok()) << rotation.status();
  auto report = admin->ReencryptStoredValues(16, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->values_rewritten, 100);
  stop = true;
  load.join();
  EXPECT_GT(calls.load(), 60);
  EXPECT_EQ(failures.load(), 0) << first_failure;
  // What the serving store wrote before it picked the key up is moved by a
  // last run; then everything is under key 2.
  auto last = admin->ReencryptStoredValues(200, nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->values_left, 0);
  auto final_census = admin->ReencryptStoredValues(200, nullptr);
  ASSERT_TRUE(final_census.ok());
  ASSERT_EQ(final_census->found_by_key.size(), 1u);
  EXPECT_EQ(final_census->found_by_key.begin()->first, 2u);
  EXPECT_EQ(final_census->values_rewritten, 0);
  for (int i = 0; i < 20; ++i) Read(serving.get(), absl::StrCat("seed-", i));
}

}  // namespace
}  // namespace refx::storage
