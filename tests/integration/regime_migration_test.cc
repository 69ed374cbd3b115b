// A recording regime's successor applied to what was made under it
// (docs/adr/0009-recording-regime-succession.md), on the database a real
// server ran on, then read back over mTLS: once the agreement dates the NCHI
// Code's replacement and its day has come, core::RegimeMigration (what
// `refx-admin regime migrate` runs) moves every police incident made under
// the Code under the successor, keeping the old regime in regime_history.
// The preview is exactly what the run then does, a referral changed between
// the two included; under PURGE the subject compartment is erased and every
// migrated incident records the erasure, with subject data or without, so a
// partner cannot tell them apart; a held referral waits for its release;
// crimes and councils' incidents are untouched; each change is audited;
// nothing moves before the day, and a second run changes nothing; a
// referral changed between the run's read and its write is left for the
// next run.
#include "core/regime_migration.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server_keys.h"
#include "server/server_store.h"
#include "storage/make_store.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kSubjectCanary[] = "CANARY-MIGRATED-SUBJECT-51d0";

class RegimeMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.clock = &clock_;
    options.customize = [](config::v1::ServerConfig* c) { c->mutable_retention()->set_purge_disabled(true); };
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::string Create(const std::string& agency, v1::Referral r) {
    auto created = server_->Client(agency).CreateReferral(r, absl::StrCat("migration-", ++ids_));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->name() : "";
  }

  static v1::Referral Incident() {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.set_report_type(v1::HATE_INCIDENT);
    r.clear_subjects();
    return r;
  }

  // An incident with an attested subject record (kSubjectCanary).
  static v1::Referral AttestedIncident() {
    v1::Referral r = Incident();
    auto* record = r.mutable_nchi_subject_record();
    record->add_subjects()->set_description(kSubjectCanary);
    record->mutable_attestation()->set_limb(v1::ThresholdAttestation::RISK_OF_CRIMINAL_OFFENCE);
    record->mutable_attestation()->set_rationale("threshold met");
    record->mutable_attestation()->set_supervising_officer("PS 4410");
    return r;
  }

  // The Code's successor from the day after the clock's, its subject data
  // to be kept or purged.
  void DateTheSuccessor(config::v1::RegimeSuccession::SubjectData subject_data) {
    absl::TimeZone london;
    ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
    const std::string tomorrow = absl::FormatCivilTime(absl::ToCivilDay(clock_.Now() + absl::Hours(24), london));
    ReloadAgreementWith(*server_, "-successor", [&](config::v1::Agreement& next) {
      auto* succession = next.add_regime_successions();
      succession->set_from(v1::NCHI_COP_2023);
      succession->set_to(v1::POLICE_POST_REVIEW);
      succession->set_effective_date(tomorrow);
      succession->set_subject_data(subject_data);
      succession->set_note("NPCC and College of Policing review, 2026");
    });
  }

  // Runs `work` on the migration over the database of the stopped server,
  // opened as refx-admin opens it (with `observer` told of each commit, if
  // given), then starts the server again.
  void WithMigration(const std::function<void(core::RegimeMigration&, storage::ReferralStore&)>& work,
                     storage::CommitObserver observer = {}) {
    const std::shared_ptr<const core::Agreement> agreement = server_->server()->agreement();
    server_->Stop();
    {
      auto store =
          observer ? OpenObserved(std::move(observer)) : server::OpenServerStore(server_->config(), "the test");
      ASSERT_TRUE(store.ok()) << store.status();
      core::RegimeMigration::Options options;
      options.store = store->get();
      options.agreement = agreement;
      options.clock = &clock_;
      options.scan_page = 2;  // several pages
      auto migration = core::RegimeMigration::Create(options);
      ASSERT_TRUE(migration.ok()) << migration.status();
      work(**migration, **store);
    }
    ASSERT_TRUE(server_->Restart().ok());
  }

  // OpenServerStore with a commit observer: the same keys, the same store.
  absl::StatusOr<std::unique_ptr<storage::ReferralStore>> OpenObserved(storage::CommitObserver observer) {
    const config::v1::ServerConfig& config = server_->config();
    storage::MakeStoreOptions options;
    options.config = config.storage();
    REFX_ASSIGN_OR_RETURN(server::AuditSigningKeyFile signing,
                          server::LoadOrCreateAuditSigningKey(config.audit_signing_key_file()));
    options.audit_head_key = signing.key;
    REFX_ASSIGN_OR_RETURN(options.key_encryption_key, server::LoadOrPrepareKeyEncryptionKey(config.storage()));
    options.commit_observer = std::move(observer);
    return storage::MakeStore(options);
  }

  static v1::Referral Stored(storage::ReferralStore& store, const std::string& name) {
    auto stored = store.GetReferral(name.substr(name.find('/') + 1));
    EXPECT_TRUE(stored.ok()) << stored.status();
    v1::Referral referral;
    if (stored.ok()) {
      EXPECT_TRUE(referral.ParseFromString(stored->document));
    }
    return referral;
  }

  static std::vector<std::string> Names(const std::vector<core::PlannedRegimeChange>& changes) {
    std::vector<std::string> out;
    for (const core::PlannedRegimeChange& c : changes) out.push_back(absl::StrCat("referrals/", c.referral_id));
    return out;
  }

  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 30)))};
  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

