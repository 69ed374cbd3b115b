#include "core/recording_regime.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

v1::Referral IncidentWithAttestedSubject() {
  v1::Referral r;
  r.set_report_type(v1::HATE_INCIDENT);
  auto* record = r.mutable_nchi_subject_record();
  record->add_subjects()->set_description("NCHI-SUBJECT-CANARY");
  auto* attestation = record->mutable_attestation();
  attestation->set_limb(v1::ThresholdAttestation::RISK_OF_SIGNIFICANT_HARM);
  attestation->set_rationale("Repeated targeting of one family over weeks.");
  attestation->set_supervising_officer("PS 1234 Patel");
  return r;
}

TEST(RecordingRegimeTest, TheRegimeFollowsTheReportTypeAndTheSendersRole) {
  EXPECT_EQ(RegimeFor(v1::HATE_CRIME, true), v1::CRIME_RECORDING);
  EXPECT_EQ(RegimeFor(v1::HATE_CRIME, false), v1::CRIME_RECORDING);
  EXPECT_EQ(RegimeFor(v1::HATE_INCIDENT, true), v1::NCHI_COP_2023);
  EXPECT_EQ(RegimeFor(v1::UNDETERMINED, true), v1::NCHI_COP_2023);
  EXPECT_EQ(RegimeFor(v1::HATE_INCIDENT, false), v1::LOCAL_UK_GDPR);
  EXPECT_EQ(RegimeFor(v1::UNDETERMINED, false), v1::LOCAL_UK_GDPR);
}

