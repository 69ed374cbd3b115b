// The partnership CA as an administrator runs it: the real `refx-admin`
// binary as a child process (ca init, server issue, agency issue, agency
// revoke, cert list, crl publish, log verify, dev-pki), and a real
// refx-server subprocess configured with what it published.
//
// What each test proves:
//  - `ca init` keys are encrypted PEM, mode 0600; a passphrase file or CA key
//    that group or others can read is refused, with the fix in the message.
//  - A CSR asking for another agency (subject and URI SAN) still gets the
//    registry's identity: the issued certificate is parsed and checked.
//  - `agency revoke` killed between its ledger write and publication, then
//    rerun, leaves ledger, signed list and CRL consistent; refx-server
//    configured with that list refuses the revoked agency and accepts another.
//  - `cert list --expiring-within` filters; every subcommand's --help exits 0.
//  - `dev-pki` writes an empty, valid, signed revocation list.
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <tuple>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/crl.h"
#include "auth/pki/csr.h"
#include "auth/pki/partnership_ca.h"
#include "auth/pki/revocation_list.h"
#include "core/partnership.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/process/process_helpers.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassphrase[] = "correct horse battery staple";      // the issuing CA key's
constexpr char kRootPassphrase[] = "offline root, kept in the safe";  // the root CA key's

int ModeOf(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return -1;
  return static_cast<int>(info.st_mode & 07777);
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

// `cert list --output json`, as serial -> entry.
std::map<std::string, google::protobuf::Struct> ParseCertList(const std::string& json) {
  std::map<std::string, google::protobuf::Struct> by_serial;
  google::protobuf::Struct root;
  auto status = google::protobuf::util::JsonStringToMessage(json, &root);
  EXPECT_TRUE(status.ok()) << status << "\n" << json;
  if (!status.ok()) return by_serial;
  const auto it = root.fields().find("certificates");
  EXPECT_TRUE(it != root.fields().end()) << json;
  if (it == root.fields().end()) return by_serial;
  for (const auto& v : it->second.list_value().values()) {
    const auto& s = v.struct_value();
    by_serial[s.fields().at("serial").string_value()] = s;
  }
  return by_serial;
}

std::string Field(const google::protobuf::Struct& s, const std::string& name) {
  const auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

std::set<std::string> CrlFiles(const std::string& dir) {
  std::set<std::string> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.insert(e.path().string());
  return files;
}

class AdminCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The TestServer writes the test partnership (LLR plus a suspended
    // agency) and a complete server config; its in-process server is not used.
    auto source = TestServer::Start();
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    source_->Stop();
    partnership_ = source_->config().partnership_file();
    auto partnership = core::Partnership::Load(partnership_);
    ASSERT_TRUE(partnership.ok()) << partnership.status();
    trust_domain_ = (*partnership)->trust_domain();
    dir_ = MakeTempDir("admin-ca");
    ca_dir_ = dir_ + "/ca";
    passphrase_file_ = dir_ + "/passphrase";
    ASSERT_TRUE(WriteStringToFile(passphrase_file_, std::string(kPassphrase) + "\n"));
    ASSERT_EQ(chmod(passphrase_file_.c_str(), 0600), 0);
    root_passphrase_file_ = dir_ + "/root-passphrase";
    ASSERT_TRUE(WriteStringToFile(root_passphrase_file_, std::string(kRootPassphrase) + "\n"));
    ASSERT_EQ(chmod(root_passphrase_file_.c_str(), 0600), 0);
  }

  void TearDown() override {
    server_.reset();
    if (source_ == nullptr) return;
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
      std::filesystem::remove_all(source_->directory());
    } else {
      std::fprintf(stderr, "kept for inspection: %s\n", dir_.c_str());
    }
  }

  // refx-admin with the test partnership, passphrase file and CA directory,
  // run in dir_.
  CommandResult Admin(std::vector<std::string> args,
                      const std::map<std::string, std::optional<std::string>>& env = {}) {
    std::vector<std::string> argv = {kAdminBinary,           "--partnership",          partnership_,
                                     "--passphrase-file",    passphrase_file_,         "--root-passphrase-file",
                                     root_passphrase_file_, "--ca-dir",               ca_dir_,
                                     "--operator",           "test-admin"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_, env, absl::Seconds(30), dir_);
  }

  void InitCa() {
    CommandResult r = Admin({"ca", "init", ca_dir_});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }

  // Issues a certificate for `agency` with a key generated by refx-admin,
  // into the dev-pki layout under dir_/pki; returns its serial.
  std::string IssueGenerated(const std::string& agency, int days = 90) {
    std::filesystem::create_directories(dir_ + "/pki/agencies");
    const std::string out = absl::StrCat(dir_, "/pki/agencies/", agency, ".pem");
    CommandResult r = Admin({"agency", "issue", "--agency", agency, "--generate-key", "--days",
                             std::to_string(days), "--out", out});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(ModeOf(absl::StrCat(dir_, "/pki/agencies/", agency, ".key")), 0600);
    auto info = pki::InspectCertificatePem(ReadFileOrEmpty(out));
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->serial_hex : "";
  }

  std::map<std::string, google::protobuf::Struct> CertList(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"cert", "list", "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = Admin(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return ParseCertList(r.out);
  }

  pki::Certificate IssuingCa() {
    auto ca = pki::Certificate::FromPem(ReadFileOrEmpty(ca_dir_ + "/agency-ca.pem"));
    EXPECT_TRUE(ca.ok()) << ca.status();
    return *std::move(ca);
  }

  std::unique_ptr<TestServer> source_;
  std::unique_ptr<ServerProcess> server_;
  std::string partnership_, trust_domain_, dir_, ca_dir_, passphrase_file_, root_passphrase_file_;
};