TEST_F(RegimeMigrationTest, APreviewIsWhatThePurgeDoesAndEveryIncidentLooksTheSameAfter) {
  const std::string with_subject = Create(kPolice, AttestedIncident());
  const std::string without_subject = Create(kPolice, Incident());
  const std::string held = Create(kPolice, Incident());
  const std::string changed_after_preview = Create(kPolice, Incident());
  v1::Referral crime = ValidReferral(kCityCouncil);
  crime.set_report_type(v1::HATE_CRIME);
  const std::string police_crime = Create(kPolice, crime);
  v1::Referral council = ValidReferral(kPolice);
  council.set_report_type(v1::HATE_INCIDENT);
  const std::string council_incident = Create(kCityCouncil, council);
  const std::string untouched_etag = server_->Client(kPolice).GetReferral(police_crime)->etag();

  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(held);
  hold.set_reason("IOPC complaint 2026/0977");
  ASSERT_TRUE(server_->Client(kDpo).PlaceLegalHold(hold).ok());
  DateTheSuccessor(config::v1::RegimeSuccession::PURGE);

  // Before the day: the plan, but no run.
  std::vector<core::PlannedRegimeChange> preview;
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore&) {
    auto early = migration.Run();
    EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition) << early.status();
    EXPECT_THAT(early.status().message(), HasSubstr("takes effect on"));
    clock_.Advance(absl::Hours(48));
    auto plan = migration.Plan();
    ASSERT_TRUE(plan.ok()) << plan.status();
    preview = *plan;
  });
  ASSERT_EQ(preview.size(), 4u);
  for (const core::PlannedRegimeChange& p : preview) {
    EXPECT_EQ(p.from, v1::NCHI_COP_2023);
    EXPECT_EQ(p.to, v1::POLICE_POST_REVIEW);
    EXPECT_TRUE(p.purge);
    EXPECT_EQ(p.held, absl::StrCat("referrals/", p.referral_id) == held) << p.referral_id;
    EXPECT_THAT(p.rule, HasSubstr("regime succession NCHI_COP_2023 -> POLICE_POST_REVIEW"));
  }
  // Made in the same instant (the clock stands still): in id order.
  EXPECT_THAT(Names(preview), UnorderedElementsAre(with_subject, without_subject, held, changed_after_preview));

  // A change between the preview and the run: the run reads it afresh.
  v1::AcceptReferralRequest accept;
  accept.set_name(changed_after_preview);
  accept.set_etag(server_->Client(kCityCouncil).GetReferral(changed_after_preview)->etag());
  accept.set_request_id("migration-accept");
  ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());

  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore& store) {
    const v1::Referral before = Stored(store, with_subject);
    ASSERT_EQ(before.nchi_subject_record().subjects_size(), 1);
    EXPECT_EQ(before.nchi_subject_record().subjects(0).description(), kSubjectCanary);
    auto report = migration.Run();
    ASSERT_TRUE(report.ok()) << report.status();
    // The preview is what the run did.
    std::vector<core::PlannedRegimeChange> previewed_changes, previewed_held;
    for (const core::PlannedRegimeChange& p : preview) (p.held ? previewed_held : previewed_changes).push_back(p);
    EXPECT_EQ(report->changed, previewed_changes);
    EXPECT_EQ(report->held, previewed_held);
    EXPECT_EQ(report->changed_meanwhile, 0);

    for (const std::string& name : {with_subject, without_subject, changed_after_preview}) {
      SCOPED_TRACE(name);
      const v1::Referral migrated = Stored(store, name);
      EXPECT_FALSE(migrated.has_nchi_subject_record());
      EXPECT_EQ(migrated.recording_regime().regime(), v1::POLICE_POST_REVIEW);
      ASSERT_EQ(migrated.regime_history_size(), 1);
      EXPECT_EQ(migrated.regime_history(0).regime(), v1::NCHI_COP_2023);
      EXPECT_LT(migrated.regime_history(0).apply_time().seconds(), migrated.recording_regime().apply_time().seconds());
      ASSERT_EQ(migrated.erasures_size(), 1);
      EXPECT_EQ(migrated.erasures(0).data_class(), v1::DATA_CLASS_NCHI_SUBJECT);
      EXPECT_THAT(migrated.erasures(0).rule(), HasSubstr("subject data PURGE"));
    }
    EXPECT_EQ(Stored(store, held).recording_regime().regime(), v1::NCHI_COP_2023);
    EXPECT_EQ(Stored(store, council_incident).recording_regime().regime(), v1::LOCAL_UK_GDPR);
    EXPECT_EQ(Stored(store, police_crime).etag(), untouched_etag);

    // Nothing more until the hold is released.
    auto again = migration.Run();
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->changed.empty());
    EXPECT_THAT(Names(again->held), ElementsAre(held));
  });

  // A partner supporting the victim reads the same footprint on both: the
  // successor, the history and the erasure, and nothing of the compartment.
  std::map<std::string, std::string> seen;
  for (const std::string& name : {with_subject, without_subject}) {
    auto read = server_->Client(kCityCouncil).GetReferral(name);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->recording_regime().regime(), v1::POLICE_POST_REVIEW);
    EXPECT_EQ(read->regime_history_size(), 1);
    ASSERT_EQ(read->erasures_size(), 1);
    EXPECT_FALSE(absl::StrContains(read->SerializeAsString(), kSubjectCanary));
    seen[name] = read->erasures(0).rule();
  }
  EXPECT_EQ(seen[with_subject], seen[without_subject]);

  // Audited as erasures by refx-admin, one per referral, under the rule.
  v1::ListAuditEventsRequest query;
  query.set_action("ERASURE");
  auto audit = server_->Client(kDpo).ListAuditEvents(query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<std::string> erased;
  for (const auto& e : audit->events()) {
    EXPECT_EQ(e.method(), "refx-admin regime migrate");
    EXPECT_THAT(e.data_classes(), ::testing::Contains(v1::DATA_CLASS_NCHI_SUBJECT));
    for (const std::string& r : e.referrals()) erased.push_back(r);
  }
  EXPECT_THAT(erased, UnorderedElementsAre(with_subject, without_subject, changed_after_preview));

  // Released: the next run finishes, and a run after that changes nothing.
  v1::ReleaseLegalHoldRequest release;
  release.set_referral(held);
  ASSERT_TRUE(server_->Client(kDpo).ReleaseLegalHold(release).ok());
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore&) {
    auto last = migration.Run();
    ASSERT_TRUE(last.ok()) << last.status();
    EXPECT_THAT(Names(last->changed), ElementsAre(held));
    auto none = migration.Run();
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_TRUE(none->changed.empty() && none->held.empty());
  });
}

