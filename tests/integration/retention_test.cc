// Retention that runs by itself (issue 16 item 2), through the real server
// over mTLS with a FakeClock: each data class of a closed referral is erased
// when the agreement's period ends, everywhere it was stored (the referral,
// the event log's copies a watch replays, stored retry responses, case
// updates, the repeat-victim tokens a subject search uses); the erasure is
// audited and announced to the parties; a legal hold pauses it; the preview
// says beforehand exactly what the run then does; only the DPO may ask.
// Jobs racing on two replicas of one PostgreSQL database erase once:
// retention_replicas_test.cc.
#include "core/retention.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Response = v1::WatchReferralsResponse;

constexpr char kPhoneCanary[] = "07700 900555";
constexpr char kContactNoteCanary[] = "rang-canary-contact";
constexpr char kNarrativeCanary[] = "narrative-canary-kept";

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.clock = &clock_;
    // The test runs the job itself, at the moments it chooses.
    options.customize = [](config::v1::ServerConfig* c) { c->mutable_retention()->set_purge_disabled(true); };
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A referral from the police to the city council, accepted, with a
  // contact note, then completed (closed) by the city council at the clock's
  // time. Returns it as the police read it after.
  v1::Referral CreateAndClose(const std::string& request_id) {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.mutable_victim()->set_phone(kPhoneCanary);
    r.mutable_victim()->set_birth_date("1990-02-03");
    r.set_incident_narrative(kNarrativeCanary);
    auto created = server_->Client(kPolice).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return {};
    v1::AcceptReferralRequest accept;
    accept.set_name(created->name());
    accept.set_etag(created->etag());
    accept.set_request_id(request_id + "-accept");
    auto accepted = server_->Client(kCityCouncil).AcceptReferral(accept);
    EXPECT_TRUE(accepted.ok()) << accepted.status();
    v1::AddCaseUpdateRequest note;
    note.set_parent(created->name());
    note.set_etag(accepted->etag());
    note_etag_ = accepted->etag();
    note.set_request_id(request_id + "-note");
    note.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
    note.mutable_update()->set_text(kContactNoteCanary);
    EXPECT_TRUE(server_->Client(kCityCouncil).AddCaseUpdate(note).ok());
    auto current = server_->Client(kCityCouncil).GetReferral(created->name());
    v1::CompleteReferralRequest complete;
    complete.set_name(created->name());
    complete.set_etag(current->etag());
    complete.set_request_id(request_id + "-complete");
    complete.set_outcome(v1::OUTCOME_SUPPORTED);
    auto completed = server_->Client(kCityCouncil).CompleteReferral(complete);
    EXPECT_TRUE(completed.ok()) << completed.status();
    return completed.ok() ? *completed : v1::Referral();
  }

  core::RetentionJob::RunReport Run() {
    auto report = server_->server()->RunRetentionNow();
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : core::RetentionJob::RunReport();
  }

  // Every event the agency's watch replays from the start of the log.
  std::vector<Response> Replay(const std::string& agency) {
    int64_t head = 0;
    v1::WatchReferralsRequest at_head;
    at_head.set_start_at_head(true);
    server_->Client(agency)
        .Watch(at_head,
               [&](const Response& m) {
                 head = m.sequence();
                 return false;
               })
        .IgnoreError();
    std::vector<Response> out;
    absl::Status ended = server_->Client(agency).Watch(v1::WatchReferralsRequest(), [&](const Response& m) {
      if (m.kind() != Response::SUBSCRIBED) out.push_back(m);
      return m.sequence() < head;
    });
    EXPECT_TRUE(ended.ok()) << ended;
    return out;
  }

  // Far enough back that every moment the test moves to (up to two years
  // on) is still before the test certificates expire: the server checks
  // expiry against its own clock.
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 800)))};
  std::string note_etag_;  // the etag the last CreateAndClose's note was sent with
  std::unique_ptr<TestServer> server_;
};

