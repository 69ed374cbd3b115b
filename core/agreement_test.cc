#include "core/agreement.h"

#include "common/yaml_proto.h"
#include "core/method_permissions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/referral_service.pb.h"

namespace refx::core {
namespace {

using ::testing::HasSubstr;

std::string Source(const std::string& relative) { return std::string(REFX_SOURCE_DIR) + "/" + relative; }

class AgreementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto partnership = Partnership::Load(Source("config/partnership.yaml"));
    ASSERT_TRUE(partnership.ok()) << partnership.status();
    partnership_ = *partnership;
    absl::Status read = ReadYamlFileToProto(Source("config/agreement.yaml"), &config_);
    ASSERT_TRUE(read.ok()) << read;
  }
  absl::StatusOr<std::shared_ptr<const Agreement>> Build(const config::v1::Agreement& c) {
    return Agreement::Create(c, "agreement.yaml", *partnership_);
  }
  Caller As(const std::string& role, const std::string& purpose) {
    Caller c;
    c.role = role;
    c.purpose = purpose;
    return c;
  }
  std::shared_ptr<const Partnership> partnership_;
  config::v1::Agreement config_;
};

TEST_F(AgreementTest, TheShippedAgreementCoversEveryRoleOfThePartnership) {
  auto agreement = Build(config_);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  EXPECT_EQ((*agreement)->Label(), "llr-hate-isa@2026.4");
  for (const auto& agency : partnership_->config().agencies()) {
    EXPECT_TRUE((*agreement)->ResolvePurpose(agency.role(), "").ok()) << agency.id();
  }
}

TEST_F(AgreementTest, ResponseDeadlinesComeFromTheAgreement) {
  auto agreement = Build(config_);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  // Thursday 2 April 2026, 11:00 London: Easter falls in the next days.
  const absl::Time sent = absl::FromCivil(absl::CivilSecond(2026, 4, 2, 11, 0, 0), london);
  // Urgent: one calendar day.
  EXPECT_EQ((*agreement)->ResponseDeadline(v1::PRIORITY_URGENT, sent),
            absl::FromCivil(absl::CivilSecond(2026, 4, 3, 11, 0, 0), london));
  // Routine (and unspecified): five working days, Good Friday and Easter
  // Monday skipped: Tue 7, Wed 8, Thu 9, Fri 10, Mon 13 April.
  const absl::Time routine = absl::FromCivil(absl::CivilSecond(2026, 4, 13, 11, 0, 0), london);
  EXPECT_EQ((*agreement)->ResponseDeadline(v1::PRIORITY_ROUTINE, sent), routine);
  EXPECT_EQ((*agreement)->ResponseDeadline(v1::PRIORITY_UNSPECIFIED, sent), routine);
}

TEST_F(AgreementTest, ResponseDeadlineErrorsNameTheKey) {
  auto c = config_;
  c.mutable_response_deadlines()->RemoveLast();
  EXPECT_THAT(Build(c).status().message(), HasSubstr("agreement.yaml: response_deadlines: no period for PRIORITY_"));
  c = config_;
  c.mutable_response_deadlines(0)->clear_period();
  EXPECT_THAT(Build(c).status().message(),
              HasSubstr("response_deadlines[0]: needs one of hours, calendar_days, working_days"));
  c = config_;
  c.mutable_response_deadlines(1)->set_working_days(0);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("response_deadlines[1]: the period must be between 1 and"));
  c = config_;
  c.mutable_response_deadlines(1)->set_priority(c.response_deadlines(0).priority());
  EXPECT_THAT(Build(c).status().message(), HasSubstr("response_deadlines[1].priority: listed twice"));
  c = config_;
  c.add_bank_holidays("25/12/2026");
  EXPECT_THAT(Build(c).status().message(), HasSubstr("bank_holidays[24]: must be a date, YYYY-MM-DD"));
  c = config_;
  c.set_deadline_time_zone("Europe/Leicester");
  EXPECT_THAT(Build(c).status().message(), HasSubstr("deadline_time_zone: unknown time zone 'Europe/Leicester'"));
}

