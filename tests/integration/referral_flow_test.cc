// End to end over real mTLS: create, read and list referrals as the agencies
// a caseworker would use, including the record gate between agencies.
#include <set>
#include <thread>

#include "common/status_details.h"
#include "google/protobuf/util/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

class ReferralFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::unique_ptr<TestServer> server_;
};

TEST_F(ReferralFlowTest, WhoAmIDescribesTheCallerFromItsCertificate) {
  auto me = server_->Client(kPolice).WhoAmI();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->agency(), "agencies/leicestershire-police");
  EXPECT_EQ(me->display_name(), "Leicestershire Police");
  EXPECT_EQ(me->role(), "police");
  EXPECT_EQ(me->agency_type(), "police");
  EXPECT_EQ(me->spiffe_id(), "spiffe://llr.refx.example/agency/leicestershire-police");
  EXPECT_EQ(me->partnership(), "llr");
  EXPECT_GE(me->certificate_serial().size(), 32u);
  EXPECT_GT(me->certificate_expire_time().seconds(), absl::ToUnixSeconds(absl::Now()));
}

TEST_F(ReferralFlowTest, CreateGetListRoundTrip) {
  v1::Referral input = ValidReferral(kCityCouncil);
  input.mutable_victim()->set_phone("07700 900123");
  input.add_subjects()->set_description("tall, grey coat");
  auto created = server_->Client(kPolice).CreateReferral(input, "req-1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_THAT(created->name(), ::testing::StartsWith("referrals/"));
  EXPECT_EQ(created->sender_agency(), "agencies/leicestershire-police");
  EXPECT_EQ(created->state(), v1::Referral::REQUESTED);
  EXPECT_FALSE(created->etag().empty());
  EXPECT_GT(created->create_time().seconds(), 0);
  EXPECT_EQ(created->victim().phone(), "07700 900123");

  // The sender reads back exactly what was stored.
  auto own = server_->Client(kPolice).GetReferral(created->name());
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->SerializeAsString(), created->SerializeAsString());

  // The council recipient reads it as the agreement allows: everything but
  // the subject (suspect) data, which councils do not receive.
  auto got = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->victim().phone(), "07700 900123");
  EXPECT_EQ(got->subjects_size(), 0);
  v1::Referral expected = *created;
  expected.clear_subjects();
  EXPECT_EQ(got->SerializeAsString(), expected.SerializeAsString());

  for (const char* agency : {kPolice, kCityCouncil}) {
    auto page = server_->Client(agency).ListReferrals(v1::ListReferralsRequest());
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->referrals_size(), 1) << agency;
    EXPECT_EQ(page->referrals(0).name(), created->name());
    EXPECT_EQ(page->next_page_token(), "");
  }
}

TEST_F(ReferralFlowTest, SurvivesARestart) {
  auto created = server_->Client(kPolice).CreateReferral(ValidReferral(), "restart-1");
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(server_->Restart().ok());
  auto got = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->etag(), created->etag());
}

TEST_F(ReferralFlowTest, PaginationOver120ReturnsEachExactlyOnceNewestFirst) {
  auto police = server_->Client(kPolice);
  std::set<std::string> created;
  for (int i = 0; i < 120; ++i) {
    auto r = police.CreateReferral(ValidReferral(), absl::StrCat("page-", i));
    ASSERT_TRUE(r.ok()) << r.status();
    created.insert(r->name());
  }
  for (const char* agency : {kPolice, kCityCouncil}) {
    std::vector<std::string> seen;
    v1::ListReferralsRequest request;
    request.set_page_size(7);
    int pages = 0;
    int64_t last_time = INT64_MAX;
    do {
      auto page = server_->Client(agency).ListReferrals(request);
      ASSERT_TRUE(page.ok()) << page.status();
      ++pages;
      for (const auto& r : page->referrals()) {
        seen.push_back(r.name());
        const int64_t t = r.create_time().seconds() * 1000000000LL + r.create_time().nanos();
        EXPECT_LE(t, last_time);
        last_time = t;
      }
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    EXPECT_EQ(pages, 18);  // ceil(120 / 7)
    EXPECT_EQ(seen.size(), 120u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created);
  }
}

TEST_F(ReferralFlowTest, PageTokenIsBoundToItsFilters) {
  auto police = server_->Client(kPolice);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(police.CreateReferral(ValidReferral(), absl::StrCat("t", i)).ok());
  v1::ListReferralsRequest request;
  request.set_page_size(1);
  auto first = police.ListReferrals(request);
  ASSERT_TRUE(first.ok());
  request.set_page_token(first->next_page_token());
  request.mutable_filter()->add_areas("blaby");
  auto mixed = police.ListReferrals(request);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(mixed.status()).at(0).field, "page_token");
  request.clear_filter();
  request.set_page_token("not-a-token");
  EXPECT_EQ(police.ListReferrals(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReferralFlowTest, FiltersNarrowTheList) {
  auto police = server_->Client(kPolice);
  v1::Referral a = ValidReferral();
  v1::Referral b = ValidReferral();
  b.set_area("charnwood");
  b.set_report_type(v1::HATE_INCIDENT);
  b.mutable_strands(0)->set_strand("disability");
  ASSERT_TRUE(police.CreateReferral(a, "fa").ok());
  const absl::Time between = absl::Now();
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(police.CreateReferral(b, "fb").ok());

  auto count = [&](const std::function<void(v1::ReferralFilter*)>& f) {
    v1::ListReferralsRequest request;
    f(request.mutable_filter());
    auto page = police.ListReferrals(request);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->referrals_size() : -1;
  };
  EXPECT_EQ(count([](auto* f) { f->add_areas("charnwood"); }), 1);
  EXPECT_EQ(count([](auto* f) { f->add_areas("charnwood"); f->add_areas("leicester"); }), 2);
  EXPECT_EQ(count([](auto* f) { f->add_strands("disability"); }), 1);
  EXPECT_EQ(count([](auto* f) { f->add_report_types(v1::HATE_CRIME); }), 1);
  EXPECT_EQ(count([](auto* f) { f->add_states(v1::Referral::REQUESTED); }), 2);
  EXPECT_EQ(count([](auto* f) { f->add_states(v1::Referral::ACCEPTED); }), 0);
  // A second after `between` (not its next whole second, which can fall
  // a moment after b was created).
  EXPECT_EQ(count([&](auto* f) {
              *f->mutable_create_time_from() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
                  absl::ToUnixMicros(between + absl::Seconds(1)));
            }),
            0);
  EXPECT_EQ(count([&](auto* f) {
              *f->mutable_create_time_from() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
                  absl::ToUnixMicros(between));
            }),
            1);

  v1::ListReferralsRequest bad;
  bad.mutable_filter()->add_areas("atlantis");
  bad.mutable_filter()->add_strands("astrology");
  auto refused = police.ListReferrals(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(refused.status()).size(), 2u);
}

