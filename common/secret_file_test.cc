#include "common/secret_file.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx {
namespace {

using ::testing::HasSubstr;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/refx-secret-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    path_ = std::string(dir) + "/key";
    std::ofstream(path_) << "secret";
  }
  void TearDown() override { std::remove(path_.c_str()); }

  // Runs the check in a child that holds exactly the supplementary groups
  // `groups` (needs CAP_SETGID, so root), and returns whether it passed.
  bool PassesInChildWithGroups(std::vector<gid_t> groups) {
    const pid_t child = fork();
    if (child == 0) {
      if (setgroups(groups.size(), groups.data()) != 0) _exit(2);
      if (setegid(groups.empty() ? 0 : groups.front()) != 0) _exit(2);
      _exit(CheckSecretFileMode("test_key", path_).ok() ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_NE(WEXITSTATUS(status), 2) << "setgroups failed";
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::string path_;
};

TEST_F(SecretFileTest, OwnerOnlyPasses) {
  ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(CheckSecretFileMode("test_key", path_).ok());
  ASSERT_EQ(chmod(path_.c_str(), 0400), 0);
  EXPECT_TRUE(CheckSecretFileMode("test_key", path_).ok());
}

TEST_F(SecretFileTest, OthersOrGroupWriteAreRefusedNamingTheFix) {
  for (mode_t mode : {0644, 0604, 0660, 0620, 0610}) {
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
    absl::Status s = CheckSecretFileMode("test_key", path_);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(s.message(), HasSubstr("test_key"));
    EXPECT_THAT(s.message(), HasSubstr("chmod 600 " + path_));
  }
}

TEST_F(SecretFileTest, MissingAndNonRegularFilesAreRefused) {
  absl::Status missing = CheckSecretFileMode("test_key", path_ + ".absent");
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.message(), HasSubstr("cannot be read"));
  const std::string dir = path_.substr(0, path_.rfind('/'));
  EXPECT_EQ(CheckSecretFileMode("test_key", dir).code(), absl::StatusCode::kFailedPrecondition);
}

// A Kubernetes Secret mounted for a non-root pod: mode 0440, group = fsGroup.
TEST_F(SecretFileTest, GroupReadPassesOnlyForAGroupOfThisProcessOtherThanRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change groups (CI runs as root)";
  constexpr gid_t kPodGroup = 4242;
  ASSERT_EQ(chown(path_.c_str(), static_cast<uid_t>(-1), kPodGroup), 0);
  ASSERT_EQ(chmod(path_.c_str(), 0440), 0);
  EXPECT_TRUE(PassesInChildWithGroups({kPodGroup}));
  EXPECT_FALSE(PassesInChildWithGroups({4343}));
  // Root's group never counts: everyone's files can be in it.
  ASSERT_EQ(chown(path_.c_str(), static_cast<uid_t>(-1), 0), 0);
  EXPECT_FALSE(PassesInChildWithGroups({0}));
}

}  // namespace
}  // namespace refx
