// The tamper-evident audit log over real mTLS (issue 4): exactly one event
// per call of a mixed run of 1,000 (OK, refused, invalid) with matching
// outcomes; the chain verified through AuditService by the data protection
// officer only; tampering with the SQLite file directly (a flipped byte, a
// deleted event, two events swapped, a truncated tail) named by verify on a
// fresh server over a fresh copy; an untouched log intact across restarts;
// no acting-person name or referral content in any row; and fail-closed:
// when the audit table cannot be written, calls fail and return nothing.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/lib/referral_client.h"
#include "common/signing.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/raw_api.h"
#include "storage/make_store.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kActorCanary[] = "QZACTORCANARY Jane Caseworker";
constexpr char kContentCanary[] = "QZCONTENTCANARY";

// ---------------------------------------------------------------------------
// The database, read and tampered with beside (or without) the server.
using Db = TestDatabase;

int Count(const std::string& haystack, const std::string& needle) {
  int count = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++count;
  return count;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  Api As(const std::string& agency, const std::string& acting = "audit-tester") {
    return Api(ChannelOf(server_.get(), agency), acting);
  }
  std::shared_ptr<grpc::Channel> ChannelOf(TestServer* server, const std::string& agency) {
    auto key = std::make_pair(server, agency);
    auto it = channels_.find(key);
    if (it == channels_.end()) it = channels_.emplace(key, server->Channel(server->pki().Agency(agency))).first;
    return it->second;
  }
  std::string DbPath() const { return server_->config().storage().sqlite_path(); }
  const config::v1::StorageConfig& Storage() const { return server_->config().storage(); }
  int64_t AuditRows() { return Db(Storage()).Int("SELECT count(*) FROM audit_events"); }
  std::string NextId() { return absl::StrCat("audit-", ++counter_); }

  // Verifies through the DPO on `server`.
  v1::VerifyAuditChainResponse Verify(TestServer* server) {
    auto v = Api(ChannelOf(server, kDpo), "dpo").Verify();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : v1::VerifyAuditChainResponse();
  }

  // Copies the stopped server's database, with its keys, into a fresh
  // directory (SQLite: the files; PostgreSQL: a new database made from it as
  // a template) and returns the storage config of the copy. The keys sit
  // beside the copy's sqlite_path, where a server looks for them by default.
  config::v1::StorageConfig CopyOfDatabase(const std::string& label) {
    namespace fs = std::filesystem;
    const std::string dir = MakeTempDir(absl::StrCat("audit-", label));
    const fs::path src = DbPath();
    for (const char* secret : {"audit.key", "audit-signing.key", "audit-signing.pub", "victim-token.key"}) {
      if (fs::exists(src.parent_path() / secret)) {
        fs::copy_file(src.parent_path() / secret, fs::path(dir) / secret, fs::copy_options::overwrite_existing);
      }
    }
    config::v1::StorageConfig copy = Storage();
    copy.set_sqlite_path(dir + "/refx.db");
    if (SuiteBackendIsPostgres()) {
      const std::string name = absl::StrCat(Storage().postgres().dbname(), "_", ++copies_);
      EXPECT_TRUE(RunPostgresSql("postgres", absl::StrCat("CREATE DATABASE ", name, " TEMPLATE ",
                                                          Storage().postgres().dbname()))
                      .ok());
      copy.mutable_postgres()->set_dbname(name);
    } else {
      for (const char* suffix : {"", "-wal", "-shm"}) {
        const fs::path from = src.string() + suffix;
        if (fs::exists(from)) fs::copy_file(from, dir + "/refx.db" + suffix, fs::copy_options::overwrite_existing);
      }
    }
    return copy;
  }

  // A server on `storage` (a copy), with the keys beside it.
  absl::StatusOr<std::unique_ptr<TestServer>> ServerOn(const config::v1::StorageConfig& storage) {
    return TestServer::Start(
        TestServer::Options{[&](config::v1::ServerConfig* c) { *c->mutable_storage() = storage; }});
  }

  // Copies the stopped server's database, applies `tamper` to the copy,
  // starts a fresh server on it and returns its verdict.
  v1::VerifyAuditChainResponse VerifyTamperedCopy(const std::string& label, const std::string& tamper) {
    const config::v1::StorageConfig copy = CopyOfDatabase(label);
    if (!tamper.empty()) {
      Db db(copy, /*writable=*/true);
      db.Exec(tamper);
    }
    auto fresh = ServerOn(copy);
    EXPECT_TRUE(fresh.ok()) << fresh.status();
    if (!fresh.ok()) return {};
    v1::VerifyAuditChainResponse verdict = Verify(fresh->get());
    channels_.clear();
    return verdict;
  }

  std::unique_ptr<TestServer> server_;
  std::map<std::pair<TestServer*, std::string>, std::shared_ptr<grpc::Channel>> channels_;
  int counter_ = 0;
  int copies_ = 0;
};