TEST_F(AdminCaTest, CaInitWritesEncryptedKeysOnlyTheOwnerCanRead) {
  CommandResult r = Admin({"ca", "init", ca_dir_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Next:")) << r.Describe();
  EXPECT_EQ(ModeOf(ca_dir_), 0700);
  for (const auto& [name, passphrase, other] : {std::tuple{"root-ca.key", kRootPassphrase, kPassphrase},
                                                std::tuple{"agency-ca.key", kPassphrase, kRootPassphrase}}) {
    const std::string path = absl::StrCat(ca_dir_, "/", name);
    EXPECT_EQ(ModeOf(path), 0600) << path;
    const std::string pem = ReadFileOrEmpty(path);
    EXPECT_THAT(pem, HasSubstr("-----BEGIN ENCRYPTED PRIVATE KEY-----")) << path;
    EXPECT_THAT(pem, Not(HasSubstr("-----BEGIN PRIVATE KEY-----"))) << path;
    EXPECT_THAT(pem, Not(HasSubstr("-----BEGIN EC PRIVATE KEY-----"))) << path;
    // Useless without the passphrase, usable with it.
    EXPECT_FALSE(pki::PrivateKey::FromPem(pem, "not the passphrase at all").ok()) << path;
    EXPECT_TRUE(pki::PrivateKey::FromPem(pem, passphrase).ok()) << path;
    // Each key has its own passphrase: the other one does not open it.
    EXPECT_FALSE(pki::PrivateKey::FromPem(pem, other).ok()) << path;
  }
  EXPECT_EQ(ModeOf(ca_dir_ + "/ledger.db"), 0600);
  // An empty list, signed by the issuing CA, is published at once.
  auto list = pki::ParseRevocationList(ReadFileOrEmpty(ca_dir_ + "/publish/revocations.txt"), {IssuingCa()});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->revoked.empty());
  EXPECT_EQ(CrlFiles(ca_dir_ + "/publish/crl").size(), 1u);

  // A second init refuses to touch the CA.
  const std::string key_before = ReadFileOrEmpty(ca_dir_ + "/agency-ca.key");
  CommandResult again = Admin({"ca", "init", ca_dir_});
  EXPECT_NE(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("already holds a CA")) << again.Describe();
  EXPECT_EQ(ReadFileOrEmpty(ca_dir_ + "/agency-ca.key"), key_before);

  // A wrong passphrase unlocks nothing.
  ASSERT_TRUE(WriteStringToFile(passphrase_file_, "a wrong but long passphrase\n"));
  CommandResult wrong = Admin({"crl", "publish"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_EQ(CrlFiles(ca_dir_ + "/publish/crl").size(), 1u);
}

// The online issuing key's jobs hold only its passphrase, which cannot
// unlock the offline root: the same passphrase for both is refused, and
// without the root's, root operations fail while issuing ones work.
TEST_F(AdminCaTest, RootAndIssuingKeysHaveSeparatePassphrases) {
  ASSERT_TRUE(WriteStringToFile(root_passphrase_file_, std::string(kPassphrase) + "\n"));
  CommandResult same = Admin({"ca", "init", ca_dir_});
  EXPECT_EQ(same.exit_code, 1) << same.Describe();
  EXPECT_THAT(same.err, HasSubstr("must differ")) << same.Describe();
  EXPECT_FALSE(std::filesystem::exists(ca_dir_ + "/root-ca.key"));
  ASSERT_TRUE(WriteStringToFile(root_passphrase_file_, std::string(kRootPassphrase) + "\n"));
  InitCa();

  // A cron job's view: the issuing passphrase only, no terminal.
  auto issuing_only = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {kAdminBinary, "--partnership", partnership_, "--passphrase-file",
                                     passphrase_file_, "--ca-dir", ca_dir_, "--operator", "cron"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_, {{"REFX_ROOT_CA_PASSPHRASE", std::nullopt}}, absl::Seconds(30), dir_);
  };
  CommandResult publish = issuing_only({"crl", "publish"});
  EXPECT_EQ(publish.exit_code, 0) << publish.Describe();
  CommandResult server = issuing_only({"server", "issue", "--dns", "localhost", "--out", dir_ + "/server"});
  EXPECT_EQ(server.exit_code, 1) << server.Describe();
  EXPECT_THAT(server.err, HasSubstr("root CA passphrase")) << server.Describe();
  // The issuing passphrase given as the root's does not open the root.
  ASSERT_TRUE(WriteStringToFile(root_passphrase_file_, std::string(kPassphrase) + "\n"));
  CommandResult wrong = Admin({"server", "issue", "--dns", "localhost", "--out", dir_ + "/server"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/server.pem"));
}

TEST_F(AdminCaTest, PassphraseFileOthersCanReadIsRefused) {
  for (int mode : {0640, 0604}) {
    SCOPED_TRACE(mode);
    ASSERT_EQ(chmod(passphrase_file_.c_str(), mode), 0);
    CommandResult r = Admin({"ca", "init", ca_dir_});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("passphrase file")) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("chmod 600 ", passphrase_file_))) << r.Describe();
    EXPECT_FALSE(std::filesystem::exists(ca_dir_)) << r.Describe();
  }
}

TEST_F(AdminCaTest, CaKeyOthersCanReadIsRefused) {
  InitCa();
  const std::string key = ca_dir_ + "/agency-ca.key";
  const std::string out = dir_ + "/blaby.pem";
  for (int mode : {0640, 0644}) {
    SCOPED_TRACE(mode);
    ASSERT_EQ(chmod(key.c_str(), mode), 0);
    CommandResult r = Admin({"agency", "issue", "--agency", kBlaby, "--generate-key", "--out", out});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(key)) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("chmod 600")) << r.Describe();
    EXPECT_FALSE(std::filesystem::exists(out)) << r.Describe();
  }
  // The same for the root key (server issue).
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  ASSERT_EQ(chmod((ca_dir_ + "/root-ca.key").c_str(), 0604), 0);
  CommandResult r = Admin({"server", "issue", "--dns", "localhost", "--out", dir_ + "/server"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr(ca_dir_ + "/root-ca.key")) << r.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/server.pem")) << r.Describe();
  // Nothing was recorded either: only the two CAs are in the ledger.
  EXPECT_EQ(CertList().size(), 2u);
}

