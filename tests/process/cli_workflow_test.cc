// The `refx` binary through a referral's working life, as two agencies run
// it against an in-process server over real mutual TLS: lifecycle commands,
// case updates and a live watch; and the information-governance commands a
// DPO and an administrator run (`refx audit`, `refx-admin audit|agreement`).
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "refx/v1/audit_service.pb.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDpo[] = "llr-information-governance";

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

TEST_F(CliTest, RetentionHoldsAndPreviewAsTheDataProtectionOfficer) {
  const v1::Referral r = CreatedByPolice("kept for a complaint");
  CommandResult held = Refx(kDpo, {"retention", "hold", r.name(), "--reason", "IOPC complaint 2026/0412"});
  ASSERT_EQ(held.exit_code, kExitOk) << held.Describe();
  EXPECT_THAT(held.out, HasSubstr("held " + r.name()));
  CommandResult again = Refx(kDpo, {"retention", "hold", r.name(), "--reason", "twice"});
  EXPECT_EQ(again.exit_code, kExitConflict) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("LEGAL_HOLD_EXISTS"));

  CommandResult holds = Refx(kDpo, {"retention", "holds", "--output", "json"});
  ASSERT_EQ(holds.exit_code, kExitOk) << holds.Describe();
  v1::ListLegalHoldsResponse listed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(holds.out, &listed).ok()) << holds.out;
  ASSERT_EQ(listed.holds_size(), 1);
  EXPECT_EQ(listed.holds(0).referral(), r.name());
  EXPECT_EQ(listed.holds(0).reason(), "IOPC complaint 2026/0412");

  CommandResult preview = Refx(kDpo, {"retention", "preview", "--within-days", "30"});
  ASSERT_EQ(preview.exit_code, kExitOk) << preview.Describe();
  EXPECT_THAT(preview.out, HasSubstr("0 erasures due within 30 days"));
  CommandResult too_far = Refx(kDpo, {"retention", "preview", "--within-days", "4000"});
  EXPECT_EQ(too_far.exit_code, kExitUsage) << too_far.Describe();

  CommandResult police = Refx(kPolice, {"retention", "holds"});
  EXPECT_EQ(police.exit_code, kExitAuth) << police.Describe();
  CommandResult released = Refx(kDpo, {"retention", "release", r.name()});
  ASSERT_EQ(released.exit_code, kExitOk) << released.Describe();
  CommandResult not_held = Refx(kDpo, {"retention", "release", r.name()});
  EXPECT_EQ(not_held.exit_code, kExitNotFound) << not_held.Describe();
  EXPECT_THAT(RefxBare({"retention", "--help"}).out, HasSubstr("RETENTION_MANAGE"));
}

