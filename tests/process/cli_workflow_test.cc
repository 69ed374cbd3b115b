// The `refx` binary through a referral's working life, as two agencies run
// it against an in-process server over real mutual TLS: lifecycle commands,
// case updates and a live watch; and the information-governance commands a
// DPO and an administrator run (`refx audit`, `refx-admin audit|agreement`;
// retention, subject requests and keys are in cli_data_protection_test.cc).
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "refx/v1/audit_service.pb.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The information-governance commands, driven as a DPO and an administrator
// would: who saw what, the chain verified online and offline, the agreement
// checked and tabled.
TEST_F(CliTest, AuditListAndVerifyAsTheDataProtectionOfficer) {
  const v1::Referral r = CreatedByPolice("seen by the council");
  ASSERT_TRUE(server_->Client(kCityCouncil).GetReferral(r.name()).ok());

  CommandResult listed = Refx(kDpo, {"audit", "list", "--referral", r.name(), "--output", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(listed.out, &events).ok()) << listed.out;
  ASSERT_EQ(events.events_size(), 2) << listed.out;  // the police's collection, the council's disclosure
  EXPECT_EQ(events.events(0).action(), "COLLECTION");
  EXPECT_EQ(events.events(1).action(), "DISCLOSURE");
  EXPECT_EQ(events.events(1).agency(), "agencies/leicester-city-council");
  EXPECT_EQ(listed.out.find("seen by the council"), std::string::npos);

  CommandResult table = Refx(kDpo, {"audit", "list", "--agency", kCityCouncil});
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_NE(table.out.find("DISCLOSURE"), std::string::npos) << table.out;

  CommandResult verified = Refx(kDpo, {"audit", "verify"});
  EXPECT_EQ(verified.exit_code, 0) << verified.Describe();
  EXPECT_NE(verified.out.find("audit chain intact"), std::string::npos) << verified.out;

  // Only the DPO role may read the log.
  CommandResult police = Refx(kPolice, {"audit", "verify"});
  EXPECT_EQ(police.exit_code, 4) << police.Describe();

  // Offline, from the database file, with the server still running.
  CommandResult offline = RunCommand(
      {kAdminBinary, "audit", "verify", "--db", server_->config().storage().sqlite_path()}, dir_);
  EXPECT_EQ(offline.exit_code, 0) << offline.Describe();
  EXPECT_NE(offline.out.find("audit chain intact"), std::string::npos) << offline.out;
  EXPECT_NE(offline.out.find("head signature verified"), std::string::npos) << offline.out;

  // A checkpoint, taken by the DPO over the API, holds the log to it both
  // through the server and offline.
  const std::string checkpoint = dir_ + "/checkpoint.json";
  CommandResult saved = Refx(kDpo, {"audit", "checkpoint", "--out", checkpoint});
  EXPECT_EQ(saved.exit_code, 0) << saved.Describe();
  EXPECT_NE(saved.err.find("checkpoint of event"), std::string::npos) << saved.err;
  CommandResult held = Refx(kDpo, {"audit", "verify", "--checkpoint", checkpoint});
  EXPECT_EQ(held.exit_code, 0) << held.Describe();
  CommandResult held_offline = RunCommand({kAdminBinary, "audit", "verify", "--db",
                                           server_->config().storage().sqlite_path(), "--checkpoint", checkpoint},
                                          dir_);
  EXPECT_EQ(held_offline.exit_code, 0) << held_offline.Describe();
  EXPECT_NE(held_offline.out.find("holds the checkpoint of event"), std::string::npos) << held_offline.out;
  CommandResult admin_checkpoint = RunCommand({kAdminBinary, "audit", "checkpoint", "--db",
                                               server_->config().storage().sqlite_path(), "--out",
                                               dir_ + "/admin-checkpoint.json"},
                                              dir_);
  EXPECT_EQ(admin_checkpoint.exit_code, 0) << admin_checkpoint.Describe();
  CommandResult not_a_checkpoint =
      RunCommand({kAdminBinary, "audit", "verify", "--db", server_->config().storage().sqlite_path(),
                  "--checkpoint", SourcePath("config/agreement.yaml")},
                 dir_);
  EXPECT_EQ(not_a_checkpoint.exit_code, 2) << not_a_checkpoint.Describe();
}

TEST_F(CliTest, FieldNotSharedIsRefusedWithExitCode4) {
  const v1::Referral r = CreatedByPolice("a narrative");
  CommandResult refused = Refx(kCityCouncil, {"get", r.name(), "--field", "subjects"});
  EXPECT_EQ(refused.exit_code, 4) << refused.Describe();
  EXPECT_NE(refused.err.find("FIELD_NOT_SHARED"), std::string::npos) << refused.err;
  CommandResult allowed = Refx(kCityCouncil, {"get", r.name(), "--field", "area", "--output", "json"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.Describe();
  EXPECT_NE(allowed.out.find("leicester"), std::string::npos);
  EXPECT_EQ(allowed.out.find("a narrative"), std::string::npos) << allowed.out;
}

TEST_F(CliTest, AgreementCheckAndTable) {
  CommandResult ok = RunCommand({kAdminBinary, "agreement", "check", SourcePath("config/agreement.yaml"),
                                 "--partnership", SourcePath("config/partnership.yaml")},
                                dir_);
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_NE(ok.out.find("llr-hate-isa@"), std::string::npos) << ok.out;

  const std::string bad = dir_ + "/bad-agreement.yaml";
  {
    std::ofstream out(bad);
    out << "id: x\nversion: '1'\nreview_date: '2027-01-01'\ndpia_reference: D\nroles: [{role: police, sees: all}]\n";
  }
  CommandResult refused = RunCommand({kAdminBinary, "agreement", "check", bad, "--partnership",
                                      SourcePath("config/partnership.yaml")},
                                     dir_);
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("roles[0].sees: unknown key"), std::string::npos) << refused.err;

  CommandResult table = RunCommand({kAdminBinary, "agreement", "table", SourcePath("config/agreement.yaml")}, dir_);
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_NE(table.out.find("| community_safety | victim_support (default) |"), std::string::npos) << table.out;
}

TEST_F(CliTest, LifecycleFromAcceptToCompleteAsTwoAgencies) {
  const v1::Referral r = CreatedByPolice("Lifecycle through the CLI.");
  // Without --etag the CLI reads the referral first.
  CommandResult accepted = Refx(kCityCouncil, {"accept", r.name(), "--output", "json"});
  ASSERT_EQ(accepted.exit_code, kExitOk) << accepted.Describe();
  v1::Referral a;
  ASSERT_TRUE(ParseJson(accepted.out, &a).ok()) << accepted.Describe();
  EXPECT_EQ(a.state(), v1::Referral::ACCEPTED);
  EXPECT_EQ(a.owner_agency(), absl::StrCat("agencies/", kCityCouncil));

  // A stale --etag is refused with a hint to re-read.
  CommandResult stale = Refx(kPolice, {"cancel", r.name(), "--etag", r.etag(), "--reason", "sent in error"});
  EXPECT_NE(stale.exit_code, kExitOk) << stale.Describe();
  EXPECT_THAT(stale.err, HasSubstr("re-read")) << stale.Describe();

  CommandResult started = Refx(kCityCouncil, {"start", r.name(), "--etag", a.etag()});
  ASSERT_EQ(started.exit_code, kExitOk) << started.Describe();
  CommandResult completed =
      Refx(kCityCouncil, {"complete", r.name(), "--outcome", "supported", "--note", "weekly calls", "-o", "json"});
  ASSERT_EQ(completed.exit_code, kExitOk) << completed.Describe();
  v1::Referral c;
  ASSERT_TRUE(ParseJson(completed.out, &c).ok()) << completed.Describe();
  EXPECT_EQ(c.state(), v1::Referral::COMPLETED);
  EXPECT_EQ(c.outcome(), v1::OUTCOME_SUPPORTED);

  // Refusals name the rule.
  CommandResult twice = Refx(kCityCouncil, {"decline", r.name(), "--reason", "out-of-area"});
  EXPECT_NE(twice.exit_code, kExitOk);
  EXPECT_THAT(twice.err, HasSubstr("cannot decline a referral that is COMPLETED")) << twice.Describe();

  CommandResult help = RefxBare({"redirect", "--help"});
  EXPECT_THAT(help.out, HasSubstr("EXAMPLES")) << help.Describe();
  EXPECT_THAT(help.out, HasSubstr("--to")) << help.Describe();
}

TEST_F(CliTest, WatchPrintsNewWorkLiveAndResumesAfterASequence) {
  // Live: a caseworker's `refx watch` sees a referral created after it started.
  CommandResult live;
  std::thread watcher([&] { live = Refx(kCityCouncil, {"watch", "--max-events", "1", "-o", "json"}); });
  // Wait until the stream is open (the server counts it), then create.
  for (int i = 0; i < 200 && server_->server()->watch_subscribers() == 0; ++i) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(server_->server()->watch_subscribers(), 1u);
  auto created = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "cli-watch-1");
  ASSERT_TRUE(created.ok()) << created.status();
  watcher.join();
  ASSERT_EQ(live.exit_code, kExitOk) << live.Describe();
  v1::WatchReferralsResponse event;
  ASSERT_TRUE(ParseJson(live.out, &event).ok()) << live.Describe();
  EXPECT_EQ(event.kind(), v1::WatchReferralsResponse::REFERRAL_CREATED);
  EXPECT_EQ(event.referral().name(), created->name());
  EXPECT_THAT(live.err, HasSubstr("watching from sequence")) << live.Describe();

  // Resume: after that sequence, only what came later, as table lines.
  auto second = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "cli-watch-2");
  ASSERT_TRUE(second.ok());
  CommandResult resumed =
      Refx(kCityCouncil, {"watch", "--after", absl::StrCat(event.sequence()), "--max-events", "1"});
  ASSERT_EQ(resumed.exit_code, kExitOk) << resumed.Describe();
  EXPECT_THAT(resumed.out, HasSubstr(second->name())) << resumed.Describe();
  EXPECT_THAT(resumed.out, Not(HasSubstr(created->name()))) << resumed.Describe();
  EXPECT_THAT(resumed.out, HasSubstr("referral-created")) << resumed.Describe();

  // Refusals: conflicting flags are a usage error; a role that may not read is refused.
  CommandResult both = Refx(kCityCouncil, {"watch", "--after", "1", "--from-start"});
  EXPECT_EQ(both.exit_code, kExitUsage) << both.Describe();
  CommandResult help = RefxBare({"watch", "--help"});
  EXPECT_THAT(help.out, HasSubstr("EXAMPLES")) << help.Describe();
  EXPECT_THAT(help.out, HasSubstr("--after")) << help.Describe();
}

