// The `refx` binary as a caseworker runs it, against an in-process server
// over real mutual TLS: connection settings from flags, environment and a
// profile file; create/get/list output; exit codes and error text for the
// failures a user meets (not found, invalid, expired certificate, wrong CA).
// The commands after create (lifecycle, case updates, watch) and the
// information-governance ones are in cli_workflow_test.cc, the data's lawful
// life in cli_data_protection_test.cc, the clock's lists and the reports in
// cli_report_test.cc.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process/cli_test_support.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(CliTest, WhoAmIAsPolice) {
  CommandResult r = Refx(kPolice, {"whoami"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("agencies/leicestershire-police")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("spiffe://llr.refx.example/agency/leicestershire-police")) << r.Describe();

  CommandResult json = Refx(kPolice, {"whoami", "--output", "json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::WhoAmIResponse me;
  ASSERT_TRUE(ParseJson(json.out, &me).ok()) << json.Describe();
  EXPECT_EQ(me.agency(), "agencies/leicestershire-police");
  EXPECT_EQ(me.role(), "police");
  EXPECT_EQ(me.partnership(), "llr");
}

TEST_F(CliTest, CreateWithFlagsPrintsTheStoredReferralAsJson) {
  CommandResult r = Refx(kPolice, {"create",
                                   "--report-type", "hate-crime",
                                   "--strand", "race:perceived",
                                   "--strand", "religion_or_belief:actual:Islam",
                                   "--perceived-by", "victim",
                                   "--channel", "police",
                                   "--area", "leicester",
                                   "--occurred", "2024-05-01T18:30:00Z",
                                   "--narrative", "Shouted at outside the library.",
                                   "--victim-given-name", "Sam",
                                   "--victim-phone", "07700 900123",
                                   "--consent", "given",
                                   "--recipient", kCityCouncil,
                                   "--risk", "medium",
                                   "--output", "json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  v1::Referral created;
  ASSERT_TRUE(ParseJson(r.out, &created).ok()) << r.Describe();
  EXPECT_THAT(created.name(), StartsWith("referrals/"));
  EXPECT_EQ(created.sender_agency(), "agencies/leicestershire-police");
  EXPECT_EQ(created.state(), v1::Referral::REQUESTED);
  EXPECT_EQ(created.area(), "leicester");
  EXPECT_EQ(created.report_type(), v1::HATE_CRIME);
  ASSERT_EQ(created.strands_size(), 2);
  EXPECT_EQ(created.strands(1).targeted_religion(), "Islam");
  EXPECT_EQ(created.strands(0).basis(), v1::Strand::PERCEIVED);
  EXPECT_EQ(created.risk_level(), v1::RISK_LEVEL_MEDIUM);
  EXPECT_EQ(created.occur_time().seconds(), 1714588200);
  EXPECT_THAT(created.recipient_agencies(), ::testing::ElementsAre("agencies/leicester-city-council"));

  // What was printed is what was stored.
  auto stored = server_->Client(kCityCouncil).GetReferral(created.name());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->SerializeAsString(), created.SerializeAsString());
}

TEST_F(CliTest, RetryWithTheSameRequestIdCreatesOnce) {
  std::vector<std::string> args = {"create", "--report-type", "hate-incident", "--strand", "disability:actual",
                                   "--perceived-by", "witness", "--channel", "council", "--area", "leicester",
                                   "--narrative", "Mocked in the park.", "--victim-given-name", "Alex",
                                   "--consent", "given", "--recipient", kCityCouncil,
                                   "--request-id", "cli-retry-1", "-o", "json"};
  CommandResult first = Refx(kPolice, args);
  CommandResult second = Refx(kPolice, args);
  ASSERT_EQ(first.exit_code, kExitOk) << first.Describe();
  ASSERT_EQ(second.exit_code, kExitOk) << second.Describe();
  v1::Referral a, b;
  ASSERT_TRUE(ParseJson(first.out, &a).ok());
  ASSERT_TRUE(ParseJson(second.out, &b).ok());
  EXPECT_EQ(a.name(), b.name());
  EXPECT_EQ(server_->Client(kPolice).ListReferrals({})->referrals_size(), 1);
}

TEST_F(CliTest, GetAsRecipientShowsTheNarrative) {
  const v1::Referral created = CreatedByPolice("Spat at on the number 14 bus.");
  ASSERT_FALSE(created.name().empty());
  CommandResult r = Refx(kCityCouncil, {"get", created.name()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Spat at on the number 14 bus.")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(created.name())) << r.Describe();

  // The bare id works too, and JSON round-trips.
  const std::string id = created.name().substr(std::string("referrals/").size());
  CommandResult json = Refx(kCityCouncil, {"get", id, "-o", "json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::Referral got;
  ASSERT_TRUE(ParseJson(json.out, &got).ok()) << json.Describe();
  EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString());
}

TEST_F(CliTest, GetAsAThirdAgencyIsNotFound) {
  const v1::Referral created = CreatedByPolice("Not for Blaby.");
  ASSERT_FALSE(created.name().empty());
  CommandResult r = Refx(kBlaby, {"get", created.name()});
  EXPECT_EQ(r.exit_code, kExitNotFound) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND")) << r.Describe();
  EXPECT_EQ(r.out, "") << r.Describe();
  EXPECT_THAT(r.err, Not(HasSubstr("Not for Blaby."))) << r.Describe();

  CommandResult json = Refx(kBlaby, {"get", created.name(), "-o", "json"});
  EXPECT_EQ(json.exit_code, kExitNotFound) << json.Describe();
  EXPECT_THAT(json.err, HasSubstr("\"code\":\"NOT_FOUND\"")) << json.Describe();
}

// `refx audit subject`: the identifiers come from a file, never a flag.
TEST_F(CliTest, AuditSubjectFindsAPersonsReferralsFromAnIdentifierFile) {
  v1::Referral r = ValidReferral(kCityCouncil);
  r.mutable_victim()->set_phone("07700 900321");
  auto created = server_->Client(kPolice).CreateReferral(r, "subject-cli");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string file = dir_ + "/subject.yaml";
  ASSERT_TRUE(WriteStringToFile(file, "phone: \"+44 7700 900321\"\n"));

  CommandResult table = Refx("llr-information-governance", {"audit", "subject", "--subject-file", file});
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("1 referral about the person"));
  EXPECT_THAT(table.out, HasSubstr(created->name() + "  from agencies/leicestershire-police to "
                                                     "agencies/leicester-city-council"));
  EXPECT_THAT(table.out, HasSubstr("matched on phone"));
  CommandResult json = Refx("llr-information-governance",
                            {"audit", "subject", "--subject-file", file, "--output", "json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.Describe();
  v1::FindSubjectReferralsResponse found;
  ASSERT_TRUE(ParseJson(json.out, &found).ok()) << json.Describe();
  ASSERT_EQ(found.referrals_size(), 1);
  EXPECT_EQ(found.referrals(0).referral(), created->name());

  // A police force may not search; a file without a usable identifier, or
  // with a key the request does not have, is refused.
  CommandResult police = Refx(kPolice, {"audit", "subject", "--subject-file", file});
  EXPECT_EQ(police.exit_code, kExitAuth) << police.Describe();
  ASSERT_TRUE(WriteStringToFile(dir_ + "/vague.yaml", "given_name: Sam\n"));
  CommandResult vague = Refx("llr-information-governance", {"audit", "subject", "--subject-file", dir_ + "/vague.yaml"});
  EXPECT_EQ(vague.exit_code, kExitInvalid) << vague.Describe();
  ASSERT_TRUE(WriteStringToFile(dir_ + "/typo.yaml", "phnoe: \"07700 900321\"\n"));
  CommandResult typo = Refx("llr-information-governance", {"audit", "subject", "--subject-file", dir_ + "/typo.yaml"});
  EXPECT_EQ(typo.exit_code, kExitUsage) << typo.Describe();
  EXPECT_THAT(typo.err, HasSubstr("phnoe"));
  EXPECT_THAT(typo.err, ::testing::Not(HasSubstr("900321")));
}

TEST_F(CliTest, ListAsJsonContainsTheRecipientsReferral) {
  const v1::Referral a = CreatedByPolice("First.");
  const v1::Referral b = CreatedByPolice("Second.");
  CommandResult r = Refx(kCityCouncil, {"list", "--output", "json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  v1::ListReferralsResponse page;
  ASSERT_TRUE(ParseJson(r.out, &page).ok()) << r.Describe();
  std::vector<std::string> names;
  for (const auto& referral : page.referrals()) names.push_back(referral.name());
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(a.name(), b.name()));

  // The table lists them too; Blaby sees none.
  CommandResult table = Refx(kCityCouncil, {"list"});
  ASSERT_EQ(table.exit_code, kExitOk) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr(a.name()));
  EXPECT_THAT(table.out, StartsWith("NAME"));
  CommandResult none = Refx(kBlaby, {"list"});
  EXPECT_EQ(none.exit_code, kExitOk) << none.Describe();
  EXPECT_THAT(none.out, Not(HasSubstr("referrals/"))) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("no referrals found")) << none.Describe();
}

TEST_F(CliTest, ListAllFollowsEveryPage) {
  for (int i = 0; i < 5; ++i) CreatedByPolice(absl::StrCat("Page ", i));
  CommandResult r = Refx(kCityCouncil, {"list", "--page-size", "2", "--all", "-o", "json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  v1::ListReferralsResponse all;
  ASSERT_TRUE(ParseJson(r.out, &all).ok()) << r.Describe();
  EXPECT_EQ(all.referrals_size(), 5);
  EXPECT_EQ(all.next_page_token(), "");
}

TEST_F(CliTest, CreateFromYamlFileWithAFlagOnTop) {
  const std::string file = dir_ + "/referral.yaml";
  ASSERT_TRUE(WriteStringToFile(file,
                                "report_type: HATE_CRIME\n"
                                "strands:\n"
                                "  - {strand: other_group, basis: PERCEIVED, other_group: goths}\n"
                                "perceived_by: PERCEIVED_BY_VICTIM\n"
                                "reporting_channel: REPORTING_CHANNEL_ONLINE_FORM\n"
                                "area: leicester\n"
                                "incident_narrative: |\n"
                                "  Followed home from the station.\n"
                                "  Called names all the way.\n"
                                "victim:\n"
                                "  given_name: Robin\n"
                                "  address: {lines: [1 High Street], town: Leicester}\n"
                                "  consent: {status: GIVEN}\n"
                                "recipient_agencies: [agencies/leicester-city-council]\n"));
  CommandResult r = Refx(kPolice, {"create", "--from-file", file, "--risk", "high", "-o", "json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  v1::Referral created;
  ASSERT_TRUE(ParseJson(r.out, &created).ok()) << r.Describe();
  EXPECT_EQ(created.incident_narrative(), "Followed home from the station.\nCalled names all the way.\n");
  EXPECT_EQ(created.strands(0).other_group(), "goths");
  EXPECT_EQ(created.victim().address().town(), "Leicester");
  EXPECT_EQ(created.risk_level(), v1::RISK_LEVEL_HIGH);  // The flag on top of the file.
  auto stored = server_->Client(kCityCouncil).GetReferral(created.name());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->victim().given_name(), "Robin");
}

TEST_F(CliTest, FromFileWithAnUnknownKeyIsAUsageError) {
  const std::string file = dir_ + "/typo.yaml";
  ASSERT_TRUE(WriteStringToFile(file, "area: leicester\nvictim: {given_nmae: Robin}\n"));
  CommandResult r = Refx(kPolice, {"create", "--from-file", file});
  EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("victim.given_nmae")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(file)) << r.Describe();
  EXPECT_EQ(server_->Client(kPolice).ListReferrals({})->referrals_size(), 0);
}

// A report the police screened out under the NCHI Code: sent with the flag,
// read back by the police, and refused with a subject named.
TEST_F(CliTest, CreateAScreenedOutIncident) {
  const std::vector<std::string> incident = {"create", "--report-type", "hate-incident", "--strand", "race:perceived",
                                             "--perceived-by", "victim", "--channel", "police", "--area", "leicester",
                                             "--narrative", "Shouted at.", "--victim-given-name", "Sam", "--consent",
                                             "given", "--recipient", kCityCouncil, "--nchi-screened-out", "trivial"};
  std::vector<std::string> args = incident;
  args.insert(args.end(), {"--output", "json"});
  CommandResult r = Refx(kPolice, args);
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  v1::Referral created;
  ASSERT_TRUE(ParseJson(r.out, &created).ok()) << r.Describe();
  EXPECT_EQ(created.nchi_screened_out(), v1::NCHI_SCREENED_OUT_TRIVIAL);
  EXPECT_EQ(created.recording_regime().regime(), v1::NCHI_COP_2023);

  const std::string file = dir_ + "/screened.yaml";
  ASSERT_TRUE(WriteStringToFile(file, "subjects:\n  - description: tall\n"));
  args = incident;
  args.insert(args.end(), {"--from-file", file, "--request-id", "screened-subject-1"});
  r = Refx(kPolice, args);
  EXPECT_EQ(r.exit_code, kExitInvalid) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("field referral.subjects")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("screened out")) << r.Describe();

  r = Refx(kPolice, {"create", "--nchi-screened-out", "rude"});
  EXPECT_EQ(r.exit_code, kExitUsage) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("irrational")) << r.Describe();
}

TEST_F(CliTest, InvalidCreateExitsFiveNamingTheField) {
  CommandResult r = Refx(kPolice, {"create", "--report-type", "hate-crime", "--strand", "race:perceived",
                                   "--perceived-by", "victim", "--channel", "police", "--area", "atlantis",
                                   "--narrative", "Somewhere.", "--victim-given-name", "Sam", "--consent",
                                   "given", "--recipient", kCityCouncil, "--request-id", "bad-area-1"});
  EXPECT_EQ(r.exit_code, kExitInvalid) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("field referral.area")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("request id: bad-area-1")) << r.Describe();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(server_->Client(kPolice).ListReferrals({})->referrals_size(), 0);
}

TEST_F(CliTest, ConnectionFromEnvironmentVariables) {
  const TestPki& pki = server_->pki();
  std::map<std::string, std::optional<std::string>> env = {
      {"REFX_SERVER", Address()},
      {"REFX_CA_FILE", pki.root_ca_pem_path()},
      {"REFX_CERT_FILE", pki.agency_cert_chain_path(kCityCouncil)},
      {"REFX_KEY_FILE", pki.agency_key_path(kCityCouncil)},
  };
  CommandResult r = RefxBare({"whoami"}, env);
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("agencies/leicester-city-council")) << r.Describe();

  // Flags win over the environment.
  CommandResult flags = RefxBare({"whoami", "--cert-file", pki.agency_cert_chain_path(kBlaby), "--key-file",
                                  pki.agency_key_path(kBlaby)},
                                 env);
  ASSERT_EQ(flags.exit_code, kExitOk) << flags.Describe();
  EXPECT_THAT(flags.out, HasSubstr("agencies/blaby-district-council")) << flags.Describe();
}

TEST_F(CliTest, ConnectionFromAProfileFileWithRelativePaths) {
  // The profile file and its certificates in one directory; paths in the
  // file are relative to it, and refx runs from elsewhere.
  const TestPki& pki = server_->pki();
  const std::string profile_dir = dir_ + "/profile";
  std::filesystem::create_directories(profile_dir + "/certs");
  namespace fs = std::filesystem;
  fs::copy_file(pki.root_ca_pem_path(), profile_dir + "/certs/root-ca.pem");
  fs::copy_file(pki.agency_cert_chain_path(kBlaby), profile_dir + "/certs/blaby.pem");
  fs::copy_file(pki.agency_key_path(kBlaby), profile_dir + "/certs/blaby.key");
  fs::copy_file(pki.agency_cert_chain_path(kPolice), profile_dir + "/certs/police.pem");
  fs::copy_file(pki.agency_key_path(kPolice), profile_dir + "/certs/police.key");
  const std::string profile = profile_dir + "/config.yaml";
  ASSERT_TRUE(WriteStringToFile(profile, absl::StrCat("default_profile: blaby\n"
                                                      "profiles:\n"
                                                      "  blaby:\n"
                                                      "    server: ", Address(), "\n"
                                                      "    ca_file: certs/root-ca.pem\n"
                                                      "    cert_file: certs/blaby.pem\n"
                                                      "    key_file: certs/blaby.key\n"
                                                      "  police:\n"
                                                      "    server: ", Address(), "\n"
                                                      "    ca_file: certs/root-ca.pem\n"
                                                      "    cert_file: certs/police.pem\n"
                                                      "    key_file: certs/police.key\n"
                                                      "    timeout: 5s\n")));
  const std::string elsewhere = MakeTempDir("cli-cwd");
  CommandResult r = RefxBare({"--config", profile, "whoami"}, {}, elsewhere);
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("agencies/blaby-district-council")) << r.Describe();

  CommandResult chosen = RefxBare({"--config", profile, "--profile", "police", "whoami"}, {}, elsewhere);
  ASSERT_EQ(chosen.exit_code, kExitOk) << chosen.Describe();
  EXPECT_THAT(chosen.out, HasSubstr("agencies/leicestershire-police")) << chosen.Describe();

  // REFX_CONFIG names the same file.
  CommandResult env = RefxBare({"whoami"}, {{"REFX_CONFIG", profile}}, elsewhere);
  ASSERT_EQ(env.exit_code, kExitOk) << env.Describe();
  EXPECT_THAT(env.out, HasSubstr("agencies/blaby-district-council")) << env.Describe();

  CommandResult missing = RefxBare({"--config", profile, "--profile", "nobody", "whoami"}, {}, elsewhere);
  EXPECT_EQ(missing.exit_code, kExitUsage) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("nobody")) << missing.Describe();
  std::filesystem::remove_all(elsewhere);
}

TEST_F(CliTest, ExpiredClientCertificateIsExplained) {
  auto expired = server_->pki().Issue(kPolice, Variant::kExpired);
  ASSERT_TRUE(expired.ok()) << expired.status();
  const std::string cert = dir_ + "/expired.pem";
  const std::string key = dir_ + "/expired.key";
  ASSERT_TRUE(WriteStringToFile(cert, expired->cert_chain_pem));
  ASSERT_TRUE(WriteStringToFile(key, expired->key_pem));
  CommandResult r = RefxBare({"--server", Address(), "--ca-file", server_->pki().root_ca_pem_path(),
                              "--cert-file", cert, "--key-file", key, "whoami"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("expired")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(cert)) << r.Describe();
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, WrongCaFileSaysTheServerIsNotTrusted) {
  // A separate partnership PKI: its root never signed this server.
  auto foreign = TestPki::Create(dir_ + "/foreign-pki", "llr.refx.example", {kPolice});
  ASSERT_TRUE(foreign.ok()) << foreign.status();
  const std::string wrong_ca = (*foreign)->root_ca_pem_path();
  const TestPki& pki = server_->pki();
  CommandResult r = RefxBare({"--server", Address(), "--ca-file", wrong_ca, "--cert-file",
                              pki.agency_cert_chain_path(kPolice), "--key-file", pki.agency_key_path(kPolice),
                              "whoami"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("server's certificate")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("not trusted")) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(wrong_ca)) << r.Describe();
}

TEST_F(CliTest, UnreachableServerIsExplained) {
  const TestPki& pki = server_->pki();
  // Port 1 on loopback: nothing listens there, the connection is refused.
  CommandResult r = RefxBare({"--server", "127.0.0.1:1", "--ca-file", pki.root_ca_pem_path(), "--cert-file",
                              pki.agency_cert_chain_path(kPolice), "--key-file", pki.agency_key_path(kPolice),
                              "--timeout", "5s", "whoami"});
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("not reachable at 127.0.0.1:1")) << r.Describe();
}

TEST_F(CliTest, LocalMistakesAreUsageErrors) {
  CommandResult unknown = Refx(kPolice, {"whoami", "--no-such-flag"});
  EXPECT_EQ(unknown.exit_code, kExitUsage) << unknown.Describe();

  const std::string absent = dir_ + "/absent.pem";
  CommandResult no_cert = RefxBare({"--server", Address(), "--ca-file", server_->pki().root_ca_pem_path(),
                                    "--cert-file", absent, "--key-file", absent, "whoami"});
  EXPECT_EQ(no_cert.exit_code, kExitUsage) << no_cert.Describe();
  EXPECT_THAT(no_cert.err, HasSubstr(absent)) << no_cert.Describe();
  EXPECT_THAT(no_cert.err, HasSubstr("--cert-file")) << no_cert.Describe();

  CommandResult bad_enum = Refx(kPolice, {"create", "--report-type", "hate-crimes"});
  EXPECT_EQ(bad_enum.exit_code, kExitUsage) << bad_enum.Describe();

  CommandResult no_subcommand = Refx(kPolice, {});
  EXPECT_EQ(no_subcommand.exit_code, kExitUsage) << no_subcommand.Describe();
}

TEST_F(CliTest, HelpDocumentsExitCodes) {
  CommandResult r = RefxBare({"--help"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("EXIT CODES")) << r.Describe();
  for (const char* line : {"0  success", "2  usage error", "3  NOT_FOUND", "4  UNAUTHENTICATED",
                           "5  INVALID_ARGUMENT", "6  UNAVAILABLE", "7  ALREADY_EXISTS"}) {
    EXPECT_THAT(r.out, HasSubstr(line)) << r.Describe();
  }
  for (const char* sub : {"whoami", "create", "get", "list"}) EXPECT_THAT(r.out, HasSubstr(sub));

  CommandResult create_help = RefxBare({"create", "--help"});
  EXPECT_EQ(create_help.exit_code, kExitOk) << create_help.Describe();
  EXPECT_THAT(create_help.out, HasSubstr("--from-file")) << create_help.Describe();
  EXPECT_THAT(create_help.out, HasSubstr("hate-crime")) << create_help.Describe();
}

}  // namespace
}  // namespace refx::testing
