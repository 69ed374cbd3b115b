// The information-sharing agreement, enforced field by field over real mTLS
// (issue 4). Every expectation here is derived from config/agreement.yaml and
// config/partnership.yaml as loaded at test time, never from a hand-written
// matrix: change the agreement and these tests follow it.
//
// This file covers reads: role x purpose x consent state -> exactly the
// classes the agreement lets flow, the method gate, purposes, read_mask,
// consent withdrawn and Prevent-only records. Writes and agreement reload are
// in agreement_write_and_reload_test.cc; canaries in every restricted
// free-text field and the non-party probe of 1,000 ids in
// agreement_leak_test.cc.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "core/redaction.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"

namespace refx::testing {
namespace {

using config::v1::Grant;
using config::v1::RoleRules;
using core::DataClassSet;

// Sanity of the oracle: the full referral carries every class, and the
// agreement the server runs is the one the tests read.
TEST_F(AgreementEnforcementTest, FixtureCarriesEveryClassAndTheServerRunsTheFileAgreement) {
  v1::Referral full = FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "SANITY");
  EXPECT_EQ(ClassNames(core::ClassesPresent(full)), ClassNames(AllReferralClasses()));
  auto me = As(kPolice).WhoAmI();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->agreement(), absl::StrCat(agreement_.id(), "@", agreement_.version()));
  EXPECT_EQ(me->purpose(), Role("police")->default_purpose());
}

// 1. Reads: every role that may read x every purpose it is granted x consent
// given / refused with an accepted basis / refused with a basis the grant
// does not accept -> exactly the classes the file says, on Get and List.
TEST_F(AgreementEnforcementTest, ReadMatrixMatchesTheAgreementFile) {
  int cells = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    ASSERT_FALSE(agency.empty()) << "no agency has role " << role.role();
    // Police read as the sender (no agency can address itself); every other
    // role as the recipient.
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    for (const Grant& grant : role.grants()) {
      for (ConsentCase c : {ConsentCase::kGiven, ConsentCase::kRefusedAcceptedBasis, ConsentCase::kRefusedOtherBasis}) {
        SCOPED_TRACE(absl::StrCat(role.role(), " / ", grant.purpose(), " / ", CaseName(c)));
        std::string basis;
        if (c == ConsentCase::kRefusedAcceptedBasis) {
          ASSERT_GT(grant.lawful_bases_size(), 0);
          basis = grant.lawful_bases(0);
        } else if (c == ConsentCase::kRefusedOtherBasis) {
          basis = BasisNotAcceptedBy(agreement_, grant);
          ASSERT_FALSE(basis.empty()) << "grant accepts every basis; case cannot be built";
        }
        const v1::Referral input = FullReferral(
            recipient, c == ConsentCase::kGiven ? v1::Consent::GIVEN : v1::Consent::REFUSED, basis, "M");
        auto created = As(kPolice, "investigation").Create(input, NextId());
        ASSERT_TRUE(created.ok()) << created.status();

        const DataClassSet expected = ExpectedReadable(grant, c);
        Api reader = As(agency, grant.purpose());
        auto got = reader.Get(created->name());
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(expected));
        EXPECT_EQ(got->name(), created->name());

        v1::ListReferralsRequest list;
        list.set_page_size(1);  // newest first: the one just created
        auto page = reader.List(list);
        ASSERT_TRUE(page.ok()) << page.status();
        ASSERT_EQ(page->referrals_size(), 1);
        EXPECT_EQ(page->referrals(0).name(), created->name());
        EXPECT_EQ(ClassNames(core::ClassesPresent(page->referrals(0))), ClassNames(expected));
        ++cells;
      }
    }
  }
  // police x2 purposes, community_safety, health, prevent: 5 grants x 3.
  EXPECT_GE(cells, 15);
}