TEST_F(AdminCaTest, CsrAskingForAnotherAgencyGetsTheRegistryIdentity) {
  InitCa();
  auto key = pki::PrivateKey::Generate();
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string police_uri = absl::StrCat("spiffe://", trust_domain_, "/agency/", kPolice);
  auto csr = pki::CertificateRequest::Create(*key, kPolice, {police_uri});
  ASSERT_TRUE(csr.ok()) << csr.status();
  const std::string csr_path = dir_ + "/blaby.csr";
  ASSERT_TRUE(WriteStringToFile(csr_path, csr->ToPem()));
  const std::string out = dir_ + "/blaby.pem";

  CommandResult r = Admin({"agency", "issue", "--agency", kBlaby, "--csr", csr_path, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("ignored")) << r.Describe();

  auto chain = pki::Certificate::AllFromPem(ReadFileOrEmpty(out));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 2u);  // leaf + issuing CA
  auto info = pki::InspectCertificate(chain->front());
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string blaby_uri = absl::StrCat("spiffe://", trust_domain_, "/agency/", kBlaby);
  EXPECT_THAT(info->uri_sans, ::testing::ElementsAre(blaby_uri));
  EXPECT_THAT(info->subject, HasSubstr(absl::StrCat("CN=", kBlaby)));
  EXPECT_THAT(info->subject, Not(HasSubstr(kPolice)));
  EXPECT_EQ(pki::CheckAgencyCertificateProfile(chain->front(), blaby_uri), absl::OkStatus());
  // The CSR's key was certified (the agency keeps its key) ...
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(chain->front().get()), key->get()), 1);
  // ... and the certificate verifies with the issuing CA as the only anchor,
  // as the server checks it.
  EXPECT_EQ(pki::VerifyCertificate(chain->front(), {}, {IssuingCa()}, pki::ExtendedKeyUsage::kClientAuth,
                                   absl::Now()),
            absl::OkStatus());
  // The ledger records it under the registry's agency.
  auto certs = CertList({"--agency", kBlaby});
  ASSERT_EQ(certs.count(info->serial_hex), 1u);
  EXPECT_EQ(Field(certs[info->serial_hex], "subject_id"), kBlaby);
  EXPECT_TRUE(CertList({"--agency", kPolice}).empty());

  // A CSR whose signature does not verify (proof of possession) is refused.
  std::string tampered = csr->ToPem();
  const size_t at = tampered.find("-----END") - 10;
  tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
  ASSERT_TRUE(WriteStringToFile(csr_path, tampered));
  CommandResult bad = Admin({"agency", "issue", "--agency", kBlaby, "--csr", csr_path, "--out", dir_ + "/x.pem"});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.pem"));
}