// A mixed run of 1,000 calls: every call has exactly one event, in order,
// whose method, agency and outcome match what the caller saw; the chain
// verifies intact over every row; only the DPO may call AuditService.
TEST_F(AuditLogTest, MixedRunOfAThousandCallsHasExactlyOneMatchingEventEach) {
  v1::Referral input = ValidReferral(kCityCouncil);
  input.set_incident_narrative(absl::StrCat("Abuse; ", kContentCanary, " wrote it down."));
  input.mutable_victim()->set_given_name(absl::StrCat(kContentCanary, "NAME"));
  auto r = As(kPolice).Create(input, NextId());
  ASSERT_TRUE(r.ok()) << r.status();

  struct Call {
    std::string method;
    std::string agency;
    absl::StatusCode code;
  };
  std::vector<Call> calls;
  Api police = As(kPolice), council = As(kCityCouncil, kActorCanary), blaby = As(kBlaby),
      oversight = As(kOversight), anonymous = As(kCityCouncil, "");
  const std::string svc = "refx.v1.ReferralService.";
  const int64_t before = AuditRows();
  for (int i = 0; i < 1000; ++i) {
    absl::Status s;
    std::string method, agency;
    switch (i % 8) {
      case 0: {
        v1::Referral in = ValidReferral(kCityCouncil);
        if (i % 16 == 8) in.clear_area();  // invalid input
        s = police.Create(in, NextId()).status();
        method = "CreateReferral", agency = kPolice;
        break;
      }
      case 1: s = council.Get(r->name()).status(), method = "GetReferral", agency = kCityCouncil; break;
      case 2: {
        v1::ListReferralsRequest list;
        list.set_page_size(3);
        s = police.List(list).status(), method = "ListReferrals", agency = kPolice;
        break;
      }
      case 3: s = blaby.WhoAmI().status(), method = "WhoAmI", agency = kBlaby; break;
      case 4: s = blaby.Get(r->name()).status(), method = "GetReferral", agency = kBlaby; break;
      case 5: s = oversight.Get(r->name()).status(), method = "GetReferral", agency = kOversight; break;
      case 6: s = council.Get("referrals/not-a-hex-id").status(), method = "GetReferral", agency = kCityCouncil; break;
      case 7: s = anonymous.List(v1::ListReferralsRequest()).status(), method = "ListReferrals", agency = kCityCouncil; break;
    }
    calls.push_back({svc + method, agency, s.code()});
  }
  const int64_t after = AuditRows();
  EXPECT_EQ(after - before, 1000);

  // The expected mix really happened.
  std::map<absl::StatusCode, int> codes;
  for (const Call& c : calls) ++codes[c.code];
  EXPECT_EQ(codes[absl::StatusCode::kOk], 63 + 3 * 125);  // every other create is invalid
  EXPECT_EQ(codes[absl::StatusCode::kNotFound], 125);
  EXPECT_EQ(codes[absl::StatusCode::kPermissionDenied], 125);
  EXPECT_EQ(codes[absl::StatusCode::kInvalidArgument], 62 + 2 * 125);

  Db db(Storage());
  auto rows = db.Rows(absl::StrCat(
      "SELECT sequence, method, agency_id, outcome, acting_user_hmac FROM audit_events WHERE sequence > ", before,
      " ORDER BY sequence"));
  ASSERT_EQ(rows.size(), 1000u);
  std::string council_hmac;
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("call ", i));
    EXPECT_EQ(rows[i][0], absl::StrCat(before + 1 + static_cast<int64_t>(i)));
    EXPECT_EQ(rows[i][1], calls[i].method);
    EXPECT_EQ(rows[i][2], calls[i].agency);
    EXPECT_EQ(rows[i][3], absl::StatusCodeToString(calls[i].code));
    if (i % 8 == 1) {
      // The canary acting user as a keyed HMAC: 64 hex digits, stable.
      EXPECT_EQ(rows[i][4].size(), 64u);
      if (council_hmac.empty()) council_hmac = rows[i][4];
      EXPECT_EQ(rows[i][4], council_hmac);
    }
    if (i % 8 == 7) {
      EXPECT_EQ(rows[i][4], "");
    }
  }

  // No acting-person name and no referral content anywhere in the log.
  std::string all;
  for (const auto& row : db.Rows("SELECT * FROM audit_events")) {
    for (const auto& col : row) absl::StrAppend(&all, col, "|");
  }
  EXPECT_EQ(Count(all, "QZACTORCANARY"), 0);
  EXPECT_EQ(Count(all, "Jane Caseworker"), 0);
  EXPECT_EQ(Count(all, kContentCanary), 0);
  EXPECT_EQ(Count(all, "Abuse"), 0);

  // Verify: intact over every row, through the DPO only.
  auto verdict = Verify(server_.get());
  EXPECT_TRUE(verdict.intact()) << verdict.problem();
  EXPECT_EQ(verdict.events_checked(), after);
  EXPECT_EQ(verdict.first_bad_sequence(), 0);
  auto refused = police.Verify();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReasonOf(refused.status()), "METHOD_NOT_PERMITTED");
  EXPECT_EQ(police.ListAudit(v1::ListAuditEventsRequest()).status().code(), absl::StatusCode::kPermissionDenied);
  auto listed = As(kDpo, "dpo").ListAudit(v1::ListAuditEventsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->events_size(), 100);
  for (const auto& e : listed->events()) EXPECT_EQ(Count(e.DebugString(), kContentCanary), 0);
}