// Roles without REFERRAL_READ (from the file): Get, List and Create are
// refused by the method gate; WhoAmI, which needs no permission, works.
TEST_F(AgreementEnforcementTest, RolesWithoutReadPermissionAreRefusedEveryReferralMethod) {
  auto created = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "NP"), NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  int agencies = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (HasPermission(role, config::v1::REFERRAL_READ)) continue;
    for (const auto& a : partnership_.agencies()) {
      if (a.role() != role.role() || a.suspended()) continue;
      SCOPED_TRACE(a.id());
      Api api = As(a.id());
      std::vector<absl::Status> refusals = {api.Get(created->name()).status(),
                                            api.List(v1::ListReferralsRequest()).status(),
                                            api.Create(ValidReferral(kCityCouncil), NextId()).status()};
      for (const absl::Status& s : refusals) {
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
        EXPECT_EQ(ErrorReasonOf(s), "METHOD_NOT_PERMITTED") << s;
      }
      EXPECT_TRUE(api.WhoAmI().ok());
      ++agencies;
    }
  }
  EXPECT_EQ(agencies, 4);  // two oversight groups, the administrator, the DPO
}

// A purpose the role is not granted (or no such purpose) is refused.
TEST_F(AgreementEnforcementTest, PurposeNotGrantedIsPermissionDenied) {
  auto created = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "PU"), NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  int checked = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    std::set<std::string> granted;
    for (const auto& g : role.grants()) granted.insert(g.purpose());
    std::vector<std::string> purposes = {"no-such-purpose"};
    for (const auto& p : agreement_.purposes()) {
      if (!granted.count(p.id())) purposes.push_back(p.id());
    }
    for (const std::string& purpose : purposes) {
      SCOPED_TRACE(absl::StrCat(role.role(), " / ", purpose));
      Api api = As(agency, purpose);
      for (const absl::Status& s : {api.Get(created->name()).status(), api.List(v1::ListReferralsRequest()).status()}) {
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
        EXPECT_EQ(ErrorReasonOf(s), "PURPOSE_NOT_GRANTED") << s;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
}

// read_mask: a permitted path returns only it (and the name); a path of a
// class the role can never read for the purpose is FIELD_NOT_SHARED, for
// every such class of every reading role; an unknown path is
// INVALID_ARGUMENT.
TEST_F(AgreementEnforcementTest, ReadMaskPermittedNotSharedAndUnknown) {
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    auto created = As(kPolice).Create(FullReferral(recipient, v1::Consent::GIVEN, "", "RM"), NextId());
    ASSERT_TRUE(created.ok()) << created.status();
    for (const Grant& grant : role.grants()) {
      const DataClassSet readable = ToSet(grant.read_with_consent());
      Api api = As(agency, grant.purpose());
      for (const auto& [c, path] : PathOfClass()) {
        SCOPED_TRACE(absl::StrCat(role.role(), " / ", grant.purpose(), " / ", path));
        auto got = api.Get(created->name(), {path});
        v1::ListReferralsRequest list;
        list.set_page_size(1);
        list.mutable_read_mask()->add_paths(path);
        auto page = api.List(list);
        if (readable.Contains(c)) {
          ASSERT_TRUE(got.ok()) << got.status();
          DataClassSet want = {v1::DATA_CLASS_REFERRAL_CORE};
          want.Add(c);
          EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(want));
          // Exactly the name and the path.
          EXPECT_EQ(got->name(), created->name());
          std::vector<const google::protobuf::FieldDescriptor*> fields;
          got->GetReflection()->ListFields(*got, &fields);
          std::set<std::string> top;
          for (auto* f : fields) top.insert(f->name());
          EXPECT_EQ(top, (std::set<std::string>{"name", Top(path)}));
          ASSERT_TRUE(page.ok()) << page.status();
          ASSERT_EQ(page->referrals_size(), 1);
          EXPECT_EQ(page->referrals(0).SerializeAsString(), got->SerializeAsString());
        } else {
          for (const absl::Status& s : {got.status(), page.status()}) {
            EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
            EXPECT_EQ(ErrorReasonOf(s), "FIELD_NOT_SHARED") << s;
            EXPECT_THAT(ErrorMetadataOf(s)["fields"], ::testing::HasSubstr(path));
          }
        }
      }
      for (const char* bad : {"no_such_field", "victim.nope", "victim..phone"}) {
        auto got = api.Get(created->name(), {bad});
        EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << bad << ": " << got.status();
        EXPECT_THAT(FieldViolationsOf(got.status()), ::testing::Not(::testing::IsEmpty()));
      }
    }
  }
}