TEST_F(AdminCaTest, RevokeInterruptedAfterLedgerWriteThenRerunIsConsistentAndBites) {
  InitCa();
  // Server certificate (root key) and two agencies, in the dev-pki layout
  // ServerProcess expects; leicestershire-police is its readiness probe.
  std::filesystem::create_directories(dir_ + "/pki/agencies");
  CommandResult server_cert =
      Admin({"server", "issue", "--dns", "localhost", "--ip", "127.0.0.1", "--out", dir_ + "/pki/server"});
  ASSERT_EQ(server_cert.exit_code, 0) << server_cert.Describe();
  EXPECT_EQ(ModeOf(dir_ + "/pki/server.key"), 0600);
  std::filesystem::copy_file(ca_dir_ + "/root-ca.pem", dir_ + "/pki/root-ca.pem");
  const std::string police = IssueGenerated(kPolice);
  const std::string council = IssueGenerated(kCityCouncil);
  ASSERT_FALSE(police.empty());
  ASSERT_FALSE(council.empty());

  const std::string list_path = ca_dir_ + "/publish/revocations.txt";
  const std::string crl_dir = ca_dir_ + "/publish/crl";
  const std::string list_before = ReadFileOrEmpty(list_path);
  const std::set<std::string> crls_before = CrlFiles(crl_dir);
  ASSERT_EQ(crls_before.size(), 1u);

  // Killed right after the ledger commit.
  const std::vector<std::string> revoke = {"agency", "revoke", "--serial", council, "--reason", "key-compromise"};
  CommandResult crashed = Admin(revoke, {{"REFX_ADMIN_TEST_CRASH_AFTER_LEDGER_WRITE", "1"}});
  ASSERT_EQ(crashed.exit_code, 86) << crashed.Describe();
  EXPECT_EQ(ReadFileOrEmpty(list_path), list_before) << "published before the crash point?";
  EXPECT_EQ(CrlFiles(crl_dir), crls_before);
  // The ledger has it; `cert list` says the publication is pending.
  EXPECT_EQ(Field(CertList()[council], "status"), "revoked");
  CommandResult pending = Admin({"cert", "list"});
  EXPECT_EQ(pending.exit_code, 0) << pending.Describe();
  EXPECT_THAT(pending.out, HasSubstr("not yet published")) << pending.Describe();

  // The operator reruns the same command: it completes the publication and
  // succeeds (the serial is already revoked; nothing is revoked twice).
  CommandResult rerun = Admin(revoke);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.Describe();
  EXPECT_THAT(rerun.out, HasSubstr("Completed a publication")) << rerun.Describe();
  EXPECT_THAT(rerun.out, HasSubstr("already revoked")) << rerun.Describe();

  // Ledger.
  auto certs = CertList();
  EXPECT_EQ(Field(certs[council], "status"), "revoked");
  EXPECT_EQ(Field(certs[council], "revocation_reason"), "key-compromise");
  EXPECT_EQ(Field(certs[police], "status"), "valid");
  CommandResult listed = Admin({"cert", "list"});
  EXPECT_THAT(listed.out, Not(HasSubstr("not yet published"))) << listed.Describe();
  // Signed list: names the serial, and only it.
  auto list = pki::ParseRevocationList(ReadFileOrEmpty(list_path), {IssuingCa()});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->revoked.size(), 1u);
  EXPECT_EQ(list->revoked[0].serial_hex, council);
  EXPECT_EQ(list->revoked[0].reason, "key-compromise");
  EXPECT_GT(list->next_update, absl::Now() + absl::Hours(24 * 14));
  // CRL: exactly one new <hash>.rN, listing the serial; the old one untouched.
  const std::set<std::string> crls_after = CrlFiles(crl_dir);
  ASSERT_EQ(crls_after.size(), 2u);
  std::string new_crl;
  for (const auto& f : crls_after) {
    if (!crls_before.count(f)) new_crl = f;
  }
  ASSERT_FALSE(new_crl.empty());
  EXPECT_THAT(new_crl, ::testing::EndsWith(".r1"));
  auto crl = pki::InspectCrlPem(ReadFileOrEmpty(new_crl));
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_THAT(crl->revoked_serials_hex, ::testing::ElementsAre(council));
  EXPECT_EQ(crl->crl_number, list->sequence);
  // The action log's hash chain holds.
  CommandResult verify = Admin({"log", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();

  // refx-server with this CA's issuing certificate and list: the revoked
  // agency is refused, the other accepted (Start probes with police).
  config::v1::ServerConfig c = source_->config();
  c.mutable_storage()->set_sqlite_path(dir_ + "/server.db");
  c.mutable_tls()->set_server_cert_file(dir_ + "/pki/server.pem");
  c.mutable_tls()->set_server_key_file(dir_ + "/pki/server.key");
  c.mutable_tls()->set_client_ca_file(ca_dir_ + "/agency-ca.pem");
  c.mutable_tls()->set_revocation_list_file(list_path);
  // No tls.crl_directory: with it, OpenSSL refuses the certificate first
  // (X509_V_ERR 23, "certificate revoked") and the list is never consulted;
  // this test is about the list.
  const std::string config_path = dir_ + "/server.yaml";
  ASSERT_TRUE(WriteStringToFile(config_path, ToJson(c)));
  ServerProcess::Options options;
  options.config_path = config_path;
  options.log_dir = dir_;
  options.pki_directory = dir_ + "/pki";
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);

  auto accepted = server_->Client(kPolice).WhoAmI();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  auto refused = server_->Client(kCityCouncil, absl::Seconds(5)).WhoAmI();
  EXPECT_FALSE(refused.ok()) << "revoked certificate " << council << " was accepted";
  // The server says why (bounded wait: the log line may trail the refusal).
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline && !absl::StrContains(server_->Stderr(), council)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string log = server_->Stderr();
  EXPECT_THAT(log, HasSubstr("event=tls_handshake_refused reason=CERTIFICATE_REVOKED stage=verifier")) << log;
  EXPECT_THAT(log, HasSubstr(absl::StrCat("serial ", council, " was revoked"))) << log;
}