TEST_F(RetentionTest, EachClassIsErasedEverywhereWhenItsPeriodEndsAuditedAndAnnounced) {
  const v1::Referral closed = CreateAndClose("closed");
  ASSERT_FALSE(closed.name().empty());
  ASSERT_TRUE(closed.has_close_time());
  EXPECT_EQ(FromProto(closed.close_time()), clock_.Now());

  // A day before the contact data's 365 days: nothing is due.
  clock_.Advance(absl::Hours(24 * 364));
  core::RetentionJob::RunReport early = Run();
  EXPECT_EQ(early.referrals_examined, 1);
  EXPECT_EQ(early.classes_erased, 0);

  clock_.Advance(absl::Hours(24 * 2));
  // Listed before the run, twice: the page's renders are kept
  // (core/render_cache.h).
  ASSERT_TRUE(server_->Client(kPolice).ListReferrals({}).ok());
  auto listed_before = server_->Client(kPolice).ListReferrals({});
  ASSERT_TRUE(listed_before.ok()) << listed_before.status();
  ASSERT_EQ(listed_before->referrals_size(), 1);
  EXPECT_EQ(listed_before->referrals(0).victim().phone(), kPhoneCanary);
  core::RetentionJob::RunReport due = Run();
  EXPECT_EQ(due.referrals_erased, 1);
  // Contact, health, precise location, subject and NCHI subject data (365
  // days): every class whose period ended, whether or not it held a value.
  EXPECT_EQ(due.classes_erased, 5);
  // Four events (create, accept, note, complete), three stored retry
  // responses (the accept's, the note's, the complete's), the note itself.
  EXPECT_EQ(due.copies_rewritten, 8);

  // The referral says what was erased, when, under which rule; the rest stays.
  auto read = server_->Client(kPolice).GetReferral(closed.name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->victim().phone(), "");
  EXPECT_EQ(read->incident_narrative(), kNarrativeCanary);  // 730 days
  std::vector<std::string> erased;
  for (const v1::Erasure& e : read->erasures()) {
    erased.push_back(v1::DataClass_Name(e.data_class()));
    EXPECT_EQ(FromProto(e.erase_time()), clock_.Now());
    EXPECT_THAT(e.rule(), HasSubstr("days after closure"));
  }
  EXPECT_THAT(erased, ElementsAre("DATA_CLASS_VICTIM_CONTACT", "DATA_CLASS_HEALTH_AND_DISABILITY",
                                  "DATA_CLASS_PRECISE_LOCATION", "DATA_CLASS_SUBJECT", "DATA_CLASS_NCHI_SUBJECT"));
  EXPECT_NE(read->etag(), closed.etag());
  // A list page after the run is rendered from the erased referral, not
  // served as listed before it.
  auto listed_after = server_->Client(kPolice).ListReferrals({});
  ASSERT_TRUE(listed_after.ok()) << listed_after.status();
  ASSERT_EQ(listed_after->referrals_size(), 1);
  EXPECT_EQ(listed_after->referrals(0).SerializeAsString(), read->SerializeAsString());
  EXPECT_FALSE(absl::StrContains(listed_after->SerializeAsString(), kPhoneCanary));

  // Case updates, and the retry of a change, answer without it.
  v1::ListCaseUpdatesRequest list;
  list.set_parent(closed.name());
  auto updates = server_->Client(kCityCouncil).ListCaseUpdates(list);
  ASSERT_TRUE(updates.ok()) << updates.status();
  ASSERT_EQ(updates->updates_size(), 1);
  EXPECT_EQ(updates->updates(0).text(), "");
  EXPECT_EQ(updates->updates(0).kind(), v1::CaseUpdate::CONTACT_ATTEMPT);
  v1::AddCaseUpdateRequest note_retry;
  note_retry.set_parent(closed.name());
  note_retry.set_etag(note_etag_);  // a retry as first sent; the referral's etag moved on
  note_retry.set_request_id("closed-note");
  note_retry.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
  note_retry.mutable_update()->set_text(kContactNoteCanary);
  auto replayed_note = server_->Client(kCityCouncil).AddCaseUpdate(note_retry);
  ASSERT_TRUE(replayed_note.ok()) << replayed_note.status();
  EXPECT_EQ(replayed_note->text(), "");

  // The watch stream: every replayed event is erased, the last announces it.
  for (const char* agency : {kPolice, kCityCouncil}) {
    const std::vector<Response> events = Replay(agency);
    ASSERT_EQ(events.size(), 5u) << agency;
    for (const Response& m : events) {
      EXPECT_FALSE(absl::StrContains(m.SerializeAsString(), kPhoneCanary)) << agency << " " << m.sequence();
      EXPECT_FALSE(absl::StrContains(m.SerializeAsString(), kContactNoteCanary)) << agency << " " << m.sequence();
    }
    EXPECT_EQ(events.back().kind(), Response::REFERRAL_ERASED);
    EXPECT_EQ(events.back().referral().erasures_size(), 5);
  }

  // Audited as an ERASURE by the server itself, naming the classes.
  v1::ListAuditEventsRequest audit_query;
  audit_query.set_action("ERASURE");
  auto audit = server_->Client(kDpo).ListAuditEvents(audit_query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->events_size(), 1);
  EXPECT_EQ(audit->events(0).method(), "refx.server.RetentionJob");
  EXPECT_THAT(audit->events(0).referrals(), ElementsAre(closed.name()));
  EXPECT_EQ(audit->events(0).data_classes_size(), 5);

  // A subject search no longer finds the person by the erased phone, still
  // by the name and birth date the referral still holds.
  v1::FindSubjectReferralsRequest by_phone;
  by_phone.set_phone(kPhoneCanary);
  EXPECT_EQ(server_->Client(kDpo).FindSubjectReferrals(by_phone)->referrals_size(), 0);
  v1::FindSubjectReferralsRequest by_name;
  by_name.set_given_name(read->victim().given_name());
  by_name.set_family_name(read->victim().family_name());
  by_name.set_birth_date("1990-02-03");
  EXPECT_EQ(server_->Client(kDpo).FindSubjectReferrals(by_name)->referrals_size(), 1);

  // Running again erases nothing more until the next period ends.
  EXPECT_EQ(Run().classes_erased, 0);
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(Run().classes_erased, 4);  // identity, narrative, safeguarding, Prevent (730 days)
  read = server_->Client(kPolice).GetReferral(closed.name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->incident_narrative(), "");
  EXPECT_EQ(read->victim().given_name(), "");
  EXPECT_EQ(read->erasures_size(), 9);
  EXPECT_EQ(server_->Client(kDpo).FindSubjectReferrals(by_name)->referrals_size(), 0);
}

