// ListReferrals keeps referrals rendered per reader view (core/render_cache.h).
// Over real mTLS, after each kind of change a listed referral can undergo
// (a lifecycle change, a consent withdrawal, a redirect that makes a party a
// former party, an agreement reload, another read mask), every referral a
// page lists must be exactly what a GetReferral with the same mask returns
// now: GetReferral renders afresh, so a stale or another reader's render
// in a page shows as a difference. Each check lists three times (the cache
// keeps a render the second time its key misses), so the last page comes
// from the cache.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

constexpr char kNameCanary[] = "Cachecanary";

class ListRenderCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    for (int i = 0; i < 3; ++i) {
      v1::Referral r = ValidReferral(kCityCouncil);
      r.mutable_victim()->set_given_name(absl::StrCat(kNameCanary, i));
      r.mutable_victim()->set_phone("07700 900777");
      auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("cache-", i));
      ASSERT_TRUE(created.ok()) << created.status();
      names_.push_back(created->name());
    }
  }

  // Every referral `agency` lists (three times: the last answer is served
  // from the cache), each compared with a fresh GetReferral under the same
  // mask. Returns the last listing.
  std::vector<v1::Referral> ListAndCompare(const std::string& agency, const std::vector<std::string>& mask = {}) {
    v1::ListReferralsRequest request;
    for (const std::string& path : mask) request.mutable_read_mask()->add_paths(path);
    std::vector<v1::ListReferralsResponse> pages;
    for (int i = 0; i < 3; ++i) {
      auto page = server_->Client(agency).ListReferrals(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return {};
      pages.push_back(*std::move(page));
    }
    EXPECT_EQ(pages[0].SerializeAsString(), pages[2].SerializeAsString()) << agency;
    EXPECT_EQ(pages[1].SerializeAsString(), pages[2].SerializeAsString()) << agency;
    std::vector<v1::Referral> listed(pages[2].referrals().begin(), pages[2].referrals().end());
    for (const v1::Referral& r : listed) {
      auto fresh = server_->Client(agency).GetReferral(r.name(), mask);
      EXPECT_TRUE(fresh.ok()) << fresh.status();
      if (!fresh.ok()) continue;
      std::string difference;
      google::protobuf::util::MessageDifferencer differ;
      differ.ReportDifferencesToString(&difference);
      EXPECT_TRUE(differ.Compare(*fresh, r)) << agency << " lists " << r.name() << " unlike a fresh read:\n"
                                             << difference;
    }
    return listed;
  }

  const v1::Referral* Find(const std::vector<v1::Referral>& listed, const std::string& name) {
    for (const v1::Referral& r : listed) {
      if (r.name() == name) return &r;
    }
    return nullptr;
  }

  std::string EtagOf(const std::string& agency, const std::string& name) {
    auto r = server_->Client(agency).GetReferral(name);
    return r.ok() ? r->etag() : "";
  }

  std::unique_ptr<TestServer> server_;
  std::vector<std::string> names_;
};

TEST_F(ListRenderCacheTest, EachListedReferralIsWhatAFreshReadReturnsAfterEveryKindOfChange) {
  // Warm: both parties, without and with a mask.
  for (const char* agency : {kPolice, kCityCouncil}) {
    EXPECT_EQ(ListAndCompare(agency).size(), 3u) << agency;
    EXPECT_EQ(ListAndCompare(agency, {"state", "victim.given_name"}).size(), 3u) << agency;
  }

  // A lifecycle change.
  v1::AcceptReferralRequest accept;
  accept.set_name(names_[0]);
  accept.set_etag(EtagOf(kCityCouncil, names_[0]));
  accept.set_request_id("cache-accept");
  ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());
  for (const char* agency : {kPolice, kCityCouncil}) {
    auto listed = ListAndCompare(agency);
    ASSERT_NE(Find(listed, names_[0]), nullptr);
    EXPECT_EQ(Find(listed, names_[0])->state(), v1::Referral::ACCEPTED) << agency;
    ListAndCompare(agency, {"state"});
  }

  // Consent withdrawn: the city council reads no identity any more.
  v1::AddCaseUpdateRequest withdraw;
  withdraw.set_parent(names_[1]);
  withdraw.set_etag(EtagOf(kCityCouncil, names_[1]));
  withdraw.set_request_id("cache-withdraw");
  withdraw.mutable_update()->set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  withdraw.mutable_update()->mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  withdraw.mutable_update()->mutable_consent()->set_lawful_basis("cda-1998-s115");
  ASSERT_TRUE(server_->Client(kCityCouncil).AddCaseUpdate(withdraw).ok());
  {
    auto listed = ListAndCompare(kCityCouncil, {"state", "victim.given_name"});
    ASSERT_NE(Find(listed, names_[1]), nullptr);
    EXPECT_EQ(Find(listed, names_[1])->victim().given_name(), "");
    ASSERT_NE(Find(listed, names_[2]), nullptr);
    EXPECT_EQ(Find(listed, names_[2])->victim().given_name(), absl::StrCat(kNameCanary, 2));
    ListAndCompare(kCityCouncil);
    ListAndCompare(kPolice);
  }

  // Redirected to Blaby: the city council is a former party of it now.
  v1::RedirectReferralRequest redirect;
  redirect.set_name(names_[2]);
  redirect.set_etag(EtagOf(kCityCouncil, names_[2]));
  redirect.set_request_id("cache-redirect");
  redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
  ASSERT_TRUE(server_->Client(kCityCouncil).RedirectReferral(redirect).ok());
  for (const char* agency : {kPolice, kCityCouncil, kBlaby}) ListAndCompare(agency);
  EXPECT_EQ(ListAndCompare(kBlaby).size(), 1u);

  // The agreement reloaded: the community safety role no longer reads
  // victim identity, whatever the referral.
  ReloadAgreementWith(*server_, "-no-identity", [](config::v1::Agreement& next) {
    for (auto& role : *next.mutable_roles()) {
      if (role.role() != "community_safety") continue;
      for (auto& grant : *role.mutable_grants()) {
        auto* classes = grant.mutable_read_with_consent();
        for (int i = classes->size() - 1; i >= 0; --i) {
          if (classes->Get(i) == v1::DATA_CLASS_VICTIM_IDENTITY) classes->erase(classes->begin() + i);
        }
      }
    }
  });
  for (const char* agency : {kPolice, kCityCouncil, kBlaby}) {
    for (const v1::Referral& r : ListAndCompare(agency)) {
      if (agency == std::string(kPolice)) continue;
      EXPECT_EQ(r.victim().given_name(), "") << agency << " " << r.name();
    }
  }
}

}  // namespace
}  // namespace refx::testing