TEST_F(AdminCaTest, RevokeByAgencyRerunIsIdempotent) {
  InitCa();
  const std::string first = IssueGenerated(kBlaby);
  CommandResult r = Admin({"agency", "revoke", "--agency", kBlaby, "--reason", "affiliation-changed"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(first)) << r.Describe();
  const std::set<std::string> crls = CrlFiles(ca_dir_ + "/publish/crl");
  CommandResult again = Admin({"agency", "revoke", "--agency", kBlaby, "--reason", "affiliation-changed"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("already revoked")) << again.Describe();
  EXPECT_EQ(CrlFiles(ca_dir_ + "/publish/crl"), crls) << "nothing new to publish";
  // An agency that never had a certificate is still an error.
  CommandResult none = Admin({"agency", "revoke", "--agency", kPolice, "--reason", "affiliation-changed"});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("no certificate")) << none.Describe();
}

TEST_F(AdminCaTest, CertListExpiringWithinFilters) {
  InitCa();
  const std::string soon = IssueGenerated(kPolice, 10);
  const std::string later = IssueGenerated(kCityCouncil, 200);
  const std::string revoked = IssueGenerated(kBlaby, 5);
  CommandResult rv = Admin({"agency", "revoke", "--serial", revoked, "--reason", "superseded"});
  ASSERT_EQ(rv.exit_code, 0) << rv.Describe();

  auto all = CertList();
  EXPECT_EQ(all.size(), 5u);  // root, issuing CA, three agencies
  auto within30 = CertList({"--expiring-within", "30d"});
  EXPECT_EQ(within30.size(), 1u);
  EXPECT_EQ(within30.count(soon), 1u);
  auto within300 = CertList({"--expiring-within", "300d"});
  EXPECT_EQ(within300.size(), 2u);
  EXPECT_EQ(within300.count(soon), 1u);
  EXPECT_EQ(within300.count(later), 1u);
  EXPECT_EQ(within300.count(revoked), 0u) << "a revoked certificate is not due for renewal";
  EXPECT_TRUE(CertList({"--expiring-within", "239h"}).empty()) << "it ends in 10 days, not within 239 hours";
  // Filters combine.
  EXPECT_TRUE(CertList({"--expiring-within", "300d", "--agency", kBlaby}).empty());
  // Table output counts what it shows.
  CommandResult table = Admin({"cert", "list", "--expiring-within", "30d"});
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr(soon)) << table.Describe();
  EXPECT_THAT(table.out, Not(HasSubstr(later))) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("1 certificate(s) valid and expiring within 30d")) << table.Describe();
  // A window it cannot read is a usage error.
  CommandResult bad = Admin({"cert", "list", "--expiring-within", "soon"});
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
}