// `refx sar`: the DPO records a request received today, pauses its clock
// for identity, sees it listed and shown; a stale etag, a step the state
// does not allow, a bad flag and a partner are refused.
TEST_F(CliTest, SarRecordsARequestAndMovesItsClockAsTheDataProtectionOfficer) {
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  const std::string today = absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), london));
  CommandResult opened = Refx(kDpo, {"sar", "open", "--kind", "access", "--reference", "DPO-CLI-7",
                                     "--received", today, "--request-id", "cli-sar-1", "--output", "json"});
  ASSERT_EQ(opened.exit_code, kExitOk) << opened.Describe();
  v1::SubjectRequest request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(opened.out, &request).ok()) << opened.out;
  EXPECT_EQ(request.state(), v1::SubjectRequest::OPEN);
  EXPECT_EQ(request.received_date(), today);
  EXPECT_GT(request.due_date(), today);

  CommandResult paused = Refx(kDpo, {"sar", "step", request.name(), "--action", "paused", "--ground", "identity",
                                     "--date", today, "--etag", request.etag()});
  ASSERT_EQ(paused.exit_code, kExitOk) << paused.Describe();
  EXPECT_THAT(paused.out, HasSubstr("state      paused"));
  EXPECT_THAT(paused.out, HasSubstr("paused (identity)"));
  CommandResult stale = Refx(kDpo, {"sar", "step", request.name(), "--action", "resumed", "--date", today,
                                    "--etag", request.etag()});
  EXPECT_EQ(stale.exit_code, kExitConflict) << stale.Describe();
  EXPECT_THAT(stale.err, HasSubstr("ETAG_MISMATCH"));
  CommandResult not_allowed = Refx(kDpo, {"sar", "step", request.name(), "--action", "answered", "--date", today});
  EXPECT_EQ(not_allowed.exit_code, kExitInvalid) << not_allowed.Describe();
  EXPECT_THAT(not_allowed.err, HasSubstr("SUBJECT_REQUEST_STEP_NOT_ALLOWED"));
  CommandResult bad_action = Refx(kDpo, {"sar", "step", request.name(), "--action", "postponed", "--date", today});
  EXPECT_EQ(bad_action.exit_code, kExitUsage) << bad_action.Describe();

  CommandResult listed = Refx(kDpo, {"sar", "list"});
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.Describe();
  EXPECT_THAT(listed.out, HasSubstr("DPO-CLI-7"));
  EXPECT_THAT(listed.out, HasSubstr("paused"));
  CommandResult shown = Refx(kDpo, {"sar", "show", request.name().substr(request.name().rfind('/') + 1)});
  ASSERT_EQ(shown.exit_code, kExitOk) << shown.Describe();
  EXPECT_THAT(shown.out, HasSubstr("received   " + today));
  CommandResult unknown = Refx(kDpo, {"sar", "show", "00000000000000000000000000000000"});
  EXPECT_EQ(unknown.exit_code, kExitNotFound) << unknown.Describe();

  // An erasure request actioned on one referral.
  const v1::Referral r = CreatedByPolice("erased on request");
  CommandResult erasure = Refx(kDpo, {"sar", "open", "--kind", "erasure", "--reference", "DPO-CLI-8",
                                      "--received", today, "--output", "json"});
  ASSERT_EQ(erasure.exit_code, kExitOk) << erasure.Describe();
  v1::SubjectRequest erasure_request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(erasure.out, &erasure_request).ok()) << erasure.out;
  CommandResult erased = Refx(kDpo, {"sar", "erase", erasure_request.name(), "--referral", r.name(), "--class",
                                     "victim-contact", "--class", "incident-narrative"});
  ASSERT_EQ(erased.exit_code, kExitOk) << erased.Describe();
  EXPECT_THAT(erased.out, HasSubstr("erased victim-contact, incident-narrative from " + r.name()));
  CommandResult twice = Refx(kDpo, {"sar", "erase", erasure_request.name(), "--referral", r.name(), "--class",
                                    "victim-contact"});
  ASSERT_EQ(twice.exit_code, kExitOk) << twice.Describe();
  EXPECT_THAT(twice.out, HasSubstr("nothing to erase"));
  CommandResult on_access = Refx(kDpo, {"sar", "erase", request.name(), "--referral", r.name(), "--class",
                                        "victim-identity"});
  EXPECT_EQ(on_access.exit_code, kExitInvalid) << on_access.Describe();
  EXPECT_THAT(on_access.err, HasSubstr("SUBJECT_REQUEST_NOT_ERASABLE"));
  auto read = server_->Client(kPolice).GetReferral(r.name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->incident_narrative(), "");

  // A rectification request, actioned by the council's correction.
  CommandResult rectification = Refx(kDpo, {"sar", "open", "--kind", "rectification", "--reference", "DPO-7",
                                            "--received", today, "--output", "json"});
  ASSERT_EQ(rectification.exit_code, kExitOk) << rectification.Describe();
  v1::SubjectRequest rectification_request;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(rectification.out, &rectification_request).ok());
  CommandResult noted = Refx(kCityCouncil, {"update", r.name(), "--kind", "safety-plan", "--text", "Plan agreed",
                                            "--output", "json"});
  ASSERT_EQ(noted.exit_code, kExitOk) << noted.Describe();
  v1::CaseUpdate plan;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(noted.out, &plan).ok()) << noted.out;
  CommandResult corrected = Refx(kCityCouncil, {"update", r.name(), "--kind", "correction", "--supersedes",
                                                plan.name(), "--text", "Plan agreed Tuesday", "--output", "json"});
  ASSERT_EQ(corrected.exit_code, kExitOk) << corrected.Describe();
  v1::CaseUpdate correction;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(corrected.out, &correction).ok()) << corrected.out;
  CommandResult not_a_fix = Refx(kDpo, {"sar", "rectified", rectification_request.name(), "--correction",
                                        plan.name()});
  EXPECT_EQ(not_a_fix.exit_code, kExitInvalid) << not_a_fix.Describe();
  EXPECT_THAT(not_a_fix.err, HasSubstr("NOT_A_CORRECTION"));
  CommandResult rectified = Refx(kDpo, {"sar", "rectified", rectification_request.name(), "--correction",
                                        correction.name()});
  ASSERT_EQ(rectified.exit_code, kExitOk) << rectified.Describe();
  EXPECT_THAT(rectified.out, HasSubstr("corrections recorded against it"));
  EXPECT_THAT(rectified.out, HasSubstr(correction.name() + "  by agencies/" + kCityCouncil));
  EXPECT_THAT(rectified.out, Not(HasSubstr("Tuesday")));

  CommandResult police = Refx(kPolice, {"sar", "list"});
  EXPECT_EQ(police.exit_code, kExitAuth) << police.Describe();
  EXPECT_THAT(RefxBare({"sar", "--help"}).out, HasSubstr("SUBJECT_ACCESS"));
  EXPECT_THAT(RefxBare({"sar", "rectified", "--help"}).out, HasSubstr("--kind correction"));
  EXPECT_THAT(RefxBare({"sar", "step", "--help"}).out, HasSubstr("manifestly-unfounded"));
}

