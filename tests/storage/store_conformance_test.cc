// The contract every ReferralStore backend keeps (storage/referral_store.h),
// run unchanged against each backend: SQLite, and PostgreSQL when the test
// server of scripts/postgres.sh is up (required in CI). What only SQLite
// promises is in sqlite_store_test.cc.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/make_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/storage/store_test_support.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/temp_files.h"

namespace refx::storage {
namespace {

using StoreConformanceTest = StoreBackendTest;

TEST_P(StoreConformanceTest, CreateThenGetReturnsEveryColumn) {
  const absl::Time t = absl::FromUnixMicros(1790000000123456);
  auto created = store_->CreateReferral(Request(Referral("a1", "police", {"city", "county"}, t), "r1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->replayed);
  auto got = store_->GetReferral("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sender_agency, "police");
  EXPECT_EQ(got->recipient_agencies, (std::vector<std::string>{"city", "county"}));
  EXPECT_EQ(got->create_time, t);
  EXPECT_EQ(got->etag, "e-a1");
  EXPECT_EQ(got->document, "doc-a1");
  EXPECT_EQ(got->strands, std::vector<std::string>{"race"});
  EXPECT_EQ(store_->GetReferral("nope").status().code(), absl::StatusCode::kNotFound);
}

// Recipients and strands are stored comma-joined in the referral's row: an
// id that would read back as other ids is refused whole, nothing stored.
TEST_P(StoreConformanceTest, AnIdThatWouldSplitOnReadIsRefusedAndNothingIsStored) {
  const absl::Time t = absl::FromUnixMicros(1790000000123456);
  StoredReferral strand = Referral("a1", "police", {"city"}, t);
  strand.strands = {"race,religion"};
  EXPECT_EQ(store_->CreateReferral(Request(strand, "r1")).status().code(), absl::StatusCode::kInternal);
  StoredReferral recipient = Referral("a2", "police", {"city", ""}, t);
  EXPECT_EQ(store_->CreateReferral(Request(recipient, "r2")).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store_->GetReferral("a1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetReferral("a2").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(store_->CreateReferral(Request(Referral("a3", "police", {"city"}, t), "r3")).ok());
  StoredReferral redirected = Referral("a3", "police", {"city", "county,police"}, t);
  auto update = store_->UpdateReferral(Update(redirected, "city", "u1", "e-a3", "e-a3-2"));
  EXPECT_EQ(update.status().code(), absl::StatusCode::kInternal);
  auto got = store_->GetReferral("a3");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->etag, "e-a3");
  EXPECT_EQ(got->recipient_agencies, std::vector<std::string>{"city"});
}

TEST_P(StoreConformanceTest, IdempotencyKeysArePerSender) {
  const absl::Time t = absl::Now();
  ASSERT_TRUE(store_->CreateReferral(Request(Referral("a1", "police", {"city"}, t), "r1", "fp1")).ok());
  auto replay = store_->CreateReferral(Request(Referral("a2", "police", {"city"}, t), "r1", "fp1"));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->referral.id, "a1");
  EXPECT_EQ(store_->GetReferral("a2").status().code(), absl::StatusCode::kNotFound);
  auto conflict = store_->CreateReferral(Request(Referral("a3", "police", {"city"}, t), "r1", "fp2"));
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  auto other_sender = store_->CreateReferral(Request(Referral("a4", "city", {"police"}, t), "r1", "fp2"));
  ASSERT_TRUE(other_sender.ok());
  EXPECT_FALSE(other_sender->replayed);
}

TEST_P(StoreConformanceTest, UpdateComparesTheEtagAndReplaysByRequestId) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral base = Referral("u1", "police", {"city", "county"}, t);
  ASSERT_TRUE(store_->CreateReferral(Request(base, "c1")).ok());
  // Stale etag: ABORTED, nothing written.
  EXPECT_EQ(store_->UpdateReferral(Update(base, "city", "x", "wrong", "e2")).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetReferral("u1")->etag, "e-u1");
  // Two updates from the same etag: the first applies, the second is ABORTED.
  StoredReferral redirected = base;
  redirected.recipient_agencies.push_back("blaby");
  auto first = store_->UpdateReferral(Update(redirected, "city", "a", "e-u1", "e2"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(store_->UpdateReferral(Update(base, "county", "b", "e-u1", "e3")).status().code(),
            absl::StatusCode::kAborted);
  auto got = store_->GetReferral("u1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->etag, "e2");
  EXPECT_EQ(got->state, 2);
  EXPECT_EQ(got->document, "doc-e2");
  EXPECT_EQ(got->recipient_agencies, (std::vector<std::string>{"blaby", "city", "county"}));
  // A retry replays whatever happened since; the same id with another payload is ALREADY_EXISTS.
  auto again = store_->UpdateReferral(Update(redirected, "city", "a", "e-u1", "e2"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->referral.document, "doc-e2");
  EXPECT_EQ(store_->UpdateReferral(Update(base, "city", "a", "e2", "e9")).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto found = store_->FindUpdate("city", "a");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->referral_id, "u1");
  EXPECT_FALSE(store_->FindUpdate("county", "a")->has_value());  // per agency
  EXPECT_EQ(store_->UpdateReferral(Update(Referral("nope", "police", {}, t), "city", "n", "e", "f")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, EventsAreWrittenWithTheirChangeNumberedInCommitOrderAndAnnounced) {
  std::vector<int64_t> announced;
  std::mutex mu;
  store_->SetEventListener([&](const std::vector<ReferralEvent>& events) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : events) announced.push_back(e.sequence);
  });
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral a = Referral("e1", "police", {"city"}, t);
  auto create = Request(a, "c1");
  create.event = Event(a, 2);
  ASSERT_TRUE(store_->CreateReferral(create).ok());
  // A replay writes no second event.
  ASSERT_TRUE(store_->CreateReferral(create)->replayed);
  auto update = Update(a, "city", "u1", "e-e1", "e2");
  update.referral.recipient_agencies.push_back("blaby");
  update.event = Event(update.referral, 3);
  ASSERT_TRUE(store_->UpdateReferral(update).ok());
  ASSERT_TRUE(store_->UpdateReferral(update)->replayed);
  // A refused change (stale etag) writes no event either.
  auto stale = Update(a, "city", "u2", "e-e1", "e3");
  stale.event = Event(stale.referral, 3);
  EXPECT_EQ(store_->UpdateReferral(stale).status().code(), absl::StatusCode::kAborted);

  EXPECT_EQ(*store_->LatestEventSequence(), 2);
  auto city = store_->ListEvents(EventQuery{"city", 0, 10});
  ASSERT_TRUE(city.ok()) << city.status();
  ASSERT_EQ(city->size(), 2u);
  EXPECT_EQ((*city)[0].sequence, 1);
  EXPECT_EQ((*city)[0].kind, 2);
  EXPECT_EQ((*city)[0].referral_document, "doc-e1");
  EXPECT_EQ((*city)[1].sequence, 2);
  EXPECT_EQ((*city)[1].referral_document, "doc-e2");
  // Audience is the parties when it happened: blaby hears only of the change that made it one.
  auto blaby = store_->ListEvents(EventQuery{"blaby", 0, 10});
  ASSERT_EQ(blaby->size(), 1u);
  EXPECT_EQ((*blaby)[0].sequence, 2);
  EXPECT_TRUE(store_->ListEvents(EventQuery{"county", 0, 10})->empty());
  EXPECT_EQ(store_->ListEvents(EventQuery{"city", 1, 10})->size(), 1u);  // resumes strictly after
  EXPECT_EQ(store_->ListEvents(EventQuery{"city", 0, 1})->size(), 1u);   // limit
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(announced, (std::vector<int64_t>{1, 2}));
}

TEST_P(StoreConformanceTest, ConcurrentWritersGetGaplessSequencesAnnouncedInOrder) {
  std::vector<int64_t> announced;
  std::mutex mu;
  store_->SetEventListener([&](const std::vector<ReferralEvent>& events) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : events) announced.push_back(e.sequence);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string id = absl::StrCat("g", t, "-", i);
        auto req = Request(Referral(id, "police", {"city"}, absl::Now()), id);
        req.event = Event(req.referral, 2);
        EXPECT_TRUE(store_->CreateReferral(req).ok());
        // A conflicting key in the same batch fails alone and takes no sequence.
        auto bad = Request(Referral(id + "x", "police", {"city"}, absl::Now()), id, "other");
        bad.event = Event(bad.referral, 2);
        EXPECT_FALSE(store_->CreateReferral(bad).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(announced.size(), 200u);
  for (size_t i = 0; i < announced.size(); ++i) EXPECT_EQ(announced[i], static_cast<int64_t>(i + 1));
  auto all = store_->ListEvents(EventQuery{"city", 0, 1000});
  ASSERT_EQ(all->size(), 200u);
  EXPECT_EQ(all->back().sequence, 200);
  // The failed writes left nothing in the audit chain either (a batch that
  // meets one is run again with a savepoint per write), and it is intact.
  AuditQuery audit;
  audit.limit = 1000;
  EXPECT_EQ(store_->ListAuditEvents(audit)->size(), 200u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_P(StoreConformanceTest, AsyncAuditCompletesOnceDurable) {
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    AuditRecord record;
    record.action = "DISCLOSURE";
    record.method = "refx.v1.ReferralService.WatchReferrals";
    store_->RecordAuditAsync(record, [&](absl::Status s) {
      if (s.ok()) ok.fetch_add(1);
    });
  }
  for (int i = 0; i < 500 && ok.load() < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ok.load(), 50);
  AuditQuery query;
  query.limit = 100;
  auto events = store_->ListAuditEvents(query);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 50u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_P(StoreConformanceTest, ATensionAlertIsAcknowledgedOnceWithItsAuditEvent) {
  TensionAcknowledgement ack;
  ack.alert = "tensionAlerts/2026-W14/leicester/race";
  ack.week = "2026-W14";
  ack.agency_id = "asb-hate-prevent-strategy-group";
  ack.request_id = "r1";
  ack.note = "Raised at the meeting";
  ack.time = absl::FromUnixSeconds(1790000000);
  AuditRecord audit;
  audit.action = "DISCLOSURE";
  audit.method = "refx.v1.ReportingService.AcknowledgeTensionAlert";
  audit.agency_id = ack.agency_id;

  auto first = store_->AcknowledgeTensionAlert(ack, audit);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  // The same request again: the stored one, nothing written.
  TensionAcknowledgement retry = ack;
  retry.time += absl::Minutes(5);
  auto replayed = store_->AcknowledgeTensionAlert(retry, audit);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE(replayed->replayed);
  EXPECT_EQ(replayed->acknowledgement.time, ack.time);
  // Anyone else, or another request: ALREADY_EXISTS, nothing written.
  TensionAcknowledgement other = ack;
  other.agency_id = "hate-prevent-delivery-group";
  EXPECT_EQ(store_->AcknowledgeTensionAlert(other, audit).status().code(), absl::StatusCode::kAlreadyExists);
  other = ack;
  other.request_id = "r2";
  EXPECT_EQ(store_->AcknowledgeTensionAlert(other, audit).status().code(), absl::StatusCode::kAlreadyExists);
  // Another alert, a later week.
  TensionAcknowledgement later = ack;
  later.alert = "tensionAlerts/2026-W20/online/race";
  later.week = "2026-W20";
  later.request_id = "r3";
  ASSERT_TRUE(store_->AcknowledgeTensionAlert(later, audit).ok());

  auto listed = store_->ListTensionAcknowledgements("2026-W01", "2026-W15");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].alert, ack.alert);
  EXPECT_EQ((*listed)[0].agency_id, ack.agency_id);
  EXPECT_EQ((*listed)[0].note, ack.note);
  EXPECT_EQ((*listed)[0].time, ack.time);
  EXPECT_EQ(store_->ListTensionAcknowledgements("2026-W14", "2026-W20")->size(), 2u);
  EXPECT_EQ(store_->ListTensionAcknowledgements("2026-W21", "2026-W52")->size(), 0u);
  // One audit event per acknowledgement stored, in the chain.
  AuditQuery query;
  query.limit = 100;
  EXPECT_EQ(store_->ListAuditEvents(query)->size(), 2u);
  EXPECT_TRUE(store_->VerifyAuditChain()->intact);
}

TEST_P(StoreConformanceTest, CaseUpdatesAppendInOrderWithTheReferralChangeAndTheirAuditEvent) {
  const absl::Time t = absl::FromUnixMicros(1790000000000000);
  const StoredReferral base = Referral("c1", "police", {"city"}, t);
  ASSERT_TRUE(store_->CreateReferral(Request(base, "c1")).ok());
  const size_t events_before = store_->ListAuditEvents({})->size();
  // Stale etag: ABORTED, nothing written.
  EXPECT_EQ(store_->AddCaseUpdate(CaseUpdate(base, "city", "x", "wrong", "e2", "u0")).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->ListCaseUpdates("c1", 0, 10)->empty());
  EXPECT_EQ(store_->ListAuditEvents({})->size(), events_before);

  const int64_t events_sequence_before = *store_->LatestEventSequence();
  AddCaseUpdateRequest with_event = CaseUpdate(base, "police", "a", "e-c1", "e2", "u1");
  with_event.event = Event(with_event.referral, 4);
  with_event.event->update_document = with_event.update.document;
  auto first = store_->AddCaseUpdate(with_event);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->update.sequence, 1);
  auto second = store_->AddCaseUpdate(CaseUpdate(base, "city", "a", "e2", "e3", "u2"));  // per-agency ids
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->update.sequence, 2);
  // Two updates from the same etag: the second is ABORTED.
  EXPECT_EQ(store_->AddCaseUpdate(CaseUpdate(base, "city", "b", "e2", "e4", "u3")).status().code(),
            absl::StatusCode::kAborted);

  auto referral = store_->GetReferral("c1");
  ASSERT_TRUE(referral.ok());
  EXPECT_EQ(referral->etag, "e3");
  EXPECT_EQ(referral->document, "doc-e3");
  EXPECT_EQ(referral->state, base.state);
  EXPECT_EQ(referral->update_time, t + absl::Seconds(1));
  EXPECT_EQ(store_->ListAuditEvents({})->size(), events_before + 2);

  auto all = store_->ListCaseUpdates("c1", 0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].update_id, "u1");
  EXPECT_EQ((*all)[0].author_agency, "police");
  EXPECT_EQ((*all)[0].document, "update-u1");
  EXPECT_EQ((*all)[0].create_time, t + absl::Seconds(1));
  EXPECT_EQ((*all)[1].update_id, "u2");
  auto after = store_->ListCaseUpdates("c1", 1, 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].sequence, 2);
  EXPECT_EQ(store_->ListCaseUpdates("c1", 0, 1)->size(), 1u);
  EXPECT_TRUE(store_->ListCaseUpdates("other", 0, 10)->empty());

  EXPECT_EQ(store_->GetCaseUpdate("c1", "u2")->document, "update-u2");
  EXPECT_EQ(store_->GetCaseUpdate("c1", "u9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetCaseUpdate("other", "u2").status().code(), absl::StatusCode::kNotFound);

  // A retry replays the update as first stored, whatever the etag is now;
  // the same id with another payload is ALREADY_EXISTS. Ids are one
  // namespace with lifecycle updates.
  auto again = store_->AddCaseUpdate(with_event);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->update.referral_id, "c1");
  EXPECT_EQ(again->update.document, "update-u1");
  EXPECT_EQ(store_->ListCaseUpdates("c1", 0, 10)->size(), 2u);
  // The event was written with the first update only (not the retry).
  EXPECT_EQ(*store_->LatestEventSequence(), events_sequence_before + 1);
  auto events = store_->ListEvents(EventQuery{"city", events_sequence_before, 10});
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, 4);
  EXPECT_EQ((*events)[0].update_document, "update-u1");
  EXPECT_EQ((*events)[0].referral_document, "doc-e2");
  EXPECT_EQ(store_->AddCaseUpdate(CaseUpdate(base, "police", "a", "e3", "e5", "u5")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->UpdateReferral(Update(base, "police", "a", "e3", "e6")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->AddCaseUpdate(CaseUpdate(Referral("nope", "police", {}, t), "city", "n", "e", "f", "u6"))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, ListIsPerPartyNewestFirstWithKeysetCursor) {
  const absl::Time base = absl::FromUnixSeconds(1790000000);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->CreateReferral(Request(Referral(absl::StrCat("r", i), "police", {i % 2 ? "city" : "county"},
                                                        base + absl::Seconds(i / 2)),
                                               absl::StrCat("q", i)))
                    .ok());
  }
  ListReferralsQuery q;
  q.party_agency = "city";
  q.limit = 100;
  auto city = store_->ListReferrals(q);
  ASSERT_TRUE(city.ok());
  EXPECT_EQ(city->size(), 5u);
  q.party_agency = "police";
  q.limit = 3;
  std::vector<std::string> order;
  while (true) {
    auto page = store_->ListReferrals(q);
    ASSERT_TRUE(page.ok());
    for (const auto& r : *page) order.push_back(r.id);
    if (page->size() < 3) break;
    q.after = ListCursor{page->back().create_time, page->back().id};
  }
  // Ties on create_time break by id, descending.
  EXPECT_EQ(order, (std::vector<std::string>{"r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"}));
  q.party_agency = "stranger";
  q.after.reset();
  EXPECT_TRUE(store_->ListReferrals(q)->empty());
}

TEST_P(StoreConformanceTest, ListFiltersCombine) {
  const absl::Time base = absl::FromUnixSeconds(1790000000);
  auto a = Referral("a", "police", {"city"}, base, "leicester");
  auto b = Referral("b", "police", {"city"}, base + absl::Seconds(10), "blaby");
  b.strands = {"disability", "race"};
  b.report_type = 2;
  ASSERT_TRUE(store_->CreateReferral(Request(a, "1")).ok());
  ASSERT_TRUE(store_->CreateReferral(Request(b, "2")).ok());
  auto ids = [&](ListReferralsQuery q) {
    q.party_agency = "city";
    std::set<std::string> out;
    auto rows = store_->ListReferrals(q);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& r : *rows) out.insert(r.id);
    }
    return out;
  };
  ListReferralsQuery q;
  q.areas = {"blaby"};
  EXPECT_EQ(ids(q), std::set<std::string>{"b"});
  q = {};
  q.strands = {"disability"};
  EXPECT_EQ(ids(q), std::set<std::string>{"b"});
  q = {};
  q.report_types = {1};
  EXPECT_EQ(ids(q), std::set<std::string>{"a"});
  q = {};
  q.created_from = base + absl::Seconds(1);
  EXPECT_EQ(ids(q), std::set<std::string>{"b"});
  q = {};
  q.created_to = base + absl::Seconds(10);
  EXPECT_EQ(ids(q), std::set<std::string>{"a"});
  q = {};
  q.states = {2};
  EXPECT_TRUE(ids(q).empty());
  // Filter values are data, never SQL.
  q = {};
  q.areas = {"x\") OR 1=1 --", "'; DROP TABLE referrals; --"};
  EXPECT_TRUE(ids(q).empty());
  EXPECT_TRUE(store_->GetReferral("a").ok());
}

TEST_P(StoreConformanceTest, DeadlineAndMustRespondFilters) {
  const absl::Time base = absl::FromUnixSeconds(1790000000);
  auto early = Referral("early", "police", {"city"}, base);
  early.response_deadline = base + absl::Hours(24);
  auto late = Referral("late", "police", {"city", "county"}, base + absl::Seconds(1));
  late.response_deadline = base + absl::Hours(120);
  auto none = Referral("none", "police", {"city"}, base + absl::Seconds(2));  // stored before deadlines
  for (const auto* r : {&early, &late, &none}) ASSERT_TRUE(store_->CreateReferral(Request(*r, r->id)).ok());
  EXPECT_EQ(store_->GetReferral("early")->response_deadline, early.response_deadline);
  EXPECT_FALSE(store_->GetReferral("none")->response_deadline.has_value());

  auto ids = [&](const std::string& party, ListReferralsQuery q) {
    q.party_agency = party;
    std::set<std::string> out;
    auto rows = store_->ListReferrals(q);
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const auto& r : *rows) out.insert(r.id);
    }
    return out;
  };
  ListReferralsQuery q;
  q.deadline_before = base + absl::Hours(24);  // strictly before: not yet
  EXPECT_TRUE(ids("city", q).empty());
  q.deadline_before = base + absl::Hours(24) + absl::Microseconds(1);
  EXPECT_EQ(ids("city", q), std::set<std::string>{"early"});
  q.deadline_before = base + absl::Hours(1000);
  EXPECT_EQ(ids("police", q), (std::set<std::string>{"early", "late"}));  // never the one without a deadline

  // Must respond: recipients only, until they redirect.
  q = {};
  q.party_must_respond = true;
  EXPECT_TRUE(ids("police", q).empty());
  EXPECT_EQ(ids("county", q), std::set<std::string>{"late"});
  StoredReferral passed = late;
  passed.recipient_agencies.push_back("blaby");
  passed.redirected_agencies = {"county"};
  passed.response_deadline = base + absl::Hours(200);
  ASSERT_TRUE(store_->UpdateReferral(Update(passed, "county", "redirect", "e-late", "e-late2")).ok());
  EXPECT_TRUE(ids("county", q).empty());
  EXPECT_EQ(ids("blaby", q), std::set<std::string>{"late"});
  EXPECT_EQ(ids("city", q), (std::set<std::string>{"early", "late", "none"}));
  EXPECT_EQ(store_->GetReferral("late")->response_deadline, passed.response_deadline);
  // The redirecting agency is still a party: it lists the referral unfiltered.
  EXPECT_EQ(ids("county", {}), std::set<std::string>{"late"});
}

TEST_P(StoreConformanceTest, OverdueCountsPerRecipientThatMustStillRespond) {
  const absl::Time base = absl::FromUnixSeconds(1790000000);
  auto a = Referral("a", "police", {"city", "county"}, base);
  a.response_deadline = base + absl::Hours(24);
  auto b = Referral("b", "police", {"city"}, base + absl::Seconds(1));
  b.response_deadline = base + absl::Hours(48);
  auto answered = Referral("answered", "police", {"city"}, base + absl::Seconds(2));
  answered.response_deadline = base + absl::Hours(24);
  answered.state = 2;  // not awaiting a response
  auto none = Referral("none", "police", {"city"}, base + absl::Seconds(3));  // no deadline: never overdue
  for (const auto* r : {&a, &b, &answered, &none}) ASSERT_TRUE(store_->CreateReferral(Request(*r, r->id)).ok());
  const std::vector<int32_t> awaiting = {1, 5};

  auto counts = store_->CountOverdueByRecipient(base + absl::Hours(24), awaiting);  // strictly before: none yet
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_TRUE(counts->empty());
  counts = store_->CountOverdueByRecipient(base + absl::Hours(30), awaiting);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"city", 1}, {"county", 1}}));
  counts = store_->CountOverdueByRecipient(base + absl::Hours(1000), awaiting);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"city", 2}, {"county", 1}}));

  // A recipient that redirected no longer owes a response; the new one does.
  StoredReferral redirected = a;
  redirected.recipient_agencies.push_back("blaby");
  redirected.redirected_agencies = {"county"};
  UpdateReferralRequest redirect = Update(redirected, "county", "redirect", "e-a", "e-a2");
  redirect.referral.state = 5;  // REDIRECTED: still awaiting a response
  ASSERT_TRUE(store_->UpdateReferral(redirect).ok());
  counts = store_->CountOverdueByRecipient(base + absl::Hours(1000), awaiting);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"blaby", 1}, {"city", 2}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, AllBackends(), BackendName);

}  // namespace
}  // namespace refx::storage