// Tampering with the file directly: each of four kinds, on a fresh copy,
// verified by a fresh server, is detected and (except the tail) named.
TEST_F(AuditLogTest, VerifyDetectsFlippedByteDeletionReorderingAndTruncatedTail) {
  Api police = As(kPolice);
  for (int i = 0; i < 30; ++i) {
    auto r = police.Create(ValidReferral(kCityCouncil), NextId());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(As(kCityCouncil).Get(r->name()).ok());
  }
  server_->Stop();
  const int64_t n = AuditRows();
  ASSERT_GE(n, 60);
  const int64_t k = n / 2;

  // Control: an untouched copy verifies intact.
  auto control = VerifyTamperedCopy("control", "");
  EXPECT_TRUE(control.intact()) << control.problem();
  EXPECT_EQ(control.events_checked(), n);

  // (a) One byte of one event's data flipped.
  auto flipped = VerifyTamperedCopy(
      "flip", absl::StrCat("UPDATE audit_events SET method = 'X' || substr(method, 2) WHERE sequence = ", k));
  EXPECT_FALSE(flipped.intact());
  EXPECT_EQ(flipped.first_bad_sequence(), k) << flipped.problem();

  // (b) A middle event deleted.
  auto deleted = VerifyTamperedCopy("delete", absl::StrCat("DELETE FROM audit_events WHERE sequence = ", k));
  EXPECT_FALSE(deleted.intact());
  EXPECT_EQ(deleted.first_bad_sequence(), k) << deleted.problem();

  // (c) Two events' contents swapped (a reordering).
  const std::string cols =
      "time_us, action, method, agency_id, certificate_serial, acting_user_hmac, purpose, referral_ids, "
      "data_classes, outcome, agreement, previous_hash, hash";
  auto swapped = VerifyTamperedCopy(
      "swap", absl::StrCat("CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE sequence IN (", k, ",", k + 1,
                           "); UPDATE audit_events SET (", cols, ") = (SELECT ", cols,
                           " FROM t WHERE t.sequence = CASE audit_events.sequence WHEN ", k, " THEN ", k + 1,
                           " ELSE ", k, " END) WHERE sequence IN (", k, ",", k + 1, ");"));
  EXPECT_FALSE(swapped.intact());
  EXPECT_EQ(swapped.first_bad_sequence(), k) << swapped.problem();

  // (d) The last three events removed (a truncated tail).
  auto truncated =
      VerifyTamperedCopy("tail", absl::StrCat("DELETE FROM audit_events WHERE sequence > ", n - 3));
  EXPECT_FALSE(truncated.intact());
  EXPECT_EQ(truncated.first_bad_sequence(), n - 2) << truncated.problem();
}