TEST_F(ReferralFlowTest, RetryWithTheSameRequestIdReturnsTheSameReferral) {
  auto police = server_->Client(kPolice);
  auto first = police.CreateReferral(ValidReferral(), "idem-1");
  auto second = police.CreateReferral(ValidReferral(), "idem-1");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->SerializeAsString(), second->SerializeAsString());
  auto page = police.ListReferrals(v1::ListReferralsRequest());
  EXPECT_EQ(page->referrals_size(), 1);

  // Request ids are per agency: another agency's same id is a new referral.
  auto other = server_->Client(kCityCouncil).CreateReferral(ValidReferral(kPolice), "idem-1");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->name(), first->name());
}

TEST_F(ReferralFlowTest, ConcurrentRetriesOfOneRequestCreateOneReferral) {
  std::vector<std::thread> threads;
  std::vector<std::string> names(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = server_->Client(kPolice).CreateReferral(ValidReferral(), "same-id");
      if (r.ok()) names[i] = r->name();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 1u);
  EXPECT_FALSE(names[0].empty());
}

TEST_F(ReferralFlowTest, ReusedRequestIdWithADifferentReferralIsRefused) {
  auto police = server_->Client(kPolice);
  ASSERT_TRUE(police.CreateReferral(ValidReferral(), "idem-2").ok());
  v1::Referral changed = ValidReferral();
  changed.set_incident_narrative("A different account.");
  auto refused = police.CreateReferral(changed, "idem-2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  auto violations = FieldViolationsOf(refused.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "request_id");
  EXPECT_EQ(police.ListReferrals(v1::ListReferralsRequest())->referrals_size(), 1);
}

TEST_F(ReferralFlowTest, ThirdAgencyCannotReadListOrDetectAReferral) {
  auto created = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "vis-1");
  ASSERT_TRUE(created.ok());
  auto blaby = server_->Client(kBlaby);
  auto hidden = blaby.GetReferral(created->name());
  const std::string absent_name = "referrals/0123456789abcdef0123456789abcdef";
  auto absent = blaby.GetReferral(absent_name);
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  // Same words apart from the name asked for, same (absent) details.
  EXPECT_EQ(std::string(hidden.status().message()).replace(hidden.status().message().find(created->name()),
                                                           created->name().size(), absent_name),
            std::string(absent.status().message()));
  EXPECT_EQ(FieldViolationsOf(hidden.status()).size(), FieldViolationsOf(absent.status()).size());
  EXPECT_EQ(ErrorReasonOf(hidden.status()), ErrorReasonOf(absent.status()));

  auto page = blaby.ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->referrals_size(), 0);
  // Even a filter naming the exact area finds nothing.
  v1::ListReferralsRequest filtered;
  filtered.mutable_filter()->add_areas("leicester");
  EXPECT_EQ(blaby.ListReferrals(filtered)->referrals_size(), 0);
}

TEST_F(ReferralFlowTest, MalformedNamesAreInvalidNotNotFound) {
  auto police = server_->Client(kPolice);
  for (const char* name : {"", "referrals/", "referrals/xyz", "cases/0123456789abcdef0123456789abcdef"}) {
    auto r = police.GetReferral(name);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(FieldViolationsOf(r.status()).at(0).field, "name");
  }
}

}  // namespace
}  // namespace refx::testing