// `refx-admin retention preview`: the operator's offline view, from the
// server's own config and key files, of what retention will erase; refused
// while the server holds the SQLite database.
TEST_F(CliTest, AdminRetentionPreviewReadsTheStoppedServersDatabase) {
  const v1::Referral r = CreatedByPolice("closed today");
  v1::AcceptReferralRequest accept;
  accept.set_name(r.name());
  accept.set_etag(r.etag());
  accept.set_request_id("preview-accept");
  auto accepted = server_->Client(kCityCouncil).AcceptReferral(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  v1::CompleteReferralRequest complete;
  complete.set_name(r.name());
  complete.set_etag(accepted->etag());
  complete.set_request_id("preview-complete");
  complete.set_outcome(v1::OUTCOME_SUPPORTED);
  ASSERT_TRUE(server_->Client(kCityCouncil).CompleteReferral(complete).ok());

  const std::vector<std::string> preview = {kAdminBinary, "retention", "preview", "--config",
                                            server_->config_path(), "--within-days", "400", "--output", "json"};
  CommandResult busy = RunCommand(preview, dir_);
  EXPECT_EQ(busy.exit_code, 1) << busy.Describe();
  EXPECT_THAT(busy.err, HasSubstr("refx-server"));

  server_->Stop();
  CommandResult listed = RunCommand(preview, dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  v1::PreviewRetentionResponse planned;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(listed.out, &planned).ok()) << listed.out;
  ASSERT_EQ(planned.erasures_size(), 5) << listed.out;  // the 365-day classes
  EXPECT_EQ(planned.erasures(0).referral(), r.name());
  EXPECT_THAT(planned.erasures(0).rule(), HasSubstr("365 days after closure"));
  CommandResult now = RunCommand({kAdminBinary, "retention", "preview", "--config", server_->config_path()}, dir_);
  ASSERT_EQ(now.exit_code, 0) << now.Describe();
  EXPECT_THAT(now.out, HasSubstr("0 erasures due now"));
  CommandResult help = RunCommand({kAdminBinary, "retention", "preview", "--help"}, dir_);
  EXPECT_THAT(help.out, HasSubstr("exactly what the job's next run erases"));
}

// `refx-admin regime migrate`: once the agreement dates the NCHI Code's
// successor, the stopped server's police incidents move under it; the
// preview's JSON lists exactly what the run's JSON then reports, and a
// second run finds nothing left. Refused while the server holds the SQLite
// database.
TEST_F(CliTest, AdminRegimeMigrateDoesWhatItsPreviewSaid) {
  std::vector<std::string> incidents;
  for (int i = 0; i < 2; ++i) {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.set_report_type(v1::HATE_INCIDENT);
    r.clear_subjects();
    auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("regime-", i));
    ASSERT_TRUE(created.ok()) << created.status();
    incidents.push_back(created->name());
  }
  const v1::Referral crime = CreatedByPolice("a crime stays as it is");
  {
    absl::TimeZone london;
    ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
    std::ofstream agreement(server_->config().agreement_file(), std::ios::app);
    agreement << "\nregime_successions:\n  - {from: NCHI_COP_2023, to: POLICE_POST_REVIEW, effective_date: \""
              << absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), london))
              << "\", subject_data: PURGE, note: \"the review\"}\n";
    ASSERT_TRUE(agreement.good());
  }
  const std::vector<std::string> migrate = {kAdminBinary, "regime", "migrate", "--config", server_->config_path(),
                                            "--output", "json"};
  std::vector<std::string> preview = migrate;
  preview.push_back("--preview");
  CommandResult busy = RunCommand(preview, dir_);
  EXPECT_EQ(busy.exit_code, 1) << busy.Describe();
  EXPECT_THAT(busy.err, HasSubstr("refx-server"));

  server_->Stop();
  auto parse = [](const CommandResult& result) {
    google::protobuf::Struct parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(result.out, &parsed).ok()) << result.out;
    return parsed;
  };
  auto changes_of = [&](const CommandResult& result) {
    const google::protobuf::Struct parsed = parse(result);
    return parsed.fields().count("changes") ? parsed.fields().at("changes").DebugString() : std::string("absent");
  };
  CommandResult planned = RunCommand(preview, dir_);
  ASSERT_EQ(planned.exit_code, 0) << planned.Describe();
  EXPECT_TRUE(parse(planned).fields().at("preview").bool_value()) << planned.out;
  for (const std::string& name : incidents) EXPECT_THAT(planned.out, HasSubstr(name));
  EXPECT_THAT(planned.out, Not(HasSubstr(crime.name())));
  CommandResult done = RunCommand(migrate, dir_);
  ASSERT_EQ(done.exit_code, 0) << done.Describe();
  EXPECT_EQ(changes_of(done), changes_of(planned));
  const google::protobuf::Struct result = parse(done);
  const google::protobuf::ListValue& changes = result.fields().at("changes").list_value();
  ASSERT_EQ(changes.values_size(), 2) << done.out;
  EXPECT_EQ(changes.values(0).struct_value().fields().at("subject_data").string_value(), "PURGE");

  CommandResult again = RunCommand({kAdminBinary, "regime", "migrate", "--config", server_->config_path()}, dir_);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("0 referrals moved"));
  CommandResult help = RunCommand({kAdminBinary, "regime", "migrate", "--help"}, dir_);
  EXPECT_THAT(help.out, HasSubstr("A purge cannot be undone: preview first"));

  ASSERT_TRUE(server_->Restart().ok());
  auto read = server_->Client(kCityCouncil).GetReferral(incidents[0]);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->recording_regime().regime(), v1::POLICE_POST_REVIEW);
  ASSERT_EQ(read->regime_history_size(), 1);
  EXPECT_EQ(read->regime_history(0).regime(), v1::NCHI_COP_2023);
}