TEST_F(RetentionTest, APreviewListsExactlyWhatTheRunErasesAndALegalHoldPausesIt) {
  const v1::Referral held = CreateAndClose("held");
  const v1::Referral free = CreateAndClose("free");
  // Never acted on: abandoned after 365 days untouched, its periods then
  // run from its creation.
  auto open = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "open");
  ASSERT_TRUE(open.ok()) << open.status();

  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(held.name());
  hold.set_reason("IOPC complaint 2026/0412");
  auto placed = server_->Client(kDpo).PlaceLegalHold(hold);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->agency(), absl::StrCat("agencies/", kDpo));
  auto again = server_->Client(kDpo).PlaceLegalHold(hold);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorReasonOf(again.status()), "LEGAL_HOLD_EXISTS");

  v1::PreviewRetentionRequest now;
  auto nothing_yet = server_->Client(kDpo).PreviewRetention(now);
  ASSERT_TRUE(nothing_yet.ok()) << nothing_yet.status();
  EXPECT_EQ(nothing_yet->erasures_size(), 0);
  v1::PreviewRetentionRequest within_a_year;
  within_a_year.set_within_days(366);
  auto coming = server_->Client(kDpo).PreviewRetention(within_a_year);
  ASSERT_TRUE(coming.ok()) << coming.status();
  EXPECT_EQ(coming->erasures_size(), 15);  // the five 365-day classes of each of the three
  int abandoned = 0;
  for (const auto& e : coming->erasures()) {
    if (e.referral() == open->name()) {
      ++abandoned;
      EXPECT_THAT(e.rule(), HasSubstr("after creation (abandoned)"));
    }
  }
  EXPECT_EQ(abandoned, 5);

  clock_.Advance(absl::Hours(24 * 366));
  auto due = server_->Client(kDpo).PreviewRetention(now);
  ASSERT_TRUE(due.ok()) << due.status();
  std::set<std::string> previewed;
  int held_rows = 0;
  for (const auto& e : due->erasures()) {
    if (e.held()) {
      ++held_rows;
      EXPECT_EQ(e.referral(), held.name());
      continue;
    }
    previewed.insert(absl::StrCat(e.referral(), " ", v1::DataClass_Name(e.data_class())));
  }
  EXPECT_EQ(held_rows, 5);
  EXPECT_EQ(previewed.size(), 10u);
  core::RetentionJob::RunReport report = Run();
  EXPECT_EQ(report.held, 1);
  EXPECT_EQ(report.referrals_erased, 2);
  // The preview is what the run did.
  std::set<std::string> done;
  for (const std::string& name : {free.name(), open->name()}) {
    auto read = server_->Client(kPolice).GetReferral(name);
    ASSERT_TRUE(read.ok()) << read.status();
    for (const auto& e : read->erasures()) done.insert(absl::StrCat(name, " ", v1::DataClass_Name(e.data_class())));
  }
  EXPECT_EQ(previewed, done);
  EXPECT_EQ(server_->Client(kPolice).GetReferral(held.name())->victim().phone(), kPhoneCanary);
  EXPECT_EQ(server_->Client(kPolice).GetReferral(held.name())->erasures_size(), 0);

  auto holds = server_->Client(kDpo).ListLegalHolds();
  ASSERT_TRUE(holds.ok()) << holds.status();
  ASSERT_EQ(holds->holds_size(), 1);
  EXPECT_EQ(holds->holds(0).reason(), "IOPC complaint 2026/0412");

  // Released: the next run catches up.
  v1::ReleaseLegalHoldRequest release;
  release.set_referral(held.name());
  ASSERT_TRUE(server_->Client(kDpo).ReleaseLegalHold(release).ok());
  absl::Status twice = server_->Client(kDpo).ReleaseLegalHold(release);
  EXPECT_EQ(twice.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(twice), "LEGAL_HOLD_NOT_FOUND");
  EXPECT_EQ(Run().referrals_erased, 1);
  EXPECT_EQ(server_->Client(kPolice).GetReferral(held.name())->victim().phone(), "");

  // The hold and its release are audited, with the person acting.
  v1::ListAuditEventsRequest query;
  query.set_agency(absl::StrCat("agencies/", kDpo));
  auto audit = server_->Client(kDpo).ListAuditEvents(query);
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> methods;
  for (const auto& e : audit->events()) {
    if (absl::StrContains(e.method(), "LegalHold") && e.outcome() == "OK") methods.push_back(e.method());
  }
  EXPECT_THAT(methods, ElementsAre("refx.v1.AuditService.PlaceLegalHold", "refx.v1.AuditService.ListLegalHolds",
                                   "refx.v1.AuditService.ReleaseLegalHold"));
}