// The routing record's period ending deletes the referral with everything
// it holds: no class may be promised longer, and operational data has no
// period of its own.
TEST_F(AgreementTest, NoClassIsKeptLongerThanTheRoutingRecord) {
  auto c = config_;
  ASSERT_EQ(c.retention(0).data_class(), v1::DATA_CLASS_REFERRAL_CORE);
  ASSERT_TRUE(Build(c).ok());
  c.mutable_retention(2)->set_days(c.retention(0).days() + 1);
  EXPECT_THAT(Build(c).status().message(),
              HasSubstr("retention[2].days: longer than DATA_CLASS_REFERRAL_CORE's 2190 days, when the referral"));
  c = config_;
  c.mutable_retention(0)->set_days(30);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("longer than DATA_CLASS_REFERRAL_CORE's 30 days"));
  c = config_;
  for (auto& r : *c.mutable_retention()) {
    if (r.data_class() == v1::DATA_CLASS_OPERATIONAL) r.set_days(365);
  }
  EXPECT_THAT(Build(c).status().message(),
              HasSubstr("DATA_CLASS_OPERATIONAL is deleted with the routing record: list it with "
                        "DATA_CLASS_REFERRAL_CORE's 2190 days or not at all"));
}

TEST_F(AgreementTest, AnAgencyThatRedirectedAReferralAwayReadsOnlyTheFormerPartyClasses) {
  auto agreement = Build(config_);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  Caller council;
  council.agency_id = "leicester-city-council";
  council.role = "community_safety";
  council.purpose = "victim_support";
  v1::Referral r;
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.add_recipient_agencies("agencies/leicester-city-council");
  const DataClassSet acting = (*agreement)->ReadableClasses(council, r);
  EXPECT_TRUE(acting.Contains(v1::DATA_CLASS_VICTIM_IDENTITY));
  EXPECT_TRUE((*agreement)->ViewOf(council, r).derived);
  EXPECT_FALSE(Agreement::IsFormerParty(council, r));

  r.add_recipient_agencies("agencies/leicestershire-county-council");
  r.add_redirected_agencies("agencies/leicester-city-council");
  EXPECT_TRUE(Agreement::IsFormerParty(council, r));
  EXPECT_EQ((*agreement)->ReadableClasses(council, r), DataClassSet({v1::DATA_CLASS_REFERRAL_CORE}));
  EXPECT_FALSE((*agreement)->ViewOf(council, r).derived);

  // The agreement may let former parties keep more, never more than the grant.
  auto c = config_;
  c.mutable_former_parties()->add_read(v1::DATA_CLASS_SAFEGUARDING_RISK);
  c.mutable_former_parties()->add_read(v1::DATA_CLASS_SUBJECT);  // not in the council's grant
  auto wider = Build(c);
  ASSERT_TRUE(wider.ok()) << wider.status();
  EXPECT_EQ((*wider)->ReadableClasses(council, r),
            DataClassSet({v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_SAFEGUARDING_RISK}));

  c = config_;
  c.mutable_former_parties()->clear_read();
  c.mutable_former_parties()->add_read(v1::DATA_CLASS_SAFEGUARDING_RISK);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("former_parties.read: must include DATA_CLASS_REFERRAL_CORE"));
  c = config_;
  c.mutable_former_parties()->add_read(v1::DATA_CLASS_REFERRAL_CORE);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("former_parties.read[1]: listed twice"));
  c = config_;
  c.clear_former_parties();
  auto defaults = Build(c);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ((*defaults)->ReadableClasses(council, r), DataClassSet({v1::DATA_CLASS_REFERRAL_CORE}));
}