// `refx-admin keys rotate` and `keys reencrypt` on the server's SQLite
// database: refused while the server holds it; once stopped, a new data key,
// every value moved to it (progress on stderr, a JSON report), and the
// restarted server reads every referral.
TEST_F(CliTest, AdminKeysRotateAndReencryptTheStoppedServersDatabase) {
  const v1::Referral r = CreatedByPolice("sealed under the first key");
  const std::vector<std::string> rotate = {kAdminBinary, "keys", "rotate", "--config", server_->config_path()};
  CommandResult busy = RunCommand(rotate, dir_);
  EXPECT_EQ(busy.exit_code, 1) << busy.Describe();
  EXPECT_THAT(busy.err, HasSubstr("refx-server"));

  server_->Stop();
  CommandResult rotated = RunCommand(rotate, dir_);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.Describe();
  EXPECT_THAT(rotated.out, HasSubstr("data key 2 made"));
  EXPECT_THAT(rotated.out, HasSubstr("next: refx-admin keys reencrypt"));
  CommandResult moved = RunCommand(
      {kAdminBinary, "keys", "reencrypt", "--config", server_->config_path(), "--output", "json"}, dir_);
  ASSERT_EQ(moved.exit_code, 0) << moved.Describe();
  google::protobuf::Struct report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(moved.out, &report).ok()) << moved.out;
  EXPECT_EQ(report.fields().at("keyId").number_value(), 2);
  EXPECT_GT(report.fields().at("valuesRewritten").number_value(), 0);
  EXPECT_EQ(report.fields().at("valuesLeft").number_value(), 0);
  EXPECT_TRUE(report.fields().at("foundByKey").struct_value().fields().contains("1")) << moved.out;
  EXPECT_THAT(moved.err, HasSubstr("pass 1  referrals"));
  CommandResult again = RunCommand({kAdminBinary, "keys", "reencrypt", "--config", server_->config_path()}, dir_);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("moved 0 to data key 2 in 1 pass"));
  EXPECT_THAT(again.out, Not(HasSubstr("key 1:")));

  // Without its key-encryption key the database is not opened: nothing is
  // rotated, and the error names the setting and the file.
  config::v1::ServerConfig keyless = server_->config();
  const std::string missing = dir_ + "/no-such-kek";
  keyless.mutable_storage()->set_encryption_key_file(missing);
  std::string keyless_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(keyless, &keyless_json).ok());
  const std::string keyless_path = dir_ + "/keyless.yaml";
  std::ofstream(keyless_path) << keyless_json;
  for (const char* command : {"rotate", "reencrypt"}) {
    CommandResult refused = RunCommand({kAdminBinary, "keys", command, "--config", keyless_path}, dir_);
    EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
    EXPECT_THAT(refused.err, HasSubstr(missing)) << command;
  }

  ASSERT_TRUE(server_->Restart().ok());
  auto read = server_->Client(kCityCouncil).GetReferral(r.name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->etag(), r.etag());
  // On the record: the rotation, and each re-encryption when it started and
  // when it ended.
  CommandResult audit = Refx(kDpo, {"audit", "list", "--page-size", "1000", "--output", "json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.Describe();
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(audit.out, &events).ok()) << audit.out;
  std::map<std::string, int> by_method;
  for (const v1::AuditEvent& event : events.events()) {
    if (event.method().starts_with("refx-admin keys")) {
      ++by_method[event.method()];
      EXPECT_EQ(event.action(), "ALTERATION");
      EXPECT_EQ(event.outcome(), "OK");
    }
  }
  EXPECT_EQ(by_method, (std::map<std::string, int>{{"refx-admin keys reencrypt", 4}, {"refx-admin keys rotate", 1}}));
  CommandResult help = RunCommand({kAdminBinary, "keys", "reencrypt", "--help"}, dir_);
  EXPECT_THAT(help.out, HasSubstr("Safe to interrupt and to run again"));
}