// 4. Consent withdrawn: a council reader gets only the routing facts when the
// recorded basis is not one its grant accepts, and exactly the
// read_without_consent classes when it is. (Validation requires a recorded
// basis whenever consent is not given, so "no basis" can only reach a reader
// as "a basis this grant does not accept".)
TEST_F(AgreementEnforcementTest, ConsentWithdrawnRedactsAndAnAcceptedBasisLetsItsClassesFlow) {
  const RoleRules* council = Role("community_safety");
  ASSERT_NE(council, nullptr);
  const Grant& grant = council->grants(0);
  ASSERT_EQ(grant.purpose(), council->default_purpose());

  auto withdrawn = As(kPolice).Create(
      FullReferral(kCityCouncil, v1::Consent::WITHDRAWN, BasisNotAcceptedBy(agreement_, grant), "CW"), NextId());
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  auto got = As(kCityCouncil).Get(withdrawn->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), "DATA_CLASS_REFERRAL_CORE");
  EXPECT_EQ(got->victim().consent().status(), v1::Consent::WITHDRAWN);
  EXPECT_EQ(got->victim().given_name(), "");

  auto based = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::WITHDRAWN, grant.lawful_bases(0), "CB"),
                                  NextId());
  ASSERT_TRUE(based.ok()) << based.status();
  got = As(kCityCouncil).Get(based->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(ToSet(grant.read_without_consent())));

  // The police, the sender, see what their own grant allows under the same
  // recorded basis.
  const Grant& police = Role("police")->grants(0);
  const std::string basis = BasisNotAcceptedBy(agreement_, grant);
  const bool police_accepts = std::find(police.lawful_bases().begin(), police.lawful_bases().end(), basis) !=
                              police.lawful_bases().end();
  got = As(kPolice).Get(withdrawn->name());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)),
            ClassNames(ExpectedReadable(police, police_accepts ? ConsentCase::kRefusedAcceptedBasis
                                                               : ConsentCase::kRefusedOtherBasis)));
}

// 4. The Prevent role sees a Prevent-relevant referral addressed to it, and
// gets NOT_FOUND (identical to an absent one) for one without a concern,
// which its list also omits.
TEST_F(AgreementEnforcementTest, PreventRoleSeesOnlyPreventRelevantReferrals) {
  const RoleRules* prevent = Role("prevent");
  ASSERT_NE(prevent, nullptr);
  ASSERT_TRUE(prevent->prevent_relevant_only());
  v1::Referral with = FullReferral(kPrevent, v1::Consent::GIVEN, "", "PV");
  v1::Referral without = with;
  without.set_prevent_concern(false);
  auto a = As(kPolice).Create(with, NextId());
  auto b = As(kPolice).Create(without, NextId());
  ASSERT_TRUE(a.ok() && b.ok());
  auto got = As(kPrevent).Get(a->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->prevent_concern());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(ToSet(prevent->grants(0).read_with_consent())));
  auto hidden = As(kPrevent).Get(b->name());
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hidden.status().message(), absl::StrCat("referral ", b->name(), " not found"));
  auto page = As(kPrevent).List(v1::ListReferralsRequest());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->referrals_size(), 1);
  EXPECT_EQ(page->referrals(0).name(), a->name());
}

}  // namespace
}  // namespace refx::testing