TEST_F(AgreementTest, AggregateRulesComeFromTheAgreementWithTheNhsDigitalRuleByDefault) {
  auto shipped = Build(config_);
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  EXPECT_EQ((*shipped)->disclosure_rules().suppress_below, 8);
  EXPECT_EQ((*shipped)->disclosure_rules().round_to, 5);
  EXPECT_EQ((*shipped)->tension_rules().baseline_weeks, 12);
  auto c = config_;
  c.clear_statistical_disclosure();
  c.clear_tension_monitoring();
  auto defaults = Build(c);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ((*defaults)->disclosure_rules().suppress_below, 8);
  EXPECT_EQ((*defaults)->disclosure_rules().round_to, 5);
  EXPECT_EQ((*defaults)->disclosure_source(), "NHS Digital rule for sub-national counts");
  EXPECT_DOUBLE_EQ((*defaults)->tension_rules().false_alarm_rate, 0.001);
  EXPECT_EQ((*defaults)->tension_rules().minimum_count, 5);
  c.mutable_statistical_disclosure()->set_suppress_below(10);  // ONS research outputs
  c.mutable_statistical_disclosure()->set_round_to(1);
  auto ons = Build(c);
  ASSERT_TRUE(ons.ok()) << ons.status();
  EXPECT_EQ((*ons)->disclosure_rules().suppress_below, 10);
  EXPECT_EQ((*ons)->disclosure_rules().round_to, 1);
  EXPECT_EQ((*ons)->disclosure_source(), "");

  c = config_;
  c.mutable_statistical_disclosure()->set_suppress_below(1);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("statistical_disclosure: suppress_below must be between 2"));
  c = config_;
  c.mutable_statistical_disclosure()->set_round_to(40);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("statistical_disclosure: round_to is too large"));
  c = config_;
  c.mutable_tension_monitoring()->set_false_alarm_rate(0.7);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("tension_monitoring: false_alarm_rate must be"));
}

TEST_F(AgreementTest, ErrorsNameTheFileTheKeyAndTheProblem) {
  auto c = config_;
  c.mutable_roles(0)->mutable_grants(0)->set_purpose("marketing");
  EXPECT_THAT(Build(c).status().message(),
              HasSubstr("agreement.yaml: roles[0].grants[0].purpose: unknown purpose 'marketing'"));
  c = config_;
  c.mutable_roles(0)->mutable_grants(0)->add_lawful_bases("because-we-can");
  EXPECT_THAT(Build(c).status().message(), HasSubstr("unknown lawful basis 'because-we-can'"));
  c = config_;
  c.mutable_roles()->RemoveLast();  // data_protection_officer
  EXPECT_THAT(Build(c).status().message(), HasSubstr("no rules for role 'data_protection_officer'"));
  c = config_;
  c.clear_version();
  EXPECT_THAT(Build(c).status().message(), HasSubstr("version: required"));
  c = config_;
  *c.add_roles() = c.roles(0);
  EXPECT_THAT(Build(c).status().message(), HasSubstr("duplicate role 'police'"));
}

TEST_F(AgreementTest, ConsentDecidesWhichClassesFlow) {
  auto agreement = *Build(config_);
  const Caller council = As("community_safety", "victim_support");
  v1::Referral r;
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  EXPECT_TRUE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_VICTIM_CONTACT));
  EXPECT_FALSE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_SUBJECT));

  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  EXPECT_FALSE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_VICTIM_CONTACT));
  EXPECT_TRUE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_REFERRAL_CORE));
  EXPECT_FALSE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_SAFEGUARDING_RISK));

  r.mutable_victim()->mutable_consent()->set_lawful_basis("dpa-2018-sch1-para18");
  EXPECT_TRUE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_SAFEGUARDING_RISK));
  EXPECT_FALSE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_VICTIM_CONTACT));

  // A basis the council's grant does not list opens nothing more.
  r.mutable_victim()->mutable_consent()->set_lawful_basis("ctsa-2015-s38");
  EXPECT_FALSE(agreement->ReadableClasses(council, r).Contains(v1::DATA_CLASS_SAFEGUARDING_RISK));
}