// `refx audit bundle` as the DPO: the bundle as JSON and as HTML, each
// readable by the DPO alone; every value escaped (a narrative holding markup
// stays text); the HTML opens in a real browser with nothing fetched or
// run; other roles refused and nothing written.
TEST_F(CliTest, AuditBundleWritesTheSubjectAccessBundleAsJsonAndHtml) {
  v1::Referral r = ValidReferral(kCityCouncil);
  r.set_incident_narrative("Shouted <script>alert('qzx')</script> at the victim");
  r.mutable_victim()->set_phone("07700 900456");
  auto created = server_->Client(kPolice).CreateReferral(r, "bundle-1");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string subject = dir_ + "/person.yaml";
  std::ofstream(subject) << "phone: '07700 900456'\n";
  const std::string html = dir_ + "/sar.html";
  const std::string json = dir_ + "/sar.json";

  CommandResult made = Refx(kDpo, {"audit", "bundle", "--subject-file", subject, "--html", html, "--json", json});
  ASSERT_EQ(made.exit_code, 0) << made.Describe();
  EXPECT_THAT(made.out, HasSubstr("1 referral about the person, held by 2 controllers"));
  EXPECT_THAT(made.out, HasSubstr("wrote " + html));
  for (const std::string& file : {html, json}) {
    EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << file;
  }
  std::stringstream json_text, html_text;
  json_text << std::ifstream(json).rdbuf();
  html_text << std::ifstream(html).rdbuf();
  v1::SubjectAccessBundle bundle;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json_text.str(), &bundle).ok()) << json_text.str();
  ASSERT_EQ(bundle.controllers_size(), 2);
  EXPECT_EQ(bundle.controllers(0).holdings(0).referral().name(), created->name());
  const std::string page = html_text.str();
  EXPECT_THAT(page, HasSubstr("default-src 'none'"));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(&#39;qzx&#39;)&lt;/script&gt;"));
  EXPECT_THAT(page, Not(HasSubstr("<script")));

  CommandResult dom = RunCommand({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                  "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", "--dump-dom",
                                  "file://" + html},
                                 dir_, {}, absl::Seconds(90));
  ASSERT_EQ(dom.exit_code, 0) << dom.Describe();
  EXPECT_THAT(dom.out, HasSubstr(">Subject access bundle<"));
  EXPECT_THAT(dom.out, HasSubstr(">incident_narrative<"));
  EXPECT_THAT(dom.out, HasSubstr(">made the referral<"));
  EXPECT_THAT(dom.out, HasSubstr(">received the referral<"));
  EXPECT_THAT(dom.out, Not(HasSubstr("<script")));
  EXPECT_THAT(dom.err, Not(HasSubstr("CONSOLE"))) << dom.err;

  // A restriction, given in the same file, withholds the narrative from
  // every part and says so, with the exemption, in the page.
  const std::string restricted = dir_ + "/restricted.yaml";
  std::ofstream(restricted) << "phone: '07700 900456'\nrestrictions:\n  - referral: " << created->name()
                            << "\n    data_classes: [DATA_CLASS_INCIDENT_NARRATIVE]\n"
                               "    basis: DPA_2018_S45_4_B_CRIME\n";
  const std::string restricted_html = dir_ + "/restricted.html";
  // A symlink planted where the bundle goes is replaced, never followed.
  const std::string decoy = dir_ + "/decoy.txt";
  std::ofstream(decoy) << "decoy";
  std::filesystem::create_symlink(decoy, restricted_html);
  CommandResult withheld = Refx(kDpo, {"audit", "bundle", "--subject-file", restricted, "--html", restricted_html});
  ASSERT_EQ(withheld.exit_code, 0) << withheld.Describe();
  EXPECT_FALSE(std::filesystem::is_symlink(restricted_html));
  std::stringstream decoy_text;
  decoy_text << std::ifstream(decoy).rdbuf();
  EXPECT_EQ(decoy_text.str(), "decoy");
  // Each file was written beside its name and renamed: no temporary is left.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".html."), std::string::npos) << entry.path();
    EXPECT_EQ(entry.path().filename().string().find(".json."), std::string::npos) << entry.path();
  }
  std::stringstream restricted_text;
  restricted_text << std::ifstream(restricted_html).rdbuf();
  EXPECT_THAT(restricted_text.str(), HasSubstr("Withheld from this bundle"));
  EXPECT_THAT(restricted_text.str(), HasSubstr("DPA 2018 s45(4)(b)"));
  EXPECT_THAT(restricted_text.str(), Not(HasSubstr("alert(")));

  // Naming the access request it answers keeps the restriction with the
  // request: `refx sar show` lists it, and the next export applies it.
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  CommandResult opened = Refx(kDpo, {"sar", "open", "--kind", "access", "--reference", "DPO-CLI-9", "--received",
                                     absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), london)), "--request-id",
                                     "cli-sar-bundle", "--output", "json"});
  ASSERT_EQ(opened.exit_code, kExitOk) << opened.Describe();
  v1::SubjectRequest access;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(opened.out, &access).ok()) << opened.out;
  const std::string kept = dir_ + "/kept.yaml";
  {
    std::ifstream in(restricted);
    std::ofstream(kept) << in.rdbuf() << "subject_request: " << access.name() << "\n";
  }
  CommandResult answered = Refx(kDpo, {"audit", "bundle", "--subject-file", kept});
  ASSERT_EQ(answered.exit_code, 0) << answered.Describe();
  EXPECT_THAT(answered.out, HasSubstr("answers " + access.name()));
  CommandResult shown = Refx(kDpo, {"sar", "show", access.name()});
  ASSERT_EQ(shown.exit_code, 0) << shown.Describe();
  EXPECT_THAT(shown.out, HasSubstr("restrictions applied to its exports"));
  EXPECT_THAT(shown.out, HasSubstr(created->name()));
  const std::string named_only = dir_ + "/named.yaml";
  std::ofstream(named_only) << "phone: '07700 900456'\nsubject_request: " << access.name() << "\n";
  CommandResult reapplied = Refx(kDpo, {"audit", "bundle", "--subject-file", named_only, "--output", "json"});
  ASSERT_EQ(reapplied.exit_code, 0) << reapplied.Describe();
  v1::SubjectAccessBundle reapplied_bundle;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(reapplied.out, &reapplied_bundle).ok()) << reapplied.out;
  ASSERT_EQ(reapplied_bundle.controllers_size(), 2);
  EXPECT_EQ(reapplied_bundle.controllers(0).holdings(0).withheld_size(), 1);

  // JSON on stdout for scripts.
  CommandResult printed = Refx(kDpo, {"audit", "bundle", "--subject-file", subject, "--output", "json"});
  ASSERT_EQ(printed.exit_code, 0) << printed.Describe();
  v1::SubjectAccessBundle again;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(printed.out, &again).ok()) << printed.out;
  EXPECT_EQ(again.referrals_size(), 1);

  // Refused: a role without SUBJECT_ACCESS (and nothing written); no usable
  // identifier.
  CommandResult police = Refx(kPolice, {"audit", "bundle", "--subject-file", subject, "--html", dir_ + "/no.html"});
  EXPECT_EQ(police.exit_code, kExitAuth) << police.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/no.html"));
  const std::string vague = dir_ + "/vague.yaml";
  std::ofstream(vague) << "given_name: Sam\n";
  CommandResult invalid = Refx(kDpo, {"audit", "bundle", "--subject-file", vague});
  EXPECT_EQ(invalid.exit_code, kExitInvalid) << invalid.Describe();
  EXPECT_THAT(invalid.err, Not(HasSubstr("Sam")));
  CommandResult help = Refx(kDpo, {"audit", "bundle", "--help"});
  EXPECT_THAT(help.out, HasSubstr("readable by you alone"));
}

}  // namespace
}  // namespace refx::testing
