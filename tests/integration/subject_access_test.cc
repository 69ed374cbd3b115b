// Subject access across partners (issue 16 item 3, the search): the data
// protection officer finds every referral about one person, however three
// agencies wrote the person's identifiers, by the keyed tokens and never a
// plaintext search; the answer is routing facts with what matched; nobody
// else may search; the identifiers are in no audit row.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDpo[] = "llr-information-governance";
constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";

class SubjectAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral Create(const std::string& sender, const std::string& recipient, const v1::Victim& victim,
                      const std::string& request_id) {
    v1::Referral r = ValidReferral(recipient);
    *r.mutable_victim() = victim;
    r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
    auto created = server_->Client(sender).CreateReferral(r, request_id);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::unique_ptr<TestServer> server_;
};

TEST_F(SubjectAccessTest, TheDpoFindsEveryReferralAboutAPersonHoweverEachAgencyWroteIt) {
  v1::Victim police_wrote;
  police_wrote.set_given_name("Qzsar");
  police_wrote.set_family_name("Person");
  police_wrote.set_birth_date("1990-01-02");
  police_wrote.set_phone("07700 900123");
  v1::Victim council_wrote;
  council_wrote.set_given_name("QZSAR");
  council_wrote.set_phone("+44 7700 900123");
  v1::Victim health_wrote;
  health_wrote.set_given_name("Q.");
  health_wrote.set_email("QZSAR.Person@Example.org");
  v1::Victim someone_else;
  someone_else.set_given_name("Other");
  someone_else.set_phone("07700 900999");
  const v1::Referral a = Create(kPolice, kCityCouncil, police_wrote, "a");
  const v1::Referral b = Create(kCityCouncil, kPolice, council_wrote, "b");
  const v1::Referral c = Create(kHealth, kCityCouncil, health_wrote, "c");
  Create(kPolice, kBlaby, someone_else, "d");

  v1::FindSubjectReferralsRequest request;
  request.set_phone("0044-7700-900123");
  request.set_email("qzsar.person@example.org");
  request.set_given_name("Qzsar");
  request.set_family_name("Person");
  request.set_birth_date("1990-01-02");
  auto found = server_->Client(kDpo).FindSubjectReferrals(request);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->referrals_size(), 3) << found->ShortDebugString();
  EXPECT_EQ(found->referrals(0).referral(), a.name());
  EXPECT_EQ(found->referrals(1).referral(), b.name());
  EXPECT_EQ(found->referrals(2).referral(), c.name());
  EXPECT_THAT(found->referrals(0).matched_on(), ElementsAre("name-and-birth-date", "phone"));
  EXPECT_THAT(found->referrals(1).matched_on(), ElementsAre("phone"));
  EXPECT_THAT(found->referrals(2).matched_on(), ElementsAre("email"));
  // Routing facts: who holds what, nothing of the referral's content.
  EXPECT_EQ(found->referrals(1).sender_agency(), absl::StrCat("agencies/", kCityCouncil));
  EXPECT_THAT(found->referrals(1).recipient_agencies(), ElementsAre(absl::StrCat("agencies/", kPolice)));
  EXPECT_EQ(found->referrals(1).state(), v1::Referral::REQUESTED);
  EXPECT_FALSE(absl::StrContains(found->SerializeAsString(), "Qzsar"));
  EXPECT_FALSE(absl::StrContains(found->SerializeAsString(), "bus stop"));

  // One identifier is enough; a person nobody referred has none.
  v1::FindSubjectReferralsRequest email_only;
  email_only.set_email(" QZSAR.PERSON@example.org ");
  auto by_email = server_->Client(kDpo).FindSubjectReferrals(email_only);
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  ASSERT_EQ(by_email->referrals_size(), 1);
  EXPECT_EQ(by_email->referrals(0).referral(), c.name());
  v1::FindSubjectReferralsRequest nobody;
  nobody.set_phone("07700 900000");
  auto none = server_->Client(kDpo).FindSubjectReferrals(nobody);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->referrals_size(), 0);

  // Audited as a consultation naming the referrals found; no identifier
  // given is in any audit row.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> searches;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.AuditService.FindSubjectReferrals") continue;
    searches.push_back(absl::StrCat(e.action(), " ", e.referrals_size()));
  }
  EXPECT_THAT(searches, ElementsAre("CONSULTATION 3", "CONSULTATION 1", "CONSULTATION 0"));
  TestDatabase db(server_->config().storage());
  for (const char* canary : {"900123", "qzsar", "QZSAR", "Qzsar", "1990-01-02"}) {
    EXPECT_EQ(db.Int(absl::StrCat("SELECT count(*) FROM audit_events WHERE referral_ids LIKE '%", canary,
                                  "%' OR reason LIKE '%", canary, "%' OR release LIKE '%", canary, "%'")),
              0)
        << canary;
  }

  // Refusals: no usable identifier (a name alone would match strangers),
  // roles without SUBJECT_ACCESS, no certificate.
  v1::FindSubjectReferralsRequest name_only;
  name_only.set_given_name("Qzsar");
  name_only.set_family_name("Person");
  auto vague = server_->Client(kDpo).FindSubjectReferrals(name_only);
  EXPECT_EQ(vague.status().code(), absl::StatusCode::kInvalidArgument) << vague.status();
  EXPECT_FALSE(FieldViolationsOf(vague.status()).empty());
  EXPECT_FALSE(absl::StrContains(vague.status().ToString(), "Qzsar"));
  for (const char* agency : {kPolice, kCityCouncil, kOversight}) {
    auto denied = server_->Client(agency).FindSubjectReferrals(request);
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << agency << " " << denied.status();
    EXPECT_EQ(ErrorReasonOf(denied.status()), "METHOD_NOT_PERMITTED");
  }
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).FindSubjectReferrals(request);
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
}

}  // namespace
}  // namespace refx::testing