TEST_F(CliTest, UpdateAndUpdatesAsTwoAgencies) {
  const v1::Referral r = CreatedByPolice("Case updates through the CLI.");
  // Without --etag the CLI reads the referral first.
  CommandResult attempt = Refx(kCityCouncil, {"update", r.name(), "--kind", "contact-attempt", "--text",
                                              "No answer; left no message", "-o", "json"});
  ASSERT_EQ(attempt.exit_code, kExitOk) << attempt.Describe();
  v1::CaseUpdate first;
  ASSERT_TRUE(ParseJson(attempt.out, &first).ok()) << attempt.Describe();
  EXPECT_EQ(first.kind(), v1::CaseUpdate::CONTACT_ATTEMPT);
  EXPECT_EQ(first.author_agency(), absl::StrCat("agencies/", kCityCouncil));

  // A correction names the update by its id alone.
  const std::string id = first.name().substr(first.name().rfind('/') + 1);
  CommandResult corrected = Refx(kPolice, {"update", r.name(), "--kind", "correction", "--supersedes", id,
                                           "--text", "Answered on the second ring"});
  ASSERT_EQ(corrected.exit_code, kExitOk) << corrected.Describe();
  EXPECT_THAT(corrected.out, HasSubstr(first.name())) << corrected.Describe();

  // A stale --etag is refused with a hint to re-read.
  CommandResult stale = Refx(kPolice, {"update", r.name(), "--etag", r.etag(), "--kind", "safety-plan", "--text",
                                       "Plan agreed"});
  EXPECT_EQ(stale.exit_code, kExitConflict) << stale.Describe();
  EXPECT_THAT(stale.err, HasSubstr("re-read")) << stale.Describe();
  EXPECT_THAT(stale.err, Not(HasSubstr("Plan agreed"))) << stale.Describe();

  // Invalid input names the field.
  CommandResult invalid = Refx(kPolice, {"update", r.name(), "--kind", "correction", "--text", "x"});
  EXPECT_EQ(invalid.exit_code, kExitInvalid) << invalid.Describe();
  EXPECT_THAT(invalid.err, HasSubstr("update.supersedes")) << invalid.Describe();

  CommandResult table = Refx(kPolice, {"updates", r.name()});
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("KIND")) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("contact-attempt")) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("correction")) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr(id)) << table.Describe();
  CommandResult json = Refx(kCityCouncil, {"updates", r.name(), "--all", "--output", "json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::ListCaseUpdatesResponse listed;
  ASSERT_TRUE(ParseJson(json.out, &listed).ok()) << json.Describe();
  ASSERT_EQ(listed.updates_size(), 2);
  EXPECT_EQ(listed.updates(1).supersedes(), first.name());

  CommandResult outsider = Refx(kBlaby, {"updates", r.name()});
  EXPECT_EQ(outsider.exit_code, kExitNotFound) << outsider.Describe();

  for (const char* sub : {"update", "updates"}) {
    CommandResult help = RefxBare({sub, "--help"});
    EXPECT_EQ(help.exit_code, kExitOk) << help.Describe();
    EXPECT_THAT(help.out, HasSubstr("EXAMPLES")) << help.Describe();
  }
  EXPECT_THAT(RefxBare({"update", "--help"}).out, HasSubstr("contact-attempt"));
}

// `refx retention`: the DPO holds a referral, sees it listed, previews what
// is due (nothing yet: it is open) and releases it; partners may not.
// The sending force notifies an NCHI's subject: refused until the agreement
// shares the compartment, then recorded and listed, with the CLI's own
// mistakes caught before any call and the server's refusals exit-coded.
TEST_F(CliTest, SubjectNotifyAndSubjectNotificationsAsTheSendingForce) {
  v1::Referral incident = ValidReferral(kCityCouncil);
  incident.set_report_type(v1::HATE_INCIDENT);
  incident.clear_subjects();
  auto* record = incident.mutable_nchi_subject_record();
  record->add_subjects()->set_description("the subject");
  record->mutable_attestation()->set_limb(v1::ThresholdAttestation::RISK_OF_SIGNIFICANT_HARM);
  record->mutable_attestation()->set_rationale("threshold met");
  record->mutable_attestation()->set_supervising_officer("PS 4410");
  auto created = server_->Client(kPolice).CreateReferral(incident, "cli-notify-1");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->name().substr(std::string("referrals/").size());

  CommandResult unshared = Refx(kPolice, {"subject-notify", id, "--status", "notified"});
  EXPECT_EQ(unshared.exit_code, kExitAuth) << unshared.Describe();
  EXPECT_THAT(unshared.err, HasSubstr("FIELD_NOT_SHARED")) << unshared.Describe();
  GrantPoliceTheSubjectCompartment(*server_, "-cli-nchi-read");

  CommandResult usage = Refx(kPolice, {"subject-notify", id, "--status", "told"});
  EXPECT_EQ(usage.exit_code, kExitUsage) << usage.Describe();
  EXPECT_THAT(usage.err, HasSubstr("reply-received")) << usage.Describe();
  CommandResult bad_time = Refx(kPolice, {"subject-notify", id, "--status", "notified", "--when", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, kExitUsage) << bad_time.Describe();
  CommandResult no_reason = Refx(kPolice, {"subject-notify", id, "--status", "withheld"});
  EXPECT_EQ(no_reason.exit_code, kExitInvalid) << no_reason.Describe();
  EXPECT_THAT(no_reason.err, HasSubstr("notification.withheld_reason")) << no_reason.Describe();
  CommandResult council = Refx(kCityCouncil, {"subject-notify", id, "--status", "notified"});
  EXPECT_EQ(council.exit_code, kExitAuth) << council.Describe();
  EXPECT_THAT(council.err, HasSubstr("NOT_SENDER")) << council.Describe();

  CommandResult withheld =
      Refx(kPolice, {"subject-notify", id, "--status", "withheld", "--reason", "safeguarding-risk", "--note",
                     "review in a month", "--when", "2026-11-30T10:00:00Z", "--output", "json"});
  ASSERT_EQ(withheld.exit_code, kExitOk) << withheld.Describe();
  v1::SubjectNotification step;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(withheld.out, &step).ok()) << withheld.out;
  EXPECT_EQ(step.name(), absl::StrCat(created->name(), "/subjectNotifications/1"));
  EXPECT_EQ(step.withheld_reason(), v1::SubjectNotification::SAFEGUARDING_RISK);
  EXPECT_EQ(step.occur_time().seconds(), 1796032800);

  CommandResult listed = Refx(kPolice, {"subject-notifications", id, "--output", "json"});
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.Describe();
  v1::ListSubjectNotificationsResponse steps;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(listed.out, &steps).ok()) << listed.out;
  ASSERT_EQ(steps.notifications_size(), 1);
  EXPECT_EQ(steps.notifications(0).SerializeAsString(), step.SerializeAsString());
  CommandResult table = Refx(kPolice, {"subject-notifications", id});
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("review in a month")) << table.Describe();
}

}  // namespace
}  // namespace refx::testing