// The routing record's own period (DATA_CLASS_REFERRAL_CORE: six years in
// the LLR agreement) reaches past the certificates' lifetime from the usual
// start: this starts far enough back that six years on is still before they
// expire.
class RoutingRecordRetentionTest : public RetentionTest {
 protected:
  void SetUp() override {
    clock_.Set(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 2300))));
    RetentionTest::SetUp();
  }

  // The events of `name` in what `agency`'s watch replays.
  std::vector<Response> EventsOf(const std::string& agency, const std::string& name) {
    std::vector<Response> out;
    for (Response& m : Replay(agency)) {
      if (m.referral().name() == name) out.push_back(std::move(m));
    }
    return out;
  }
};

TEST_F(RoutingRecordRetentionTest, WhenTheRoutingRecordsPeriodEndsTheReferralIsDeletedAndItsPartiesTold) {
  const v1::Referral deleted = CreateAndClose("deleted");
  ASSERT_FALSE(deleted.name().empty());
  clock_.Advance(absl::Hours(24));
  const v1::Referral kept = CreateAndClose("kept");  // closed a day later
  ASSERT_FALSE(kept.name().empty());

  // The preview says so beforehand.
  clock_.Advance(absl::Hours(24 * 2188));
  EXPECT_EQ(Run().referrals_deleted, 0);  // every shorter period, both referrals
  v1::PreviewRetentionRequest within_a_day;
  within_a_day.set_within_days(1);
  auto preview = server_->Client(kDpo).PreviewRetention(within_a_day);
  ASSERT_TRUE(preview.ok()) << preview.status();
  std::vector<std::string> due;
  for (const auto& e : preview->erasures()) {
    if (e.referral() != deleted.name()) continue;
    due.push_back(v1::DataClass_Name(e.data_class()));
    if (e.data_class() == v1::DATA_CLASS_REFERRAL_CORE) {
      EXPECT_THAT(e.rule(), HasSubstr("DATA_CLASS_REFERRAL_CORE: 2190 days after closure"));
    }
  }
  EXPECT_THAT(due,
              ElementsAre("DATA_CLASS_REFERRAL_CORE", "DATA_CLASS_PROTECTED_CHARACTERISTICS", "DATA_CLASS_CRIME_DATA"));

  clock_.Advance(absl::Hours(24));
  core::RetentionJob::RunReport report = Run();
  EXPECT_EQ(report.referrals_erased, 1);
  EXPECT_EQ(report.referrals_deleted, 1);

  // No read finds it, for any party: the answer of a referral that never was.
  std::string never = deleted.name();
  never.back() = never.back() == '0' ? '1' : '0';
  for (const char* agency : {kPolice, kCityCouncil}) {
    auto read = server_->Client(agency).GetReferral(deleted.name());
    EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << agency;
    EXPECT_EQ(ErrorReasonOf(read.status()), "REFERRAL_NOT_FOUND") << agency;
    const absl::Status absent = server_->Client(agency).GetReferral(never).status();
    EXPECT_EQ(absent.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(ErrorReasonOf(absent), "REFERRAL_NOT_FOUND");
    v1::ListCaseUpdatesRequest updates;
    updates.set_parent(deleted.name());
    EXPECT_EQ(server_->Client(agency).ListCaseUpdates(updates).status().code(), absl::StatusCode::kNotFound);
    auto listed = server_->Client(agency).ListReferrals(v1::ListReferralsRequest());
    ASSERT_TRUE(listed.ok()) << listed.status();
    ASSERT_EQ(listed->referrals_size(), 1) << agency;
    EXPECT_EQ(listed->referrals(0).name(), kept.name());
  }
  EXPECT_TRUE(server_->Client(kPolice).GetReferral(kept.name()).ok());
  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(deleted.name());
  hold.set_reason("too late");
  EXPECT_EQ(ErrorReasonOf(server_->Client(kDpo).PlaceLegalHold(hold).status()), "REFERRAL_NOT_FOUND");

  // The parties hear of the deletion, and of nothing earlier of it, live
  // from memory and, after a restart, from the event log: the notice holds
  // the referral's name and what was erased, under which rule, and nothing
  // else.
  for (int pass = 0; pass < 2; ++pass) {
    for (const char* agency : {kPolice, kCityCouncil}) {
      const std::vector<Response> events = EventsOf(agency, deleted.name());
      ASSERT_EQ(events.size(), 1u) << agency << " pass " << pass;
      const v1::Referral& notice = events[0].referral();
      EXPECT_EQ(events[0].kind(), Response::REFERRAL_DELETED);
      EXPECT_EQ(notice.state(), v1::Referral::STATE_UNSPECIFIED);
      EXPECT_EQ(notice.sender_agency(), "");
      EXPECT_FALSE(notice.has_create_time());
      EXPECT_FALSE(absl::StrContains(events[0].SerializeAsString(), kNarrativeCanary));
      std::set<v1::DataClass> erased;
      std::string routing_rule;
      for (const v1::Erasure& e : notice.erasures()) {
        erased.insert(e.data_class());
        if (e.data_class() == v1::DATA_CLASS_REFERRAL_CORE) routing_rule = e.rule();
      }
      EXPECT_EQ(erased.size(), static_cast<size_t>(v1::DataClass_ARRAYSIZE - 1));  // all but UNSPECIFIED
      EXPECT_THAT(routing_rule, HasSubstr("DATA_CLASS_REFERRAL_CORE: 2190 days after closure"));
      // The other referral's history is as it was.
      EXPECT_EQ(EventsOf(agency, kept.name()).size(), 5u) << agency;  // four changes, one erasure
    }
    ASSERT_TRUE(server_->Restart().ok());
  }

  // Audited as an ERASURE of every class, the routing record's included.
  v1::ListAuditEventsRequest audit_query;
  audit_query.set_action("ERASURE");
  auto audit = server_->Client(kDpo).ListAuditEvents(audit_query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_GE(audit->events_size(), 1);
  const auto& last = audit->events(audit->events_size() - 1);
  EXPECT_THAT(last.referrals(), ElementsAre(deleted.name()));
  EXPECT_THAT(last.data_classes(), ::testing::Contains(v1::DATA_CLASS_REFERRAL_CORE));

  // Nothing is left for a later run; the other referral follows a day on.
  report = Run();
  EXPECT_EQ(report.referrals_examined, 1);
  EXPECT_EQ(report.classes_erased, 0);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Run().referrals_deleted, 1);
  EXPECT_EQ(server_->Client(kPolice).GetReferral(kept.name()).status().code(), absl::StatusCode::kNotFound);
}

// Fail closed: while the audit log cannot be written, the run that would
// delete a referral ends with the error, and nothing of the referral is
// erased, deleted or announced; the next run, once the log can be written,
// deletes it.
TEST_F(RoutingRecordRetentionTest, WhileTheAuditLogCannotBeWrittenNothingIsDeletedOrAnnounced) {
  const v1::Referral doomed = CreateAndClose("doomed");
  ASSERT_FALSE(doomed.name().empty());
  clock_.Advance(absl::Hours(24 * 2191));  // past the routing record's 2190 days
  const config::v1::StorageConfig& storage = server_->config().storage();
  auto block = [&](bool blocked) { TestDatabase(storage, /*writable=*/true).BlockAuditWrites(blocked); };

  block(true);
  auto failed = server_->server()->RunRetentionNow();
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(absl::StrContains(failed.status().ToString(), kNarrativeCanary));
  block(false);

  // As it was: readable by its parties, its narrative and contact note
  // kept, no deletion in any party's event log, no erasure audited.
  auto read = server_->Client(kPolice).GetReferral(doomed.name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->incident_narrative(), kNarrativeCanary);
  EXPECT_EQ(read->etag(), doomed.etag());
  for (const char* agency : {kPolice, kCityCouncil}) {
    for (const Response& event : EventsOf(agency, doomed.name())) {
      EXPECT_NE(event.kind(), Response::REFERRAL_DELETED) << agency;
    }
  }
  v1::ListAuditEventsRequest erasures;
  erasures.set_action("ERASURE");
  auto audit = server_->Client(kDpo).ListAuditEvents(erasures);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_EQ(audit->events_size(), 0);

  // The next run does what the failed one could not.
  EXPECT_EQ(Run().referrals_deleted, 1);
  EXPECT_EQ(server_->Client(kPolice).GetReferral(doomed.name()).status().code(), absl::StatusCode::kNotFound);
  audit = server_->Client(kDpo).ListAuditEvents(erasures);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->events_size(), 1);
  EXPECT_THAT(audit->events(0).referrals(), ElementsAre(doomed.name()));
}

