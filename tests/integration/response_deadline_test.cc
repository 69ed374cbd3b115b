// Response deadlines end to end, on a server whose clock the test drives:
// deadlines from the agreement per priority, the overdue and
// awaiting-my-response filters per agency, a redirect restarting the clock
// for the new recipient, answered referrals leaving both sets, and page
// tokens bound to the filters.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/time_util.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::UnorderedElementsAreArray;

constexpr char kCharnwood[] = "charnwood-borough-council";

class ResponseDeadlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral Create(const std::string& recipient, v1::Priority priority, const std::string& request_id) {
    v1::Referral r = ValidReferral(recipient);
    r.set_priority(priority);
    auto created = server_->Client(kPolice).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  // Every referral name `agency` lists with the given filter, page by page.
  std::set<std::string> Names(const std::string& agency, bool overdue, bool awaiting) {
    std::set<std::string> names;
    v1::ListReferralsRequest request;
    request.set_page_size(2);  // several pages: the token must carry the filters
    request.mutable_filter()->set_overdue(overdue);
    request.mutable_filter()->set_awaiting_my_response(awaiting);
    for (int pages = 0; pages < 20; ++pages) {
      auto page = server_->Client(agency).ListReferrals(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& r : page->referrals()) names.insert(r.name());
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return names;
  }
  std::set<std::string> Overdue(const std::string& agency) { return Names(agency, true, false); }
  std::set<std::string> Awaiting(const std::string& agency) { return Names(agency, false, true); }

  // Monday 9 March 2026, 10:00 in London (GMT).
  FakeClock clock_{LondonTime(2026, 3, 9, 10)};
  std::unique_ptr<TestServer> server_;
};

TEST_F(ResponseDeadlineTest, DeadlinesFollowPriorityAndTheFiltersFollowTheClock) {
  const v1::Referral urgent_city = Create(kCityCouncil, v1::PRIORITY_URGENT, "a");
  const v1::Referral routine_city = Create(kCityCouncil, v1::PRIORITY_ROUTINE, "b");
  const v1::Referral unset_blaby = Create(kBlaby, v1::PRIORITY_UNSPECIFIED, "c");
  const v1::Referral urgent_blaby = Create(kBlaby, v1::PRIORITY_URGENT, "d");
  const v1::Referral redirected = Create(kCityCouncil, v1::PRIORITY_URGENT, "e");
  const std::string a = urgent_city.name(), b = routine_city.name(), c = unset_blaby.name(),
                    d = urgent_blaby.name(), e = redirected.name();

  // Urgent: one calendar day; routine: five working days; unset is routine.
  EXPECT_EQ(FromProto(urgent_city.response_deadline()), LondonTime(2026, 3, 10, 10));
  EXPECT_EQ(FromProto(routine_city.response_deadline()), LondonTime(2026, 3, 16, 10));
  EXPECT_EQ(unset_blaby.priority(), v1::PRIORITY_ROUTINE);
  EXPECT_EQ(FromProto(unset_blaby.response_deadline()), LondonTime(2026, 3, 16, 10));

  // Blaby answers D at once: it leaves every awaiting set.
  v1::AcceptReferralRequest accept;
  accept.set_name(d), accept.set_etag(urgent_blaby.etag()), accept.set_request_id("accept-d");
  ASSERT_TRUE(server_->Client(kBlaby).AcceptReferral(accept).ok());

  EXPECT_THAT(Overdue(kPolice), ::testing::IsEmpty());
  EXPECT_THAT(Awaiting(kCityCouncil), UnorderedElementsAreArray({a, b, e}));
  EXPECT_THAT(Awaiting(kBlaby), UnorderedElementsAreArray({c}));
  EXPECT_THAT(Awaiting(kPolice), ::testing::IsEmpty());  // the sender owes no response

  // Tuesday 09:00: the city council passes E on to Charnwood, whose clock
  // starts now (Wednesday 09:00), not at E's creation.
  clock_.Set(LondonTime(2026, 3, 10, 9));
  v1::RedirectReferralRequest redirect;
  redirect.set_name(e), redirect.set_etag(redirected.etag()), redirect.set_request_id("redirect-e");
  redirect.set_target_agency(absl::StrCat("agencies/", kCharnwood));
  auto passed_on = server_->Client(kCityCouncil).RedirectReferral(redirect);
  ASSERT_TRUE(passed_on.ok()) << passed_on.status();
  EXPECT_EQ(FromProto(passed_on->response_deadline()), LondonTime(2026, 3, 11, 9));
  EXPECT_THAT(Awaiting(kCityCouncil), UnorderedElementsAreArray({a, b}));  // E is no longer the city's to answer
  EXPECT_THAT(Awaiting(kCharnwood), UnorderedElementsAreArray({e}));

  // Tuesday 11:00: only A (urgent, due Tuesday 10:00) is late. E would have
  // been too, had the redirect not restarted its clock.
  clock_.Set(LondonTime(2026, 3, 10, 11));
  EXPECT_THAT(Overdue(kPolice), UnorderedElementsAreArray({a}));
  EXPECT_THAT(Overdue(kCityCouncil), UnorderedElementsAreArray({a}));
  EXPECT_THAT(Overdue(kBlaby), ::testing::IsEmpty());
  EXPECT_THAT(Names(kCityCouncil, /*overdue=*/true, /*awaiting=*/true), UnorderedElementsAreArray({a}));

  // Wednesday 10:00: E is late at Charnwood too; the city council is still
  // a party to E (it may read it) and sees it listed as overdue.
  clock_.Set(LondonTime(2026, 3, 11, 10));
  EXPECT_THAT(Overdue(kPolice), UnorderedElementsAreArray({a, e}));
  EXPECT_THAT(Names(kCharnwood, true, true), UnorderedElementsAreArray({e}));
  EXPECT_THAT(Names(kCityCouncil, true, true), UnorderedElementsAreArray({a}));

  // Monday 16 March, one second past 10:00: the routine ones are late.
  clock_.Set(LondonTime(2026, 3, 16, 10) + absl::Seconds(1));
  EXPECT_THAT(Overdue(kPolice), UnorderedElementsAreArray({a, b, c, e}));
  EXPECT_THAT(Overdue(kBlaby), UnorderedElementsAreArray({c}));

  // A case update is not a response: B stays overdue after the sender adds one.
  {
    auto current = server_->Client(kPolice).GetReferral(b, {"etag"});
    ASSERT_TRUE(current.ok());
    v1::AddCaseUpdateRequest note;
    note.set_parent(b), note.set_etag(current->etag()), note.set_request_id("note-b");
    note.mutable_update()->set_kind(v1::CaseUpdate::INFORMATION_REQUEST);
    note.mutable_update()->set_text("Any update on contact?");
    ASSERT_TRUE(server_->Client(kPolice).AddCaseUpdate(note).ok());
    EXPECT_THAT(Overdue(kPolice), UnorderedElementsAreArray({a, b, c, e}));
  }

  // Answering a late referral takes it out of the overdue set.
  v1::AcceptReferralRequest late_accept;
  late_accept.set_name(a), late_accept.set_etag(urgent_city.etag()), late_accept.set_request_id("accept-a");
  ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(late_accept).ok());
  v1::DeclineReferralRequest decline;
  decline.set_name(c), decline.set_etag(unset_blaby.etag()), decline.set_request_id("decline-c");
  decline.set_reason(v1::DECLINE_REASON_NO_CAPACITY);
  ASSERT_TRUE(server_->Client(kBlaby).DeclineReferral(decline).ok());
  EXPECT_THAT(Overdue(kPolice), UnorderedElementsAreArray({b, e}));
  EXPECT_THAT(Awaiting(kCityCouncil), UnorderedElementsAreArray({b}));
  EXPECT_THAT(Awaiting(kBlaby), ::testing::IsEmpty());