TEST_F(RegimeMigrationTest, UnderKeepTheSubjectDataMovesWithTheReferralAndNothingIsErased) {
  const std::string incident = Create(kPolice, AttestedIncident());

  // No succession dated: nothing to migrate, said plainly.
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore&) {
    auto refused = migration.Run();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr("dates no regime succession"));
    EXPECT_TRUE(migration.Plan()->empty());
  });

  DateTheSuccessor(config::v1::RegimeSuccession::KEEP);
  clock_.Advance(absl::Hours(48));
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore& store) {
    auto report = migration.Run();
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_THAT(Names(report->changed), ElementsAre(incident));
    EXPECT_FALSE(report->changed[0].purge);
    const v1::Referral moved = Stored(store, incident);
    EXPECT_EQ(moved.recording_regime().regime(), v1::POLICE_POST_REVIEW);
    ASSERT_EQ(moved.nchi_subject_record().subjects_size(), 1);
    EXPECT_EQ(moved.nchi_subject_record().subjects(0).description(), kSubjectCanary);
    EXPECT_EQ(moved.erasures_size(), 0);
  });

  // Audited as an alteration, not an erasure.
  v1::ListAuditEventsRequest query;
  query.set_action("ALTERATION");
  auto audit = server_->Client(kDpo).ListAuditEvents(query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  int migrated = 0;
  for (const auto& e : audit->events()) {
    if (e.method() != "refx-admin regime migrate") continue;
    ++migrated;
    EXPECT_THAT(e.referrals(), ElementsAre(incident));
  }
  EXPECT_EQ(migrated, 1);
  query.set_action("ERASURE");
  EXPECT_EQ(server_->Client(kDpo).ListAuditEvents(query)->events_size(), 0);
}