// Cutting the tail and writing a new head to match: the hashes all check
// out, but the head's signature (a key outside the database) does not. Nor
// does removing the signature: a key exists, so an unsigned head is refused.
TEST_F(AuditLogTest, TailDeletionWithARewrittenHeadIsCaught) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(As(kPolice).Create(ValidReferral(kCityCouncil), NextId()).ok());
  const VerifyingKey key = server_->server()->audit_public_key();
  server_->Stop();
  const int64_t n = AuditRows();
  const std::pair<const char*, std::string> kTampers[] = {
      {"tail cut, head rewritten", absl::StrCat("DELETE FROM audit_events WHERE sequence > ", n - 3,
                                                 "; UPDATE audit_head SET sequence = ", n - 3,
                                                 ", hash = (SELECT hash FROM audit_events WHERE sequence = ", n - 3,
                                                 ");")},
      {"and its signature removed", absl::StrCat("DELETE FROM audit_events WHERE sequence > ", n - 3,
                                                  "; UPDATE audit_head SET sequence = ", n - 3,
                                                  ", hash = (SELECT hash FROM audit_events WHERE sequence = ", n - 3,
                                                  "), signature = NULL;")},
      {"the whole log wiped, head and all", "DELETE FROM audit_events; DELETE FROM audit_head;"},
  };
  for (const auto& [label, tamper] : kTampers) {
    SCOPED_TRACE(label);
    const config::v1::StorageConfig copy = CopyOfDatabase("rewritten-head");
    {
      Db db(copy, /*writable=*/true);
      db.Exec(tamper);
    }
    // Without the key, the chain looks whole: the rewrite is that good.
    auto unkeyed = storage::VerifyStoredAuditChain(copy, nullptr, nullptr);
    ASSERT_TRUE(unkeyed.ok());
    EXPECT_TRUE(unkeyed->intact) << unkeyed->problem;
    // With the public key, it is caught.
    auto keyed = storage::VerifyStoredAuditChain(copy, &key, nullptr);
    ASSERT_TRUE(keyed.ok());
    EXPECT_FALSE(keyed->intact);
    EXPECT_THAT(keyed->problem, HasSubstr("head")) << keyed->problem;
    // And a server refuses to start on it rather than carry it on.
    auto refused = ServerOn(copy);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
    EXPECT_THAT(refused.status().message(), HasSubstr("head"));
  }
}

