#include "core/referral_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::IsEmpty;

std::shared_ptr<const Partnership> TestPartnership() {
  config::v1::Partnership p;
  p.set_id("llr");
  p.set_trust_domain("llr.refx.example");
  p.add_areas()->set_id("leicester");
  p.add_strands()->set_id("race");
  auto* religion = p.add_strands();
  religion->set_id("religion_or_belief");
  religion->set_requires_targeted_religion(true);
  for (const char* id : {"police", "council", "suspended"}) {
    auto* a = p.add_agencies();
    a->set_id(id);
    a->set_display_name(id);
    a->set_type(config::v1::POLICE);
    a->set_role("r");
    a->set_suspended(std::string(id) == "suspended");
  }
  return *Partnership::Create(p, "test");
}

v1::Referral Valid() {
  v1::Referral r;
  r.set_report_type(v1::HATE_CRIME);
  auto* s = r.add_strands();
  s->set_strand("race");
  s->set_basis(v1::Strand::PERCEIVED);
  r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
  r.set_area("leicester");
  r.set_incident_narrative("words");
  r.mutable_victim()->set_given_name("Sam");
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.add_recipient_agencies("agencies/council");
  return r;
}

std::vector<FieldViolation> Check(const v1::Referral& r) {
  Caller caller;
  caller.agency_id = "police";
  return ValidateNewReferral(r, caller, *TestPartnership(), absl::FromUnixSeconds(1800000000), "referral");
}

auto HasField(const std::string& f) { return Contains(Field(&FieldViolation::field, f)); }

TEST(ReferralValidationTest, ValidReferralPasses) { EXPECT_THAT(Check(Valid()), IsEmpty()); }

TEST(ReferralValidationTest, MissingRequiredFieldsAreEachNamed) {
  auto v = Check(v1::Referral());
  for (const char* f : {"referral.report_type", "referral.strands", "referral.perceived_by",
                        "referral.reporting_channel", "referral.area", "referral.incident_narrative",
                        "referral.victim", "referral.recipient_agencies"}) {
    EXPECT_THAT(v, HasField(f));
  }
}

TEST(ReferralValidationTest, UnknownAreaStrandEnumAndOversizeNarrative) {
  auto r = Valid();
  r.set_area("atlantis");
  r.mutable_strands(0)->set_strand("astrology");
  r.set_report_type(static_cast<v1::ReportType>(99));
  r.set_incident_narrative(std::string(kMaxNarrativeBytes + 1, 'x'));
  auto v = Check(r);
  EXPECT_THAT(v, HasField("referral.area"));
  EXPECT_THAT(v, HasField("referral.strands[0].strand"));
  EXPECT_THAT(v, HasField("referral.report_type"));
  EXPECT_THAT(v, HasField("referral.incident_narrative"));
}

TEST(ReferralValidationTest, RecipientsMustBeOtherActiveRegisteredAgencies) {
  auto r = Valid();
  r.clear_recipient_agencies();
  for (const char* n : {"agencies/police", "agencies/nobody", "agencies/suspended", "council", "agencies/council",
                        "agencies/council"}) {
    r.add_recipient_agencies(n);
  }
  auto v = Check(r);
  for (int i : {0, 1, 2, 3, 5}) EXPECT_THAT(v, HasField(absl::StrCat("referral.recipient_agencies[", i, "]")));
  EXPECT_THAT(v, ::testing::Not(HasField("referral.recipient_agencies[4]")));
}

TEST(ReferralValidationTest, StrandRulesConsentBasisDatesAndFuture) {
  auto r = Valid();
  auto* s = r.add_strands();
  s->set_strand("religion_or_belief");
  s->set_basis(v1::Strand::ACTUAL);
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::REFUSED);
  r.mutable_victim()->set_birth_date("2001-02-30");
  r.mutable_occur_time()->set_seconds(1900000000);
  auto v = Check(r);
  EXPECT_THAT(v, HasField("referral.strands[1].targeted_religion"));
  EXPECT_THAT(v, HasField("referral.victim.consent.lawful_basis"));
  EXPECT_THAT(v, HasField("referral.victim.birth_date"));
  EXPECT_THAT(v, HasField("referral.occur_time"));
}

TEST(ReferralValidationTest, DescriptionsNeverEchoValues) {
  auto r = Valid();
  r.set_area("CANARY-AREA");
  r.mutable_victim()->set_birth_date("CANARY-DOB");
  for (const auto& v : Check(r)) EXPECT_EQ(v.description.find("CANARY"), std::string::npos);
}

TEST(ReferralValidationTest, RequestIds) {
  EXPECT_THAT(ValidateRequestId(""), HasField("request_id"));
  EXPECT_THAT(ValidateRequestId("has space"), HasField("request_id"));
  EXPECT_THAT(ValidateRequestId(std::string(65, 'a')), HasField("request_id"));
  EXPECT_THAT(ValidateRequestId("0f3c-AB:1.2_x"), IsEmpty());
}

}  // namespace
}  // namespace refx::core
