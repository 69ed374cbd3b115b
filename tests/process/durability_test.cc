// Crash durability of the real refx-server binary: an acknowledged
// CreateReferral survives `kill -9` and a graceful SIGTERM, the SQLite file
// stays consistent, and a retried request id never makes a duplicate.
//
// The server runs as a child process on the config and PKI a TestServer
// writes; clients are the project's client library over mutual TLS.
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

// One acknowledged create: what the client was told.
struct Acked {
  std::string request_id;
  std::string name;
  std::string etag;
};

// A referral whose narrative names its request id, so every stored
// referral can be traced to the request that made it.
v1::Referral Numbered(const std::string& request_id) {
  v1::Referral r = ValidReferral(kCityCouncil);
  r.set_incident_narrative(absl::StrCat("durability check ", request_id));
  return r;
}

// Runs one SQL statement and returns its rows, one per line, first column
// only; or "error: ..." on failure.
std::string QueryColumn(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string error = absl::StrCat("error: open ", db_path, ": ", db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_close(db);
    return error;
  }
  std::string out;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    out = absl::StrCat("error: prepare: ", sqlite3_errmsg(db));
  } else {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out += text == nullptr ? "NULL" : reinterpret_cast<const char*>(text);
    }
    if (rc != SQLITE_DONE) out = absl::StrCat("error: step: ", sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The TestServer writes a complete config (absolute paths, PKI, SQLite
    // file, partnership); the in-process server is only needed for that.
    auto source = TestServer::Start();
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    db_path_ = source_->config().storage().sqlite_path();
    scratch_ = MakeTempDir("durability");
  }

  void TearDown() override {
    if (source_ == nullptr) return;
    server_.reset();  // SIGKILL if still running.
    if (!HasFailure()) {
      std::filesystem::remove_all(scratch_);
      std::filesystem::remove_all(source_->directory());
    } else {
      std::fprintf(stderr, "kept for inspection: %s and %s\n", scratch_.c_str(), source_->directory().c_str());
    }
  }

  absl::Status StartServer() {
    server_.reset();
    ServerProcess::Options options;
    options.config_path = source_->config_path();
    options.log_dir = scratch_;
    options.pki_directory = source_->pki().directory();
    auto server = ServerProcess::Start(std::move(options));
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    return absl::OkStatus();
  }

  // Every referral leicestershire-police can see, all pages.
  std::vector<v1::Referral> ListAll() {
    std::vector<v1::Referral> all;
    auto client = server_->Client(kPolice);
    v1::ListReferralsRequest request;
    request.set_page_size(500);
    for (int pages = 0; pages < 100; ++pages) {
      auto page = client.ListReferrals(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& r : page->referrals()) all.push_back(r);
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return all;
  }

  // Checks a copy of the database as the crash left it (main file and WAL),
  // so the server's own recovery still runs on the original at restart.
  std::string IntegrityCheckOfCopy(const std::string& label, std::string* referral_rows) {
    const std::string dir = absl::StrCat(scratch_, "/copy-", label);
    std::filesystem::create_directories(dir);
    const std::string copy = dir + "/refx.db";
    std::filesystem::copy_file(db_path_, copy, std::filesystem::copy_options::overwrite_existing);
    if (std::filesystem::exists(db_path_ + "-wal")) {
      std::filesystem::copy_file(db_path_ + "-wal", copy + "-wal",
                                 std::filesystem::copy_options::overwrite_existing);
    }
    *referral_rows = QueryColumn(copy, "SELECT COUNT(*) FROM referrals");
    return QueryColumn(copy, "PRAGMA integrity_check");
  }

  std::unique_ptr<TestServer> source_;
  std::string db_path_;
  std::string scratch_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(DurabilityTest, AcknowledgedCreatesSurviveRepeatedKillNine) {
  constexpr int kCycles = 5;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  ASSERT_EQ(StartServer(), absl::OkStatus());

  std::vector<Acked> acked;           // Every acknowledged create, all cycles.
  std::set<std::string> attempted;    // Every request id ever sent.
  int committed_but_unacknowledged = 0;  // Observed, for the log only.

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    std::mutex mu;
    std::vector<std::string> errors;

    // 1. Concurrent creates, so that the writer thread batches them.
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto client = server_->Client(kPolice);
        for (int i = 0; i < kPerThread; ++i) {
          const std::string id = absl::StrCat("c", cycle, "-t", t, "-", i);
          {
            std::lock_guard<std::mutex> lock(mu);
            attempted.insert(id);
          }
          auto r = client.CreateReferral(Numbered(id), id);
          std::lock_guard<std::mutex> lock(mu);
          if (r.ok()) {
            acked.push_back({id, r->name(), r->etag()});
          } else {
            errors.push_back(absl::StrCat(id, ": ", r.status().ToString()));
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_THAT(errors, ::testing::IsEmpty());

    // 2. A writer still creating when the server is killed.
    std::atomic<int> background_acked{0};
    std::vector<std::string> unacknowledged;
    std::thread background([&] {
      auto client = server_->Client(kPolice, absl::Seconds(3));
      for (int i = 0; i < 2000; ++i) {
        const std::string id = absl::StrCat("c", cycle, "-bg-", i);
        {
          std::lock_guard<std::mutex> lock(mu);
          attempted.insert(id);
        }
        auto r = client.CreateReferral(Numbered(id), id);
        std::lock_guard<std::mutex> lock(mu);
        if (!r.ok()) {
          unacknowledged.push_back(id);  // The call in flight at the kill.
          return;
        }
        acked.push_back({id, r->name(), r->etag()});
        ++background_acked;
      }
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (background_acked < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    const bool writer_was_running = background_acked >= 3;
    server_->Crash();  // SIGKILL, mid-stream.
    background.join();  // Its next (or current) call fails: the server is gone.
    ASSERT_TRUE(writer_was_running) << "background writer made no progress before the kill";
    EXPECT_EQ(server_->process().term_signal(), SIGKILL);
    ASSERT_EQ(unacknowledged.size(), 1u);

    // 3. The file the crash left is consistent and already holds every
    // acknowledged referral, before any recovery by the server.
    std::string rows;
    EXPECT_EQ(IntegrityCheckOfCopy(absl::StrCat(cycle), &rows), "ok");
    EXPECT_GE(std::atoi(rows.c_str()), static_cast<int>(acked.size())) << rows;

    // 4. Restart: every acknowledged referral is readable by its recipient,
    // exactly as acknowledged.
    ASSERT_EQ(StartServer(), absl::OkStatus());
    auto recipient = server_->Client(kCityCouncil);
    for (const Acked& a : acked) {
      auto got = recipient.GetReferral(a.name);
      ASSERT_TRUE(got.ok()) << a.request_id << " " << a.name << ": " << got.status();
      EXPECT_EQ(got->etag(), a.etag) << a.request_id;
      EXPECT_EQ(got->incident_narrative(), Numbered(a.request_id).incident_narrative());
    }
    const std::vector<v1::Referral> before_retry = ListAll();
    EXPECT_GE(before_retry.size(), acked.size());
    // Nothing but what was asked for: at most the unacknowledged write more.
    EXPECT_LE(before_retry.size(), acked.size() + unacknowledged.size());
    committed_but_unacknowledged += static_cast<int>(before_retry.size() - acked.size());

    // 5. Retrying the unacknowledged request returns the stored referral if
    // it was committed and creates it otherwise: either way exactly one.
    auto police = server_->Client(kPolice);
    for (const std::string& id : unacknowledged) {
      auto first = police.CreateReferral(Numbered(id), id);
      ASSERT_TRUE(first.ok()) << id << ": " << first.status();
      auto again = police.CreateReferral(Numbered(id), id);
      ASSERT_TRUE(again.ok()) << id << ": " << again.status();
      EXPECT_EQ(again->name(), first->name());
      EXPECT_EQ(again->etag(), first->etag());
      acked.push_back({id, first->name(), first->etag()});
    }
    std::map<std::string, int> per_request;
    for (const v1::Referral& r : ListAll()) ++per_request[r.incident_narrative()];
    // Every request id ever sent is now stored exactly once.
    EXPECT_EQ(per_request.size(), attempted.size());
    for (const std::string& id : attempted) {
      EXPECT_EQ(per_request[Numbered(id).incident_narrative()], 1) << id;
    }
  }
  EXPECT_EQ(acked.size(), attempted.size());
  std::printf("%zu referrals over %d kill -9 cycles; %d in-flight writes had committed before the kill\n",
              acked.size(), kCycles, committed_but_unacknowledged);

  // Finally a clean stop, and the file itself checks out.
  auto code = server_->Terminate(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(QueryColumn(db_path_, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(QueryColumn(db_path_, "SELECT COUNT(*) FROM referrals"), absl::StrCat(acked.size()));
}

// The crash test: kill -9 at random moments during a mixed load of
// creates (police), accepts (the city council) and case updates (both), 20
// cycles. After each crash: the file is consistent; every acknowledged write
// is there; retrying every unacknowledged request with its request id
// succeeds exactly once (a committed one replays, an uncommitted one
// applies); and the event log holds exactly one event per change, gapless.
TEST_F(DurabilityTest, MixedCreateAcceptUpdateLoadSurvivesTwentyKillNines) {
  constexpr int kCycles = 20;
  ASSERT_EQ(StartServer(), absl::OkStatus());
  std::mt19937 random(20261128);

  // One write as sent: how to send it again, and whether it was acknowledged.
  struct Write {
    std::string kind;  // create, accept, update
    std::string request_id;
    std::string referral;  // the referral's name (accept, update)
    std::string etag;      // as read before an accept
  };
  std::mutex mu;
  std::vector<Write> acked, uncertain;
  std::deque<std::string> to_accept;  // acknowledged creates, not yet accepted
  std::vector<std::string> accepted;  // acknowledged accepts
  int creates = 0, accepts = 0, updates = 0;
  std::atomic<int> counter{0};

  auto send = [&](ServerProcess* server, const Write& w, std::string* name) -> absl::Status {
    if (w.kind == "create") {
      auto r = server->Client(kPolice, absl::Seconds(3)).CreateReferral(Numbered(w.request_id), w.request_id);
      if (r.ok()) *name = r->name();
      return r.status();
    }
    if (w.kind == "accept") {
      v1::AcceptReferralRequest a;
      a.set_name(w.referral);
      a.set_etag(w.etag);
      a.set_request_id(w.request_id);
      auto r = server->Client(kCityCouncil, absl::Seconds(3)).AcceptReferral(a);
      return r.status();
    }
    v1::AddCaseUpdateRequest u;
    u.set_parent(w.referral);
    u.set_etag(w.etag);
    u.set_request_id(w.request_id);
    u.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
    u.mutable_update()->set_text(absl::StrCat("attempt ", w.request_id));
    return server->Client(kCityCouncil, absl::Seconds(3)).AddCaseUpdate(u).status();
  };
  auto record = [&](const Write& w, const std::string& name) {
    acked.push_back(w);
    if (w.kind == "create") {
      ++creates;
      to_accept.push_back(name);
    } else if (w.kind == "accept") {
      ++accepts;
      accepted.push_back(w.referral);
    } else {
      ++updates;
    }
  };

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    std::atomic<bool> stop{false};
    ServerProcess* server = server_.get();
    auto worker = [&](const std::string& kind) {
      while (!stop) {
        Write w{kind, absl::StrCat(kind, "-", counter.fetch_add(1)), "", ""};
        if (kind == "accept") {
          {
            std::lock_guard<std::mutex> lock(mu);
            if (to_accept.empty()) {
              w.kind.clear();
            } else {
              w.referral = to_accept.front();
              to_accept.pop_front();
            }
          }
          if (w.kind.empty()) {
            absl::SleepFor(absl::Milliseconds(2));
            continue;
          }
          auto current = server->Client(kCityCouncil, absl::Seconds(3)).GetReferral(w.referral, {"etag"});
          if (!current.ok()) {  // the server went away before the accept was sent
            std::lock_guard<std::mutex> lock(mu);
            to_accept.push_front(w.referral);
            return;
          }
          w.etag = current->etag();
        } else if (kind == "update") {
          {
            std::lock_guard<std::mutex> lock(mu);
            if (accepted.empty()) {
              w.kind.clear();
            } else {
              w.referral = accepted[static_cast<size_t>(counter.load()) % accepted.size()];
            }
          }
          if (!w.kind.empty()) {
            auto current = server->Client(kCityCouncil, absl::Seconds(3)).GetReferral(w.referral, {"etag"});
            if (!current.ok()) return;  // the server went away before the update was sent
            w.etag = current->etag();
          }
        }
        if (w.kind.empty()) {
          absl::SleepFor(absl::Milliseconds(2));
          continue;
        }
        std::string name;
        absl::Status status = send(server, w, &name);
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          record(w, name);
        } else {
          uncertain.push_back(w);  // in flight at the kill: committed or not, we cannot know
          return;
        }
      }
    };
    std::vector<std::thread> threads;
    for (const char* kind : {"create", "create", "accept", "update"}) threads.emplace_back(worker, kind);
    absl::SleepFor(absl::Milliseconds(200 + random() % 700));
    server_->Crash();
    stop = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(server_->process().term_signal(), SIGKILL);

    std::string rows;
    EXPECT_EQ(IntegrityCheckOfCopy(absl::StrCat("mixed-", cycle), &rows), "ok");
    ASSERT_EQ(StartServer(), absl::OkStatus());
    // Every unacknowledged write, retried with its request id, succeeds.
    std::vector<Write> retry;
    {
      std::lock_guard<std::mutex> lock(mu);
      retry.swap(uncertain);
    }
    for (const Write& w : retry) {
      std::string name;
      absl::Status status = send(server_.get(), w, &name);
      ASSERT_TRUE(status.ok()) << w.kind << " " << w.request_id << ": " << status;
      std::lock_guard<std::mutex> lock(mu);
      record(w, name);
    }
    // Exactly one stored change per acknowledged write: no loss, no duplicate.
    EXPECT_EQ(QueryColumn(db_path_, "SELECT COUNT(*) FROM referrals"), absl::StrCat(creates));
    EXPECT_EQ(QueryColumn(db_path_, "SELECT COUNT(*) FROM referrals WHERE state = 2"), absl::StrCat(accepts));
    EXPECT_EQ(QueryColumn(db_path_, "SELECT COUNT(*) FROM case_updates"), absl::StrCat(updates));
    const std::string events = QueryColumn(db_path_, "SELECT COUNT(*) FROM referral_events");
    EXPECT_EQ(events, absl::StrCat(creates + accepts + updates)) << "one event per change";
    EXPECT_EQ(QueryColumn(db_path_, "SELECT COALESCE(MAX(sequence), 0) FROM referral_events"), events) << "gapless";
  }
  std::printf("%d creates, %d accepts, %d case updates over %d kill -9 cycles; none lost, none doubled\n", creates,
              accepts, updates, kCycles);
  EXPECT_GT(accepts, kCycles);
  auto code = server_->Terminate(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(QueryColumn(db_path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(DurabilityTest, CommittedRequestRetriedAfterCrashIsReplayedNotDuplicated) {
  ASSERT_EQ(StartServer(), absl::OkStatus());
  auto created = server_->Client(kPolice).CreateReferral(Numbered("replay-1"), "replay-1");
  ASSERT_TRUE(created.ok()) << created.status();
  server_->Crash();
  ASSERT_EQ(StartServer(), absl::OkStatus());

  auto police = server_->Client(kPolice);
  auto retried = police.CreateReferral(Numbered("replay-1"), "replay-1");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->SerializeAsString(), created->SerializeAsString());
  // The idempotency key survived too: the same id with other content is refused.
  auto reused = police.CreateReferral(Numbered("something else"), "replay-1");
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument) << reused.status();
  EXPECT_EQ(ListAll().size(), 1u);
}

TEST_F(DurabilityTest, SigtermExitsZeroPromptlyAndKeepsEveryAcknowledgedCreate) {
  ASSERT_EQ(StartServer(), absl::OkStatus());
  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<std::string> unacknowledged;
  std::atomic<int> count{0};
  std::thread writer([&] {
    auto client = server_->Client(kPolice, absl::Seconds(3));
    for (int i = 0; i < 2000; ++i) {
      const std::string id = absl::StrCat("term-", i);
      auto r = client.CreateReferral(Numbered(id), id);
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok()) {
        unacknowledged.push_back(id);
        return;
      }
      acked.push_back({id, r->name(), r->etag()});
      ++count;
    }
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (count < 10 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  const bool writer_was_running = count >= 10;
  const absl::Time signalled = absl::Now();
  auto code = server_->Terminate(absl::Seconds(5));
  const absl::Duration took = absl::Now() - signalled;
  writer.join();
  ASSERT_TRUE(writer_was_running);
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << server_->Stderr();
  EXPECT_EQ(*code, 0) << server_->Stderr();
  EXPECT_LT(took, absl::Seconds(5));
  const std::string log = server_->Stderr();
  EXPECT_THAT(log, HasSubstr("signal=SIGTERM"));
  EXPECT_THAT(log, HasSubstr("event=server_stopped"));
  EXPECT_EQ(QueryColumn(db_path_, "PRAGMA integrity_check"), "ok");

  ASSERT_EQ(StartServer(), absl::OkStatus());
  auto recipient = server_->Client(kCityCouncil);
  for (const Acked& a : acked) {
    auto got = recipient.GetReferral(a.name);
    ASSERT_TRUE(got.ok()) << a.request_id << ": " << got.status();
    EXPECT_EQ(got->etag(), a.etag);
  }
  // The writer stopped at its first failure, so at most one was in doubt.
  ASSERT_LE(unacknowledged.size(), 1u);
  const size_t stored = ListAll().size();
  EXPECT_GE(stored, acked.size());
  EXPECT_LE(stored, acked.size() + unacknowledged.size());
}

TEST_F(DurabilityTest, SigintStopsCleanlyToo) {
  ASSERT_EQ(StartServer(), absl::OkStatus());
  auto created = server_->Client(kPolice).CreateReferral(Numbered("int-1"), "int-1");
  ASSERT_TRUE(created.ok()) << created.status();
  server_->process().Signal(SIGINT);
  ASSERT_TRUE(server_->process().WaitFor(absl::Seconds(5))) << "no exit within 5 s of SIGINT";
  EXPECT_EQ(server_->process().exit_code(), 0) << server_->Stderr();
  EXPECT_THAT(server_->Stderr(), HasSubstr("signal=SIGINT"));
  ASSERT_EQ(StartServer(), absl::OkStatus());
  auto got = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->etag(), created->etag());
}

}  // namespace
}  // namespace refx::testing