// A backup restored over a newer database is consistent in itself (every
// hash and its signed head check out): only a checkpoint taken later shows
// that events are missing, and how many.
TEST_F(AuditLogTest, RestoringAnOlderCopyIsCaughtAgainstALaterCheckpoint) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(As(kPolice).Create(ValidReferral(kCityCouncil), NextId()).ok());
  ASSERT_TRUE(server_->Restart().ok());  // a clean copy: everything checkpointed into the file
  channels_.clear();
  server_->Stop();
  const config::v1::StorageConfig backup = CopyOfDatabase("backup");
  const int64_t backed_up = Db(backup).Int("SELECT count(*) FROM audit_events");
  ASSERT_TRUE(server_->Restart().ok());
  channels_.clear();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(As(kPolice).Create(ValidReferral(kCityCouncil), NextId()).ok());
  // The DPO's checkpoint, later than the backup.
  const v1::VerifyAuditChainResponse later = Verify(server_.get());
  ASSERT_TRUE(later.intact()) << later.problem();
  const v1::AuditCheckpoint checkpoint = later.head();
  ASSERT_GT(checkpoint.sequence(), backed_up);
  EXPECT_FALSE(checkpoint.signature().empty());
  EXPECT_THAT(checkpoint.public_key(), HasSubstr("PUBLIC KEY"));
  const VerifyingKey key = server_->server()->audit_public_key();
  server_->Stop();
  channels_.clear();

  // The backup is restored. On its own it verifies intact...
  auto restored = ServerOn(backup);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(Verify(restored->get()).intact());
  // ...but not against the later checkpoint, through the API...
  v1::VerifyAuditChainRequest request;
  *request.mutable_checkpoint() = checkpoint;
  auto held = client::ReferralClient(ChannelOf(restored->get(), kDpo), {}).VerifyAuditChain(request);
  channels_.clear();
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(held->intact());
  EXPECT_GE(held->missing_events(), checkpoint.sequence() - backed_up - 1);
  EXPECT_THAT(held->problem(), HasSubstr("missing"));
  (*restored)->Stop();
  // ...nor offline.
  storage::AuditHead head;
  head.sequence = checkpoint.sequence();
  head.hash = absl::HexStringToBytes(checkpoint.hash());
  ASSERT_TRUE(absl::Base64Unescape(checkpoint.signature(), &head.signature));
  auto offline = storage::VerifyStoredAuditChain(backup, &key, &head);
  ASSERT_TRUE(offline.ok());
  EXPECT_FALSE(offline->intact);
  EXPECT_EQ(offline->missing_events, checkpoint.sequence() - offline->events_checked);
  EXPECT_GT(offline->missing_events, 0);
  // The live database holds it.
  auto live = storage::VerifyStoredAuditChain(Storage(), &key, &head);
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->intact) << live->problem;
  // A forged checkpoint (another key's signature) is refused as such.
  auto other = SigningKey::Generate();
  ASSERT_TRUE(other.ok());
  storage::AuditHead forged = head;
  forged.signature = other->Sign(storage::AuditHeadMessage(head.sequence, head.hash));
  auto refused = storage::VerifyStoredAuditChain(Storage(), &key, &forged);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->intact);
  EXPECT_THAT(refused->problem, HasSubstr("checkpoint"));
}

// An untouched log verifies intact across three restarts, over every row.
TEST_F(AuditLogTest, UntouchedLogVerifiesIntactAcrossRestarts) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(As(kPolice).Create(ValidReferral(kCityCouncil), NextId()).ok());
  for (int restart = 0; restart < 3; ++restart) {
    SCOPED_TRACE(absl::StrCat("restart ", restart));
    ASSERT_TRUE(server_->Restart().ok());
    channels_.clear();
    ASSERT_TRUE(As(kCityCouncil).WhoAmI().ok());
    const int64_t rows = AuditRows();
    auto verdict = Verify(server_.get());
    EXPECT_TRUE(verdict.intact()) << verdict.problem();
    EXPECT_EQ(verdict.events_checked(), rows);
  }
}