TEST_F(RetentionTest, OnlyTheDataProtectionOfficerMayPreviewOrHoldAndBadInputIsNamed) {
  const v1::Referral closed = CreateAndClose("refusals");
  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(closed.name());
  hold.set_reason("claim 42");
  // Partner agencies, even the referral's own parties, may not.
  for (const char* agency : {kPolice, kCityCouncil, kBlaby}) {
    auto refused = server_->Client(agency).PlaceLegalHold(hold);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << agency;
    EXPECT_EQ(ErrorReasonOf(refused.status()), "METHOD_NOT_PERMITTED");
    EXPECT_EQ(server_->Client(agency).PreviewRetention({}).status().code(), absl::StatusCode::kPermissionDenied);
  }
  // No certificate: the handshake fails.
  EXPECT_EQ(server_->ClientWith(TestPki::ClientCert{}).ListLegalHolds().status().code(),
            absl::StatusCode::kUnavailable);

  // Invalid input names the field; a referral that does not exist is NOT_FOUND.
  v1::PlaceLegalHoldRequest bad = hold;
  bad.set_reason("");
  auto no_reason = server_->Client(kDpo).PlaceLegalHold(bad);
  EXPECT_EQ(no_reason.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(no_reason.status()).at(0).field, "reason");
  bad.set_reason("line one\nline two");
  EXPECT_EQ(server_->Client(kDpo).PlaceLegalHold(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = hold;
  bad.set_referral("referrals/not-an-id");
  EXPECT_EQ(FieldViolationsOf(server_->Client(kDpo).PlaceLegalHold(bad).status()).at(0).field, "referral");
  bad.set_referral("referrals/0123456789abcdef0123456789abcdef");
  auto missing = server_->Client(kDpo).PlaceLegalHold(bad);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReasonOf(missing.status()), "REFERRAL_NOT_FOUND");
  v1::PreviewRetentionRequest too_far;
  too_far.set_within_days(3651);
  EXPECT_EQ(server_->Client(kDpo).PreviewRetention(too_far).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->Client(kDpo).ListLegalHolds()->holds().empty());
}

}  // namespace
}  // namespace refx::testing