TEST(RecordingRegimeTest, UnderTheCodeSubjectDataGoesOnlyInTheAttestedRecord) {
  v1::Referral plain;
  plain.set_report_type(v1::HATE_INCIDENT);
  plain.add_subjects()->set_description("tall");
  EXPECT_THAT(RegimeViolations(plain, v1::NCHI_COP_2023, "pc.smith", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.subjects")));
  EXPECT_THAT(RegimeViolations(plain, v1::LOCAL_UK_GDPR, "pc.smith", "referral"), IsEmpty());
  EXPECT_THAT(RegimeViolations(plain, v1::CRIME_RECORDING, "pc.smith", "referral"), IsEmpty());

  const v1::Referral attested = IncidentWithAttestedSubject();
  EXPECT_THAT(RegimeViolations(attested, v1::NCHI_COP_2023, "pc.smith", "referral"), IsEmpty());
  EXPECT_THAT(RegimeViolations(attested, v1::LOCAL_UK_GDPR, "pc.smith", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.nchi_subject_record")));
  EXPECT_THAT(RegimeViolations(attested, v1::CRIME_RECORDING, "pc.smith", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.nchi_subject_record")));
}

TEST(RecordingRegimeTest, TheAttestationNeedsAPersonAndASupervisorWhoIsSomeoneElse) {
  const v1::Referral attested = IncidentWithAttestedSubject();
  EXPECT_THAT(RegimeViolations(attested, v1::NCHI_COP_2023, "", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.nchi_subject_record.attestation")));
  EXPECT_THAT(RegimeViolations(attested, v1::NCHI_COP_2023, " ps 1234 PATEL ", "referral"),
              ElementsAre(Field(&FieldViolation::field,
                                "referral.nchi_subject_record.attestation.supervising_officer")));
  // No description echoes what was sent.
  for (const auto& v : RegimeViolations(attested, v1::LOCAL_UK_GDPR, "", "referral")) {
    EXPECT_EQ(v.description.find("CANARY"), std::string::npos);
  }
}

TEST(RecordingRegimeTest, AReportScreenedOutUnderTheCodeKeepsNoSubjectData) {
  v1::Referral screened;
  screened.set_report_type(v1::HATE_INCIDENT);
  screened.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_MALICIOUS);
  EXPECT_THAT(RegimeViolations(screened, v1::NCHI_COP_2023, "pc.smith", "referral"), IsEmpty());

  // Not even attested: the Code does not record such a report as an NCHI.
  v1::Referral attested = IncidentWithAttestedSubject();
  attested.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_TRIVIAL);
  EXPECT_THAT(RegimeViolations(attested, v1::NCHI_COP_2023, "pc.smith", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.nchi_subject_record")));
  screened.add_subjects()->set_description("NCHI-SUBJECT-CANARY");
  const auto plain = RegimeViolations(screened, v1::NCHI_COP_2023, "pc.smith", "referral");
  ASSERT_THAT(plain, ElementsAre(Field(&FieldViolation::field, "referral.subjects")));
  EXPECT_THAT(plain[0].description, ::testing::HasSubstr("screened out"));
  EXPECT_EQ(plain[0].description.find("CANARY"), std::string::npos);

  // Only a report under the Code is screened under it.
  v1::Referral elsewhere;
  elsewhere.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_IRRATIONAL);
  for (v1::RecordingRegime regime : {v1::CRIME_RECORDING, v1::LOCAL_UK_GDPR}) {
    EXPECT_THAT(RegimeViolations(elsewhere, regime, "pc.smith", "referral"),
                ElementsAre(Field(&FieldViolation::field, "referral.nchi_screened_out")));
  }
}

TEST(RecordingRegimeTest, TheCodesSuccessorIsHeldToTheCodesRulesOnSubjectData) {
  EXPECT_TRUE(RestrictsSubjectData(v1::NCHI_COP_2023));
  EXPECT_TRUE(RestrictsSubjectData(v1::POLICE_POST_REVIEW));
  EXPECT_FALSE(RestrictsSubjectData(v1::CRIME_RECORDING));
  EXPECT_FALSE(RestrictsSubjectData(v1::LOCAL_UK_GDPR));
  EXPECT_FALSE(RestrictsSubjectData(v1::RECORDING_REGIME_UNSPECIFIED));

  v1::Referral plain;
  plain.add_subjects()->set_description("tall");
  EXPECT_THAT(RegimeViolations(plain, v1::POLICE_POST_REVIEW, "pc.smith", "referral"),
              ElementsAre(Field(&FieldViolation::field, "referral.subjects")));
  EXPECT_THAT(RegimeViolations(IncidentWithAttestedSubject(), v1::POLICE_POST_REVIEW, "pc.smith", "referral"),
              IsEmpty());
  v1::Referral screened;
  screened.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_TRIVIAL);
  EXPECT_THAT(RegimeViolations(screened, v1::POLICE_POST_REVIEW, "pc.smith", "referral"), IsEmpty());
  EXPECT_FALSE(RegimeAllowsUpdate(v1::POLICE_POST_REVIEW, v1::CaseUpdate::PERPETRATOR_ACTION));
}

TEST(RecordingRegimeTest, StampingDatesTheRegimeAndCompletesTheAttestation) {
  v1::Referral r = IncidentWithAttestedSubject();
  StampRegime(v1::NCHI_COP_2023, absl::FromUnixSeconds(1780000000), "llr-hate-isa@2026.4", "pc.smith", &r);
  EXPECT_EQ(r.recording_regime().regime(), v1::NCHI_COP_2023);
  EXPECT_EQ(r.recording_regime().apply_time().seconds(), 1780000000);
  EXPECT_EQ(r.recording_regime().agreement(), "llr-hate-isa@2026.4");
  EXPECT_EQ(r.nchi_subject_record().attestation().attested_by(), "pc.smith");
  EXPECT_EQ(r.nchi_subject_record().attestation().attest_time().seconds(), 1780000000);

  v1::Referral crime;
  crime.set_report_type(v1::HATE_CRIME);
  StampRegime(v1::CRIME_RECORDING, absl::FromUnixSeconds(1780000000), "a@1", "pc.smith", &crime);
  EXPECT_FALSE(crime.has_nchi_subject_record());
}

TEST(RecordingRegimeTest, UnderTheCodeCaseUpdatesCarryNoSubjectData) {
  // A perpetrator action, or a correction of one (whose content is that kind's).
  EXPECT_FALSE(RegimeAllowsUpdate(v1::NCHI_COP_2023, v1::CaseUpdate::PERPETRATOR_ACTION));
  EXPECT_TRUE(RegimeAllowsUpdate(v1::NCHI_COP_2023, v1::CaseUpdate::CONTACT_MADE));
  EXPECT_TRUE(RegimeAllowsUpdate(v1::LOCAL_UK_GDPR, v1::CaseUpdate::PERPETRATOR_ACTION));
  EXPECT_TRUE(RegimeAllowsUpdate(v1::RECORDING_REGIME_UNSPECIFIED, v1::CaseUpdate::PERPETRATOR_ACTION));
  // Every kind whose text is subject data is refused, not a list of names.
  const auto* kinds = v1::CaseUpdate::Kind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    const auto kind = static_cast<v1::CaseUpdate::Kind>(kinds->value(i)->number());
    const bool subject = kinds->value(i)->options().GetExtension(v1::content_class) == v1::DATA_CLASS_SUBJECT;
    EXPECT_EQ(RegimeAllowsUpdate(v1::NCHI_COP_2023, kind), !subject) << kinds->value(i)->name();
  }
}

}  // namespace
}  // namespace refx::core
