// A wall clock stepped back and forward an hour (issue 17): the server's
// clock (a FakeClock) jumps while referrals are created and answered, and
// nothing that depends on time breaks. Deadlines stay each referral's own
// create time plus its period; the overdue filter follows the clock as it
// reads now (late, then not late after a step back); certificates and the
// revocation list still stand; the audit chain stays one intact chain whose
// order is its sequence, even where event times go backwards.
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::UnorderedElementsAre;

class ClockJumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral CreateUrgent(const std::string& request_id) {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.set_priority(v1::PRIORITY_URGENT);  // due one calendar day after create
    auto created = server_->Client(kPolice).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::set<std::string> Overdue() {
    v1::ListReferralsRequest request;
    request.mutable_filter()->set_overdue(true);
    auto page = server_->Client(kPolice).ListReferrals(request);
    EXPECT_TRUE(page.ok()) << page.status();
    std::set<std::string> names;
    if (page.ok()) {
      for (const auto& r : page->referrals()) names.insert(r.name());
    }
    return names;
  }

  // Midday, so that an hour either way stays on the same calendar day.
  const absl::Time start_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 86400 * 86400) +
                            absl::Hours(12) - absl::Hours(24 * 3);
  FakeClock clock_{start_};
  std::unique_ptr<TestServer> server_;
};

TEST_F(ClockJumpTest, AnHourBackAndForwardBreaksNoDeadlineCredentialOrAuditOrder) {
  const v1::Referral a = CreateUrgent("jump-a");
  EXPECT_EQ(FromProto(a.create_time()), start_);
  EXPECT_EQ(FromProto(a.response_deadline()), start_ + absl::Hours(24));

  // The clock steps back an hour: B is created "before" A.
  clock_.Set(start_ - absl::Hours(1));
  ASSERT_TRUE(server_->Client(kPolice).WhoAmI().ok());  // credentials still stand
  const v1::Referral b = CreateUrgent("jump-b");
  EXPECT_EQ(FromProto(b.create_time()), start_ - absl::Hours(1));
  EXPECT_EQ(FromProto(b.response_deadline()), start_ + absl::Hours(23));
  // A's deadline is A's own: nothing recomputed it from the new clock.
  auto a_again = server_->Client(kPolice).GetReferral(a.name(), {"response_deadline"});
  ASSERT_TRUE(a_again.ok()) << a_again.status();
  EXPECT_EQ(FromProto(a_again->response_deadline()), start_ + absl::Hours(24));

  // Forward two hours: C, an hour after A.
  clock_.Set(start_ + absl::Hours(1));
  ASSERT_TRUE(server_->Client(kCityCouncil).WhoAmI().ok());
  const v1::Referral c = CreateUrgent("jump-c");
  EXPECT_EQ(FromProto(c.response_deadline()), start_ + absl::Hours(25));

  // Overdue follows the clock as it reads now, each against its own deadline.
  EXPECT_TRUE(Overdue().empty());
  clock_.Set(start_ + absl::Hours(24) + absl::Minutes(1));
  EXPECT_THAT(Overdue(), UnorderedElementsAre(a.name(), b.name()));
  clock_.Set(start_ + absl::Hours(24) - absl::Minutes(59));  // an hour back
  EXPECT_THAT(Overdue(), UnorderedElementsAre(b.name()));
  clock_.Set(start_ + absl::Hours(26));
  EXPECT_THAT(Overdue(), UnorderedElementsAre(a.name(), b.name(), c.name()));

  // An answer after the jumps is accepted (the etag, not the time, orders
  // changes) and takes B out of the overdue list.
  v1::AcceptReferralRequest accept;
  accept.set_name(b.name());
  accept.set_etag(b.etag());
  accept.set_request_id("jump-accept-b");
  clock_.Set(start_ + absl::Hours(25));  // back again
  auto accepted = server_->Client(kCityCouncil).AcceptReferral(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_THAT(Overdue(), UnorderedElementsAre(a.name()));

  // One intact chain: sequences strictly increase while times went back.
  Api dpo(server_->Channel(server_->pki().Agency(kDpo)), "dpo");
  auto verdict = dpo.Verify();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact()) << verdict->problem();
  auto events = dpo.ListAudit(v1::ListAuditEventsRequest());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_GE(events->events_size(), 5);
  bool time_went_back = false;
  for (int i = 1; i < events->events_size(); ++i) {
    EXPECT_EQ(events->events(i).sequence(), events->events(i - 1).sequence() + 1);
    if (FromProto(events->events(i).time()) < FromProto(events->events(i - 1).time())) time_went_back = true;
  }
  EXPECT_TRUE(time_went_back) << "the test meant to record events out of time order";
}

}  // namespace
}  // namespace refx::testing