// Another server (a replica, or one started again meanwhile) may change a
// referral after the run has read its page and before the run writes it:
// the run's write is conditional on the etag it read, so the referral is
// left as the other writer left it and counted (changed_meanwhile), and the
// next run migrates it.
TEST_F(RegimeMigrationTest, AReferralChangedBetweenTheRunsReadAndItsWriteIsLeftForTheNextRun) {
  Create(kPolice, Incident());
  Create(kPolice, Incident());
  DateTheSuccessor(config::v1::RegimeSuccession::KEEP);
  clock_.Advance(absl::Hours(48));

  std::vector<core::PlannedRegimeChange> plan;
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore&) {
    auto planned = migration.Plan();
    ASSERT_TRUE(planned.ok()) << planned.status();
    plan = *planned;
  });
  ASSERT_EQ(plan.size(), 2u);  // one page (scan_page 2): both read before either is written

  // Once the first referral's write has committed, the second one changes
  // underneath the run, as a write from elsewhere would change it.
  std::atomic<bool> armed{false}, changed{false};
  const std::string second_id = plan[1].referral_id;
  const config::v1::StorageConfig storage_config = server_->config().storage();
  auto change_the_second = [&](const storage::CommitReport& report) {
    if (!armed.load() || !report.committed || report.writes == 0 || changed.exchange(true)) return;
    TestDatabase(storage_config, /*writable=*/true)
        .Exec("UPDATE referrals SET etag = 'changed-elsewhere' WHERE id = '" + second_id + "'");
  };
  WithMigration(
      [&](core::RegimeMigration& migration, storage::ReferralStore& store) {
        armed = true;
        auto report = migration.Run();
        armed = false;
        ASSERT_TRUE(report.ok()) << report.status();
        EXPECT_TRUE(changed.load());
        ASSERT_EQ(report->changed.size(), 1u);
        EXPECT_EQ(report->changed[0].referral_id, plan[0].referral_id);
        EXPECT_EQ(report->changed_meanwhile, 1);
        EXPECT_EQ(Stored(store, "referrals/" + plan[0].referral_id).recording_regime().regime(),
                  v1::POLICE_POST_REVIEW);
        // Left exactly as the other writer left it.
        auto second = store.GetReferral(second_id);
        ASSERT_TRUE(second.ok()) << second.status();
        EXPECT_EQ(second->etag, "changed-elsewhere");
        EXPECT_EQ(Stored(store, "referrals/" + second_id).recording_regime().regime(), v1::NCHI_COP_2023);
      },
      change_the_second);

  // The next run takes it, reading it afresh.
  WithMigration([&](core::RegimeMigration& migration, storage::ReferralStore& store) {
    auto report = migration.Run();
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->changed.size(), 1u);
    EXPECT_EQ(report->changed[0].referral_id, second_id);
    EXPECT_EQ(report->changed_meanwhile, 0);
    EXPECT_EQ(Stored(store, "referrals/" + second_id).recording_regime().regime(), v1::POLICE_POST_REVIEW);
    auto verdict = store.VerifyAuditChain();
    ASSERT_TRUE(verdict.ok()) << verdict.status();
    EXPECT_TRUE(verdict->intact) << verdict->problem;
  });
}

}  // namespace
}  // namespace refx::testing
