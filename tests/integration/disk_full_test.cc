// The disk under the database fills up, under a running server (issue 17):
// the SQLite file lives on a tmpfs of a few megabytes that creates fill.
// No acknowledged create is lost (each is read back whole afterwards), no
// create is answered OK after its commit failed (the failures are
// UNAVAILABLE and store nothing), health turns NOT_SERVING, and once space
// returns (the tmpfs grown) the server serves and stores again by itself.
//
// Needs root (mount); skipped otherwise. CI runs as root.
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    disk_ = MakeTempDir("disk-full");
    ASSERT_EQ(mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=3m,mode=0700"), 0) << "mount: " << errno;
    mounted_ = true;
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(disk_.c_str(), MNT_DETACH);
  }
  std::string disk_;
  bool mounted_ = false;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DiskFullTest, NoAcknowledgedWriteIsLostAndTheServerRecoversWhenSpaceReturns) {
  TestServer::Options options;
  options.customize = [&](config::v1::ServerConfig* c) {
    c->mutable_storage()->set_sqlite_path(disk_ + "/refx.db");
  };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  auto channel = server_->Channel(server_->pki().Agency(kPolice));
  client::ReferralClient police = server_->Client(kPolice);
  ASSERT_TRUE(HealthServing(channel));

  // Fill the disk: referrals with 30 KB narratives of their own until one
  // is refused, then smaller ones into what space is left, to the brim (a
  // disk with room for a small write is not full: the audit events of
  // refused calls would still commit, and the server would rightly serve).
  std::map<std::string, std::string> acknowledged;  // name -> narrative
  absl::Status refused;
  int sent = 0;
  for (const size_t size : {30000, 2000, 100}) {
    refused = absl::OkStatus();
    for (int i = 0; i < 400 && refused.ok(); ++i, ++sent) {
      v1::Referral r = ValidReferral();
      const std::string narrative = absl::StrCat("narrative ", sent, " ", std::string(size, 'a' + sent % 26));
      r.set_incident_narrative(narrative);
      auto created = police.CreateReferral(r, absl::StrCat("fill-", sent));
      if (created.ok()) {
        acknowledged[created->name()] = narrative;
      } else {
        refused = created.status();
      }
    }
    ASSERT_FALSE(refused.ok()) << "3 MB never filled up with " << size << "-byte narratives";
    EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  }
  ASSERT_GT(acknowledged.size(), 5u);
  std::printf("disk full after %zu acknowledged creates: %s\n", acknowledged.size(), refused.ToString().c_str());
  // A few more while the disk is full: refused, none answered OK.
  for (int i = 0; i < 5; ++i) {
    v1::Referral r = ValidReferral();
    r.set_incident_narrative(std::string(30000, 'z'));
    auto created = police.CreateReferral(r, absl::StrCat("full-", i));
    EXPECT_FALSE(created.ok()) << "a create was acknowledged on a full disk";
  }
  EXPECT_TRUE(Eventually([&] { return !HealthServing(channel); }, absl::Seconds(30))) << "health stayed SERVING on a full disk";

  // Space returns: the server serves again by itself, and stores again.
  ASSERT_EQ(mount("tmpfs", disk_.c_str(), "tmpfs", MS_REMOUNT, "size=64m,mode=0700"), 0) << errno;
  EXPECT_TRUE(Eventually([&] { return HealthServing(channel); }, absl::Seconds(30))) << "health did not come back";
  absl::StatusOr<v1::Referral> after = absl::UnavailableError("not tried");
  EXPECT_TRUE(Eventually([&] {
    after = police.CreateReferral(ValidReferral(), "after-space-returned");
    return after.ok();
  })) << after.status();
  if (after.ok()) acknowledged[after->name()] = after->incident_narrative();

  // Every acknowledged create is there, whole; the refused ones are not.
  EXPECT_TRUE(AcknowledgedReadBackWhole(acknowledged, StoredNarratives(police)));
}

}  // namespace
}  // namespace refx::testing