  // The filters compose with a state filter: overdue and ACCEPTED is empty.
  v1::ListReferralsRequest accepted_and_overdue;
  accepted_and_overdue.mutable_filter()->set_overdue(true);
  accepted_and_overdue.mutable_filter()->add_states(v1::Referral::ACCEPTED);
  auto none = server_->Client(kPolice).ListReferrals(accepted_and_overdue);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->referrals_size(), 0);
}

TEST_F(ResponseDeadlineTest, APageTokenIsBoundToTheDeadlineFilters) {
  for (int i = 0; i < 3; ++i) Create(kCityCouncil, v1::PRIORITY_URGENT, absl::StrCat("p", i));
  clock_.Advance(absl::Hours(25));
  v1::ListReferralsRequest request;
  request.set_page_size(1);
  request.mutable_filter()->set_overdue(true);
  auto first = server_->Client(kPolice).ListReferrals(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  request.mutable_filter()->set_overdue(false);
  auto changed = server_->Client(kPolice).ListReferrals(request);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kInvalidArgument);
  request.mutable_filter()->set_awaiting_my_response(true);
  request.mutable_filter()->set_overdue(true);
  EXPECT_EQ(server_->Client(kPolice).ListReferrals(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ResponseDeadlineTest, AnUnknownPriorityIsAFieldViolationAndTheDeadlineIsNotWritable) {
  v1::Referral r = ValidReferral();
  r.set_priority(static_cast<v1::Priority>(99));
  auto refused = server_->Client(kPolice).CreateReferral(r, "bad-priority");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldViolationsOf(refused.status()),
              ::testing::Contains(::testing::Field(&FieldViolation::field, "referral.priority")));
  // A client-supplied deadline is ignored like every output-only field.
  v1::Referral sneaky = ValidReferral();
  sneaky.set_priority(v1::PRIORITY_URGENT);
  sneaky.mutable_response_deadline()->set_seconds(absl::ToUnixSeconds(clock_.Now()) + 86400 * 365);
  auto created = server_->Client(kPolice).CreateReferral(sneaky, "sneaky");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(FromProto(created->response_deadline()), clock_.Now() + absl::Hours(24));
}

}  // namespace
}  // namespace refx::testing