TEST_F(AdminCaTest, EverySubcommandHelpExitsZero) {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"dev-pki"},
      {"ca", "init"},
      {"server", "issue"},
      {"agency", "issue"},
      {"agency", "renew"},
      {"agency", "revoke"},
      {"cert", "list"},
      {"crl", "publish"},
      {"log", "verify"},
  };
  for (const auto& command : commands) {
    std::vector<std::string> argv = {kAdminBinary};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.push_back("--help");
    CommandResult r = RunCommand(argv, dir_, {}, absl::Seconds(10), dir_);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("--help")) << r.Describe();
    if (!command.empty()) {
      EXPECT_THAT(r.out, HasSubstr(command.back())) << r.Describe();
    }
    EXPECT_TRUE(r.err.empty()) << r.Describe();
  }
}

TEST_F(AdminCaTest, DevPkiWritesAnEmptySignedRevocationList) {
  const std::string dev = dir_ + "/dev-pki";
  CommandResult r = RunCommand({kAdminBinary, "dev-pki", dev, "--partnership", partnership_}, dir_, {},
                               absl::Seconds(30), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("revocations.txt")) << r.Describe();
  auto ca = pki::Certificate::FromPem(ReadFileOrEmpty(dev + "/agency-ca.pem"));
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto list = pki::ParseRevocationList(ReadFileOrEmpty(dev + "/revocations.txt"), {*ca});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->revoked.empty());
  EXPECT_GT(list->next_update, absl::Now() + absl::Hours(24 * 80));

  // A server configured with it (as config/dev-server.yaml is) serves.
  config::v1::ServerConfig c = source_->config();
  c.mutable_storage()->set_sqlite_path(dir_ + "/dev.db");
  c.mutable_tls()->set_server_cert_file(dev + "/server.pem");
  c.mutable_tls()->set_server_key_file(dev + "/server.key");
  c.mutable_tls()->set_client_ca_file(dev + "/agency-ca.pem");
  c.mutable_tls()->set_revocation_list_file(dev + "/revocations.txt");
  ASSERT_TRUE(WriteStringToFile(dir_ + "/dev.yaml", ToJson(c)));
  ServerProcess::Options options;
  options.config_path = dir_ + "/dev.yaml";
  options.log_dir = dir_;
  options.pki_directory = dev;
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
}

}  // namespace
}  // namespace refx::testing