// Fail closed: with the audit table unwritable (a trigger from another
// connection), every call fails UNAVAILABLE and returns nothing, a create is
// not stored; once writable again, calls work and the chain is intact.
TEST_F(AuditLogTest, UnwritableAuditTableFailsEveryCallAndStoresNothing) {
  auto r = As(kPolice).Create(ValidReferral(kCityCouncil), NextId());
  ASSERT_TRUE(r.ok()) << r.status();
  Api council = As(kCityCouncil);
  ASSERT_TRUE(council.Get(r->name()).ok());
  {
    Db db(Storage(), /*writable=*/true);
    db.BlockAuditWrites(true);
  }
  const int64_t referrals = Db(Storage()).Int("SELECT count(*) FROM referrals");
  const int64_t events = AuditRows();

  auto got = council.Get(r->name());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  auto listed = council.List(v1::ListReferralsRequest());
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kUnavailable) << listed.status();
  auto me = council.WhoAmI();
  EXPECT_EQ(me.status().code(), absl::StatusCode::kUnavailable) << me.status();
  auto created = As(kPolice).Create(ValidReferral(kCityCouncil), NextId());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  // A refusal whose event cannot be written still answers its refusal.
  EXPECT_EQ(As(kBlaby).Get(r->name()).status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(Db(Storage()).Int("SELECT count(*) FROM referrals"), referrals);
  EXPECT_EQ(AuditRows(), events);

  {
    Db db(Storage(), /*writable=*/true);
    db.BlockAuditWrites(false);
  }
  EXPECT_TRUE(council.Get(r->name()).ok());
  EXPECT_TRUE(council.List(v1::ListReferralsRequest()).ok());
  EXPECT_TRUE(council.WhoAmI().ok());
  EXPECT_TRUE(As(kPolice).Create(ValidReferral(kCityCouncil), NextId()).ok());
  EXPECT_EQ(Db(Storage()).Int("SELECT count(*) FROM referrals"), referrals + 1);
  EXPECT_EQ(AuditRows(), events + 4);
  auto verdict = Verify(server_.get());
  EXPECT_TRUE(verdict.intact()) << verdict.problem();
}

// A watch stream whose opening cannot be audited ends UNAVAILABLE and
// delivers no referral (its SUBSCRIBED message, which names none, may come
// first: the stream is subscribed while the event commits). Writable again,
// a stream opens and stays open.
TEST_F(AuditLogTest, WatchWithUnwritableAuditTableIsUnavailable) {
  auto r = As(kPolice).Create(ValidReferral(kCityCouncil), NextId());
  ASSERT_TRUE(r.ok()) << r.status();
  {
    Db db(Storage(), /*writable=*/true);
    db.BlockAuditWrites(true);
  }
  const int64_t events = AuditRows();
  v1::WatchReferralsRequest from_start;  // replays the referral above, were it opened
  from_start.set_after_sequence(0);
  int referrals = 0;
  absl::Status ended = server_->Client(kCityCouncil).Watch(from_start, [&](const v1::WatchReferralsResponse& m) {
    if (m.kind() != v1::WatchReferralsResponse::SUBSCRIBED) ++referrals;
    return true;  // read on: only the server ends this stream
  });
  EXPECT_EQ(ended.code(), absl::StatusCode::kUnavailable) << ended;
  EXPECT_EQ(referrals, 0);
  EXPECT_EQ(AuditRows(), events);
  {
    Db db(Storage(), /*writable=*/true);
    db.BlockAuditWrites(false);
  }
  bool subscribed = false;
  absl::Status opened = server_->Client(kCityCouncil).Watch(from_start, [&](const v1::WatchReferralsResponse& m) {
    subscribed = subscribed || m.kind() == v1::WatchReferralsResponse::SUBSCRIBED;
    return m.kind() == v1::WatchReferralsResponse::SUBSCRIBED;  // stop at the first referral
  });
  EXPECT_TRUE(opened.ok()) << opened;
  EXPECT_TRUE(subscribed);
  EXPECT_GE(AuditRows(), events + 2) << "the opening and the delivery";
}

// A create whose audit event cannot be written is UNAVAILABLE (retry with
// the same request id), never "use a new request id", and nothing is stored.
TEST_F(AuditLogTest, CreateWithUnwritableAuditTableIsUnavailable) {
  {
    Db db(Storage(), /*writable=*/true);
    db.BlockAuditWrites(true);
  }
  auto created = As(kPolice).Create(ValidReferral(kCityCouncil), NextId());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
}

}  // namespace
}  // namespace refx::testing
