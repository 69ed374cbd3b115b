// The `refx` and `refx-admin` commands of the data's lawful life, as a DPO
// and an administrator run them against an in-process server over real
// mutual TLS: retention holds and previews, the register of subject
// requests, the subject access bundle, and the admin tool's retention
// preview, regime migration and key rotation on a stopped server's
// database. Part of refx_cli_test (cli_test_support.h).
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
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
