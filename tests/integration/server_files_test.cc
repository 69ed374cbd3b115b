// The server's files and keys, as an operator with file access (or a careless
// umask) would leave them: the database and its WAL/SHM are owner-only
// whatever the umask; a secret others can read is refused at start; a lost
// key is never silently replaced while data made with it exists.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

int ModeOf(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return -1;
  return static_cast<int>(info.st_mode & 07777);
}

// Writes `bytes` to `path` as an owner-only secret.
void WriteSecret(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// Sets the process umask for one scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }

 private:
  mode_t previous_;
};

TEST(ServerFilesTest, DatabaseAndItsWalAreOwnerOnlyWhateverTheUmask) {
  for (const mode_t mask : {mode_t{0000}, mode_t{0022}}) {
    SCOPED_TRACE(absl::StrCat("umask ", mask));
    ScopedUmask umask(mask);
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "one").ok());
    const std::string db = (*server)->config().storage().sqlite_path();
    for (const std::string& file : {db, db + "-wal", db + "-shm"}) {
      ASSERT_TRUE(fs::exists(file)) << file;
      EXPECT_EQ(ModeOf(file), 0600) << file;
    }
    const std::string dir = fs::path(db).parent_path().string();
    for (const char* secret : {"audit.key", "audit-signing.key", "victim-token.key", "data-encryption.key"}) {
      EXPECT_EQ(ModeOf(dir + "/" + secret), 0600) << secret;
    }
    EXPECT_EQ(ModeOf(dir + "/audit-signing.pub"), 0644);
  }
}

TEST(ServerFilesTest, ADatabaseFoundWiderIsNarrowed) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "one").ok());
  const std::string db = (*server)->config().storage().sqlite_path();
  (*server)->Stop();
  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(ModeOf(db), 0600);
}

// Every secret of the server, made readable by others: each start is
// refused, naming the setting, the file and the fix.
TEST(ServerFilesTest, SecretsOthersCanReadAreRefusedAtStart) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const config::v1::ServerConfig config = (*server)->config();
  (*server)->Stop();
  const std::pair<const char*, std::string> kSecrets[] = {
      {"tls.server_key_file", config.tls().server_key_file()},
      {"audit_key_file", config.audit_key_file()},
      {"audit_signing_key_file", config.audit_signing_key_file()},
      {"victim_token_key_file", config.victim_token_key_file()},
      {"storage.encryption_key_file", config.storage().encryption_key_file()},
  };
  for (const auto& [setting, path] : kSecrets) {
    SCOPED_TRACE(setting);
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0) << path;
    absl::Status started = (*server)->Restart();
    EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
    EXPECT_THAT(started.message(), HasSubstr(setting));
    EXPECT_THAT(started.message(), HasSubstr("chmod 600"));
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  }
  EXPECT_TRUE((*server)->Restart().ok());
}

// A lost audit HMAC key is not replaced while the log holds events keyed
// with it; a lost signing key is not replaced while the head is signed with
// it, and the attempt leaves no new key behind.
TEST(ServerFilesTest, LostKeysAreNotReplacedUnderTheDataMadeWithThem) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "one").ok());
  const config::v1::ServerConfig config = (*server)->config();
  (*server)->Stop();

  const std::string audit_key = config.audit_key_file();
  fs::rename(audit_key, audit_key + ".saved");
  absl::Status without_audit_key = (*server)->Restart();
  EXPECT_EQ(without_audit_key.code(), absl::StatusCode::kFailedPrecondition) << without_audit_key;
  EXPECT_THAT(without_audit_key.message(), HasSubstr("audit_key_file"));
  EXPECT_THAT(without_audit_key.message(), HasSubstr("restore"));
  EXPECT_FALSE(fs::exists(audit_key));
  fs::rename(audit_key + ".saved", audit_key);

  const std::string signing_key = config.audit_signing_key_file();
  fs::rename(signing_key, signing_key + ".saved");
  absl::Status without_signing_key = (*server)->Restart();
  EXPECT_EQ(without_signing_key.code(), absl::StatusCode::kFailedPrecondition) << without_signing_key;
  EXPECT_THAT(without_signing_key.message(), HasSubstr("head"));
  EXPECT_FALSE(fs::exists(signing_key)) << "a key made for a database that refused it was left behind";
  fs::rename(signing_key + ".saved", signing_key);

  // Encryption at rest: the key-encryption key lost, replaced by another,
  // or cut short. Each start is refused, naming the setting and what to do,
  // and no key is made over the sealed data.
  const std::string kek = config.storage().encryption_key_file();
  fs::rename(kek, kek + ".saved");
  absl::Status without_kek = (*server)->Restart();
  EXPECT_EQ(without_kek.code(), absl::StatusCode::kFailedPrecondition) << without_kek;
  EXPECT_THAT(without_kek.message(), HasSubstr("storage.encryption_key_file"));
  EXPECT_THAT(without_kek.message(), HasSubstr("restore"));
  EXPECT_FALSE(fs::exists(kek)) << "a key was made over data sealed under another";
  WriteSecret(kek, std::string(32, 'w'));
  absl::Status wrong_kek = (*server)->Restart();
  EXPECT_EQ(wrong_kek.code(), absl::StatusCode::kFailedPrecondition) << wrong_kek;
  EXPECT_THAT(wrong_kek.message(), HasSubstr("is wrapped by"));
  WriteSecret(kek, std::string(31, 'w'));
  absl::Status short_kek = (*server)->Restart();
  EXPECT_EQ(short_kek.code(), absl::StatusCode::kFailedPrecondition) << short_kek;
  EXPECT_THAT(short_kek.message(), HasSubstr("exactly 32 bytes"));
  fs::rename(kek + ".saved", kek);

  // Rotation: a new key in the file and the old one listed as previous.
  // The server starts, re-wraps, and serves; then the new key alone does.
  const std::string old_kek = kek + ".old";
  fs::rename(kek, old_kek);
  WriteSecret(kek, std::string(32, 'n'));
  config::v1::ServerConfig rotating = config;
  rotating.mutable_storage()->add_previous_encryption_key_files(old_kek);
  absl::Status rotated = (*server)->Restart(rotating);
  ASSERT_TRUE(rotated.ok()) << rotated;
  auto listed = (*server)->Client(kPolice).ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->referrals_size(), 1);
  ASSERT_TRUE((*server)->Restart(config).ok());
  EXPECT_EQ((*server)->Client(kPolice).ListReferrals(v1::ListReferralsRequest())->referrals_size(), 1);
  (*server)->Stop();

  EXPECT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE((*server)->Client(kCityCouncil).WhoAmI().ok());
}

}  // namespace
}  // namespace refx::testing