TEST_F(AgreementTest, ASuccessorRegimeTakesOverFromTheStartOfItsDayInLondon) {
  auto none = Build(config_);
  ASSERT_TRUE(none.ok()) << none.status();
  const absl::Time far = absl::FromUnixSeconds(4102444800);
  EXPECT_EQ((*none)->RegimeInForce(v1::NCHI_COP_2023, far), v1::NCHI_COP_2023);

  config::v1::Agreement c = config_;
  auto* succession = c.add_regime_successions();
  succession->set_from(v1::NCHI_COP_2023);
  succession->set_to(v1::POLICE_POST_REVIEW);
  succession->set_effective_date("2027-06-01");  // British Summer Time: 23:00 UTC the day before
  succession->set_subject_data(config::v1::RegimeSuccession::PURGE);
  auto agreement = Build(c);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  const absl::Time start = absl::FromCivil(absl::CivilDay(2027, 6, 1), london);
  EXPECT_EQ(start, absl::FromCivil(absl::CivilSecond(2027, 5, 31, 23, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ((*agreement)->RegimeInForce(v1::NCHI_COP_2023, start - absl::Seconds(1)), v1::NCHI_COP_2023);
  EXPECT_EQ((*agreement)->RegimeInForce(v1::NCHI_COP_2023, start), v1::POLICE_POST_REVIEW);
  // Other regimes have no successor.
  EXPECT_EQ((*agreement)->RegimeInForce(v1::CRIME_RECORDING, start), v1::CRIME_RECORDING);
  EXPECT_EQ((*agreement)->RegimeInForce(v1::LOCAL_UK_GDPR, start), v1::LOCAL_UK_GDPR);
}

TEST_F(AgreementTest, ASuccessionMustSayWhatHappensToSubjectData) {
  auto with = [&](auto edit) {
    config::v1::Agreement c = config_;
    auto* s = c.add_regime_successions();
    s->set_from(v1::NCHI_COP_2023);
    s->set_to(v1::POLICE_POST_REVIEW);
    s->set_effective_date("2027-06-01");
    s->set_subject_data(config::v1::RegimeSuccession::KEEP);
    edit(*s, c);
    return Build(c).status();
  };
  EXPECT_TRUE(with([](auto&, auto&) {}).ok());
  EXPECT_THAT(with([](auto& s, auto&) { s.clear_subject_data(); }).message(),
              HasSubstr("regime_successions[0].subject_data: required: KEEP or PURGE"));
  EXPECT_THAT(with([](auto& s, auto&) { s.set_effective_date("1 June 2027"); }).message(),
              HasSubstr("regime_successions[0].effective_date: required, YYYY-MM-DD"));
  EXPECT_THAT(with([](auto& s, auto&) { s.set_from(v1::CRIME_RECORDING); }).message(),
              HasSubstr("regime_successions[0].from: must be NCHI_COP_2023"));
  EXPECT_THAT(with([](auto& s, auto&) { s.set_to(v1::LOCAL_UK_GDPR); }).message(),
              HasSubstr("regime_successions[0].to: must be POLICE_POST_REVIEW"));
  EXPECT_THAT(with([](auto& s, auto& c) { *c.add_regime_successions() = s; }).message(),
              HasSubstr("regime_successions[1].from: listed twice"));
}

TEST_F(AgreementTest, PurposeRoleAndPreventRules) {
  auto agreement = *Build(config_);
  EXPECT_EQ(*agreement->ResolvePurpose("police", ""), "investigation");
  EXPECT_EQ(*agreement->ResolvePurpose("police", "safeguarding"), "safeguarding");
  EXPECT_EQ(agreement->ResolvePurpose("police", "prevent").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(agreement->ResolvePurpose("nobody", "").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(agreement->Allows("oversight", config::v1::REFERRAL_READ));
  EXPECT_FALSE(agreement->Allows("administrator", config::v1::REFERRAL_READ));
  EXPECT_TRUE(agreement->Allows("data_protection_officer", config::v1::AUDIT_READ));
  EXPECT_FALSE(agreement->Allows("data_protection_officer", config::v1::REFERRAL_READ));

  v1::Referral plain, prevent;
  prevent.set_prevent_concern(true);
  EXPECT_FALSE(agreement->RecordVisible(As("prevent", "prevent"), plain));
  EXPECT_TRUE(agreement->RecordVisible(As("prevent", "prevent"), prevent));
  EXPECT_TRUE(agreement->RecordVisible(As("police", "investigation"), plain));
}

// Every RPC of every refx.v1 service must be in the method table.
TEST(MethodPermissionsTest, EveryServiceMethodHasARule) {
  int methods = 0;
  for (const auto* file : {v1::GetReferralRequest::descriptor()->file(), v1::AuditEvent::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        ++methods;
        EXPECT_TRUE(RuleForMethod(file->service(s)->method(m)->full_name()).ok())
            << file->service(s)->method(m)->full_name() << " has no permission rule";
      }
    }
  }
  EXPECT_GE(methods, 6);
  EXPECT_FALSE(RuleForMethod("refx.v1.ReferralService.DeleteEverything").ok());
}

TEST_F(AgreementTest, AdmitCallAppliesTheGate) {
  auto agreement = *Build(config_);
  Caller police = As("police", "");
  police.acting_user = "pc-1234";
  auto admitted = AdmitCall(police, "refx.v1.ReferralService.GetReferral", agreement, "");
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(admitted->purpose, "investigation");
  EXPECT_EQ(admitted->agreement, agreement);

  Caller anonymous = As("police", "");
  EXPECT_EQ(AdmitCall(anonymous, "refx.v1.ReferralService.GetReferral", agreement, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AdmitCall(anonymous, "refx.v1.ReferralService.WhoAmI", agreement, "").ok());

  Caller admin = As("administrator", "");
  admin.acting_user = "admin";
  EXPECT_EQ(AdmitCall(admin, "refx.v1.ReferralService.ListReferrals", agreement, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AdmitCall(police, "refx.v1.ReferralService.Unlisted", agreement, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AdmitCall(police, "refx.v1.ReferralService.GetReferral", agreement, "prevent").status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace refx::core

#include <fstream>
#include <sstream>

#include "core/agreement_table.h"

namespace refx::core {
namespace {

// docs/agreement.md carries the generated table between markers; if the
// agreement changes, regenerate it (`refx-admin agreement table`).
TEST(AgreementTableTest, TheDocumentedTableMatchesTheShippedAgreement) {
  config::v1::Agreement config;
  ASSERT_TRUE(ReadYamlFileToProto(Source("config/agreement.yaml"), &config).ok());
  std::ifstream in(Source("docs/agreement.md"));
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  const std::string begin = "<!-- BEGIN GENERATED TABLE -->\n", end = "<!-- END GENERATED TABLE -->";
  const size_t b = text.find(begin), e = text.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(text.substr(b + begin.size(), e - b - begin.size()), AgreementTableMarkdown(config))
      << "docs/agreement.md is stale: regenerate with `refx-admin agreement table config/agreement.yaml`";
}

TEST(AgreementTableTest, CellsFollowTheGrants) {
  config::v1::Agreement config;
  ASSERT_TRUE(ReadYamlFileToProto(Source("config/agreement.yaml"), &config).ok());
  const std::string table = AgreementTableMarkdown(config);
  EXPECT_NE(table.find("| oversight | (none: REPORT_READ, REPORT_PARTNERSHIP, TENSION_ACKNOWLEDGE) |"), std::string::npos) << table;
  EXPECT_NE(table.find("| data_protection_officer | (none: AUDIT_READ, REPORT_READ, REPORT_PARTNERSHIP, SUBJECT_ACCESS, RETENTION_MANAGE) |"), std::string::npos);
  EXPECT_NE(table.find("| prevent (Prevent-relevant only) | prevent (default) |"), std::string::npos);
}

}  // namespace
}  // namespace refx::core
