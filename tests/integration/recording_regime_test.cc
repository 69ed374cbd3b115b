// The recording regime over real mTLS (docs/data-protection.md, "The
// recording regime"): every referral is dated with the regime it was made
// under; a police force's non-crime hate incident takes subject data only in
// its own compartment, with a threshold attestation whose supervisor is
// someone else; that compartment reaches nobody the agreement does not name
// (the police included) until the agreement grants it; a council's incident
// is under UK GDPR alone and has no compartment; and under the Code no case
// update adds subject data afterwards. Nothing refused is stored, and no
// refusal or log line echoes the subject.
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::Contains;
using ::testing::Field;

constexpr char kSubjectCanary[] = "CANARY-NCHI-SUBJECT-7f3a";
constexpr char kRationaleCanary[] = "CANARY-NCHI-RATIONALE-19c2";

v1::Referral Incident(const std::string& recipient = kCityCouncil) {
  v1::Referral r = ValidReferral(recipient);
  r.set_report_type(v1::HATE_INCIDENT);
  return r;
}

v1::Referral AttestedIncident() {
  v1::Referral r = Incident();
  auto* record = r.mutable_nchi_subject_record();
  record->add_subjects()->set_description(kSubjectCanary);
  auto* attestation = record->mutable_attestation();
  attestation->set_limb(v1::ThresholdAttestation::RISK_OF_CRIMINAL_OFFENCE);
  attestation->set_rationale(kRationaleCanary);
  attestation->set_supervising_officer("PS 4410");
  return r;
}

// A case update naming a perpetrator (subject data, kSubjectCanary) on
// `referral` as last read.
v1::AddCaseUpdateRequest PerpetratorAction(const v1::Referral& referral, const std::string& request_id) {
  v1::AddCaseUpdateRequest add;
  add.set_parent(referral.name());
  add.set_etag(referral.etag());
  add.set_request_id(request_id);
  add.mutable_update()->set_kind(v1::CaseUpdate::PERPETRATOR_ACTION);
  add.mutable_update()->set_text(kSubjectCanary);
  return add;
}

class RecordingRegimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  absl::StatusOr<v1::Referral> Create(const std::string& agency, const v1::Referral& r) {
    return server_->Client(agency).CreateReferral(r, absl::StrCat("regime-", ++ids_));
  }

  int64_t StoredReferrals() { return TestDatabase(server_->config().storage()).Int("SELECT count(*) FROM referrals"); }

  // Grants the police's investigation purpose read of the NCHI subject class.
  void GrantPoliceTheCompartment() { GrantPoliceTheSubjectCompartment(*server_); }

  void ReloadAgreement(const std::string& suffix, const std::function<void(config::v1::Agreement&)>& change) {
    ReloadAgreementWith(*server_, suffix, change);
  }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

TEST_F(RecordingRegimeTest, EveryReferralIsDatedWithTheRegimeItWasMadeUnder) {
  struct Case {
    const char* sender;
    const char* recipient;
    v1::ReportType type;
    v1::RecordingRegime want;
  };
  for (const Case& c : {Case{kPolice, kCityCouncil, v1::HATE_CRIME, v1::CRIME_RECORDING},
                        Case{kPolice, kCityCouncil, v1::HATE_INCIDENT, v1::NCHI_COP_2023},
                        Case{kPolice, kCityCouncil, v1::UNDETERMINED, v1::NCHI_COP_2023},
                        Case{kCityCouncil, kPolice, v1::HATE_INCIDENT, v1::LOCAL_UK_GDPR},
                        Case{kCityCouncil, kPolice, v1::HATE_CRIME, v1::CRIME_RECORDING}}) {
    SCOPED_TRACE(absl::StrCat(c.sender, " ", v1::ReportType_Name(c.type)));
    v1::Referral r = ValidReferral(c.recipient);
    r.set_report_type(c.type);
    r.clear_subjects();
    auto created = Create(c.sender, r);
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_EQ(created->recording_regime().regime(), c.want);
    EXPECT_EQ(created->recording_regime().apply_time().seconds(), created->create_time().seconds());
    EXPECT_EQ(created->recording_regime().agreement(), server_->server()->agreement()->Label());
    // A routing fact: the other party reads it too.
    auto read = server_->Client(c.recipient).GetReferral(created->name());
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->recording_regime().regime(), c.want);
  }
}

TEST_F(RecordingRegimeTest, UnderTheCodeSubjectDataWithoutAnAttestationIsRefusedAndNothingIsStored) {
  const int64_t before = StoredReferrals();

  v1::Referral plain = Incident();
  plain.add_subjects()->set_description(kSubjectCanary);
  auto refused = Create(kPolice, plain);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.subjects"));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kSubjectCanary));

  v1::Referral unattested = AttestedIncident();
  unattested.mutable_nchi_subject_record()->clear_attestation();
  refused = Create(kPolice, unattested);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_subject_record.attestation"));

  v1::Referral no_limb = AttestedIncident();
  no_limb.mutable_nchi_subject_record()->mutable_attestation()->clear_limb();
  no_limb.mutable_nchi_subject_record()->mutable_attestation()->clear_supervising_officer();
  refused = Create(kPolice, no_limb);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_subject_record.attestation.limb"));
  EXPECT_THAT(ViolatedFieldsOf(refused.status()),
              Contains("referral.nchi_subject_record.attestation.supervising_officer"));

  // The person attesting cannot be their own supervisor (the test client
  // acts as "test-caseworker").
  v1::Referral self_supervised = AttestedIncident();
  self_supervised.mutable_nchi_subject_record()->mutable_attestation()->set_supervising_officer("Test-Caseworker");
  refused = Create(kPolice, self_supervised);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()),
              Contains("referral.nchi_subject_record.attestation.supervising_officer"));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kRationaleCanary));

  // A crime has no compartment: its subjects go in `subjects`.
  v1::Referral crime = AttestedIncident();
  crime.set_report_type(v1::HATE_CRIME);
  refused = Create(kPolice, crime);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_subject_record"));

  // Nobody named to attest: a system sending without x-refx-acting-user is
  // refused before the regime is looked at, and nothing is echoed.
  client::ConnectionOptions unnamed;
  unnamed.server = server_->address();
  unnamed.timeout = absl::Seconds(10);
  unnamed.acting_user = "";
  refused = client::ReferralClient(server_->Channel(server_->pki().Agency(kPolice)), unnamed)
                .CreateReferral(AttestedIncident(), "regime-unnamed");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kSubjectCanary));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kRationaleCanary));

  EXPECT_EQ(StoredReferrals(), before);
}

TEST_F(RecordingRegimeTest, AnAttestedSubjectIsStoredApartAndReachesNobodyUntilTheAgreementGrantsIt) {
  auto created = Create(kPolice, AttestedIncident());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->recording_regime().regime(), v1::NCHI_COP_2023);
  // Not even the force that recorded it reads it back: the LLR agreement
  // grants the class to no role.
  EXPECT_FALSE(created->has_nchi_subject_record());
  for (const char* reader : {kPolice, kCityCouncil}) {
    auto read = server_->Client(reader).GetReferral(created->name());
    ASSERT_TRUE(read.ok()) << reader << ": " << read.status();
    EXPECT_FALSE(read->has_nchi_subject_record()) << reader;
    EXPECT_FALSE(absl::StrContains(read->SerializeAsString(), kSubjectCanary)) << reader;
  }
  // A read mask naming it is refused as not shared, not answered empty.
  auto masked = server_->Client(kCityCouncil).GetReferral(created->name(), {"nchi_subject_record"});
  EXPECT_EQ(ErrorReasonOf(masked.status()), "FIELD_NOT_SHARED") << masked.status();

  // The audit log records what each answer disclosed: never the class.
  v1::ListAuditEventsRequest query;
  query.set_referral(created->name());
  auto audit = server_->Client(kDpo).ListAuditEvents(query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_GE(audit->events_size(), 3);
  for (const auto& event : audit->events()) {
    EXPECT_THAT(event.data_classes(), ::testing::Not(Contains(v1::DATA_CLASS_NCHI_SUBJECT))) << event.method();
  }

  // Once the agreement names a reader, it was there all along, attested by
  // the person who created the referral, at its creation.
  GrantPoliceTheCompartment();
  auto granted = server_->Client(kPolice).GetReferral(created->name());
  ASSERT_TRUE(granted.ok()) << granted.status();
  ASSERT_TRUE(granted->has_nchi_subject_record());
  ASSERT_EQ(granted->nchi_subject_record().subjects_size(), 1);
  EXPECT_EQ(granted->nchi_subject_record().subjects(0).description(), kSubjectCanary);
  const auto& attestation = granted->nchi_subject_record().attestation();
  EXPECT_EQ(attestation.limb(), v1::ThresholdAttestation::RISK_OF_CRIMINAL_OFFENCE);
  EXPECT_EQ(attestation.supervising_officer(), "PS 4410");
  EXPECT_EQ(attestation.attested_by(), "test-caseworker");
  EXPECT_EQ(attestation.attest_time().seconds(), created->create_time().seconds());
  auto council = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(council.ok());
  EXPECT_FALSE(council->has_nchi_subject_record());
}

TEST_F(RecordingRegimeTest, AnOutputOnlyAttestorIsIgnoredNotTrusted) {
  v1::Referral r = AttestedIncident();
  r.mutable_nchi_subject_record()->mutable_attestation()->set_attested_by("ci.someone-else");
  auto created = Create(kPolice, r);
  ASSERT_TRUE(created.ok()) << created.status();
  GrantPoliceTheCompartment();
  auto granted = server_->Client(kPolice).GetReferral(created->name());
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->nchi_subject_record().attestation().attested_by(), "test-caseworker");
}

TEST_F(RecordingRegimeTest, AnIncidentOutsideTheCodeHasNoCompartment) {
  const int64_t before = StoredReferrals();
  v1::Referral council = AttestedIncident();
  council.clear_recipient_agencies();
  council.add_recipient_agencies(absl::StrCat("agencies/", kPolice));
  auto refused = Create(kCityCouncil, council);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_subject_record"));
  EXPECT_EQ(StoredReferrals(), before);
}

// The Code: a report that is trivial, irrational or malicious is not
// recorded as an NCHI. The police may still refer the victim for support,
// and refx keeps no subject data of such a report.
TEST_F(RecordingRegimeTest, AReportScreenedOutUnderTheCodeKeepsNoSubjectDataAndOnlyThePoliceSeeWhy) {
  const int64_t before = StoredReferrals();
  v1::Referral attested = AttestedIncident();
  attested.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_MALICIOUS);
  auto refused = Create(kPolice, attested);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_subject_record"));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kSubjectCanary));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kRationaleCanary));

  v1::Referral with_subjects = Incident();
  with_subjects.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_TRIVIAL);
  with_subjects.add_subjects()->set_description(kSubjectCanary);
  refused = Create(kPolice, with_subjects);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.subjects"));
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kSubjectCanary));

  // Only a report under the Code is screened under it: not a crime, and not
  // a council's incident (which the council may not write police data into
  // either).
  v1::Referral crime = Incident();
  crime.set_report_type(v1::HATE_CRIME);
  crime.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_TRIVIAL);
  refused = Create(kPolice, crime);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_screened_out"));
  v1::Referral council = Incident(kPolice);
  council.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_TRIVIAL);
  refused = Create(kCityCouncil, council);
  EXPECT_FALSE(refused.ok());
  v1::Referral unknown = Incident();
  unknown.set_nchi_screened_out(static_cast<v1::NchiScreenedOut>(42));
  refused = Create(kPolice, unknown);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.nchi_screened_out"));
  EXPECT_EQ(StoredReferrals(), before);

  v1::Referral screened = Incident();
  screened.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_MALICIOUS);
  auto created = Create(kPolice, screened);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->recording_regime().regime(), v1::NCHI_COP_2023);
  EXPECT_EQ(created->nchi_screened_out(), v1::NCHI_SCREENED_OUT_MALICIOUS);
  EXPECT_EQ(created->subjects_size(), 0);
  // The council supporting the victim is not told how the police judged the
  // report: the field is police crime data, withheld and refused by a mask.
  auto read = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->nchi_screened_out(), v1::NCHI_SCREENED_OUT_UNSPECIFIED);
  auto masked = server_->Client(kCityCouncil).GetReferral(created->name(), {"nchi_screened_out"});
  EXPECT_EQ(ErrorReasonOf(masked.status()), "FIELD_NOT_SHARED") << masked.status();

  // And nothing adds subject data afterwards.
  v1::AddCaseUpdateRequest add = PerpetratorAction(*created, "regime-screened-update");
  auto update = server_->Client(kPolice).AddCaseUpdate(add);
  EXPECT_EQ(update.status().code(), absl::StatusCode::kFailedPrecondition) << update.status();
  EXPECT_EQ(ErrorReasonOf(update.status()), "REGIME_REFUSES_SUBJECT_DATA");
}

// From the date the agreement gives it (the start of that day in London),
// a police incident is made under the Code's successor, held to the Code's
// rules on subject data; nothing else moves, and nothing made before moves.
TEST_F(RecordingRegimeTest, FromItsDateAPoliceIncidentIsMadeUnderTheCodesSuccessor) {
  absl::TimeZone london;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &london));
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), london);
  auto succeed_on = [&](absl::CivilDay day) {
    return [day](config::v1::Agreement& next) {
      next.clear_regime_successions();  // the file in force may hold an earlier one
      auto* succession = next.add_regime_successions();
      succession->set_from(v1::NCHI_COP_2023);
      succession->set_to(v1::POLICE_POST_REVIEW);
      succession->set_effective_date(absl::FormatCivilTime(day));
      succession->set_subject_data(config::v1::RegimeSuccession::PURGE);
      succession->set_note("NPCC and College of Policing review of NCHIs");
    };
  };
  v1::Referral plain = Incident();
  ReloadAgreement("-successor-later", succeed_on(today + 2));
  auto before = Create(kPolice, plain);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->recording_regime().regime(), v1::NCHI_COP_2023);

  ReloadAgreement("-successor-today", succeed_on(today));
  const std::string label = server_->server()->agreement()->Label();
  EXPECT_THAT(label, ::testing::EndsWith("-successor-today"));
  auto after = Create(kPolice, plain);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->recording_regime().regime(), v1::POLICE_POST_REVIEW);
  EXPECT_EQ(after->recording_regime().agreement(), label);
  auto council_read = server_->Client(kCityCouncil).GetReferral(after->name());
  ASSERT_TRUE(council_read.ok()) << council_read.status();
  EXPECT_EQ(council_read->recording_regime().regime(), v1::POLICE_POST_REVIEW);
  // What was made before stays as it was made (`refx-admin regime migrate`
  // is what moves it; not built yet).
  auto earlier = server_->Client(kPolice).GetReferral(before->name());
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_EQ(earlier->recording_regime().regime(), v1::NCHI_COP_2023);

  // The Code's rules on subject data hold under its successor.
  const int64_t stored = StoredReferrals();
  v1::Referral with_subjects = Incident();
  with_subjects.add_subjects()->set_description(kSubjectCanary);
  auto refused = Create(kPolice, with_subjects);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains("referral.subjects"));
  EXPECT_EQ(StoredReferrals(), stored);
  auto attested = Create(kPolice, AttestedIncident());
  ASSERT_TRUE(attested.ok()) << attested.status();
  EXPECT_EQ(attested->recording_regime().regime(), v1::POLICE_POST_REVIEW);
  v1::Referral screened = Incident();
  screened.set_nchi_screened_out(v1::NCHI_SCREENED_OUT_IRRATIONAL);
  auto screened_created = Create(kPolice, screened);
  ASSERT_TRUE(screened_created.ok()) << screened_created.status();
  v1::AddCaseUpdateRequest add = PerpetratorAction(*after, "regime-successor-update");
  auto update = server_->Client(kPolice).AddCaseUpdate(add);
  EXPECT_EQ(ErrorReasonOf(update.status()), "REGIME_REFUSES_SUBJECT_DATA") << update.status();
  EXPECT_EQ(ErrorMetadataOf(update.status())["regime"], "POLICE_POST_REVIEW");
  EXPECT_FALSE(absl::StrContains(update.status().ToString(), kSubjectCanary));

  // Crimes, and partners' incidents, are under the regimes they were under.
  v1::Referral crime = ValidReferral();
  auto crime_created = Create(kPolice, crime);
  ASSERT_TRUE(crime_created.ok()) << crime_created.status();
  EXPECT_EQ(crime_created->recording_regime().regime(), v1::CRIME_RECORDING);
  auto council = Create(kCityCouncil, Incident(kPolice));
  ASSERT_TRUE(council.ok()) << council.status();
  EXPECT_EQ(council->recording_regime().regime(), v1::LOCAL_UK_GDPR);
}

TEST_F(RecordingRegimeTest, UnderTheCodeNoCaseUpdateAddsSubjectDataAfterwards) {
  auto incident = Create(kPolice, AttestedIncident());
  ASSERT_TRUE(incident.ok()) << incident.status();
  v1::AddCaseUpdateRequest add = PerpetratorAction(*incident, "regime-update-1");
  auto refused = server_->Client(kPolice).AddCaseUpdate(add);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "REGIME_REFUSES_SUBJECT_DATA");
  EXPECT_EQ(ErrorMetadataOf(refused.status())["regime"], "NCHI_COP_2023");
  EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kSubjectCanary));
  EXPECT_EQ(TestDatabase(server_->config().storage()).Int("SELECT count(*) FROM case_updates"), 0);

  // Other kinds still go on the record; and a crime takes perpetrator actions.
  add.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
  add.mutable_update()->set_text("No answer");
  add.set_request_id("regime-update-2");
  EXPECT_TRUE(server_->Client(kPolice).AddCaseUpdate(add).ok());

  v1::Referral crime_input = ValidReferral();
  auto crime = Create(kPolice, crime_input);
  ASSERT_TRUE(crime.ok()) << crime.status();
  add.set_parent(crime->name());
  add.set_etag(crime->etag());
  add.set_request_id("regime-update-3");
  add.mutable_update()->set_kind(v1::CaseUpdate::PERPETRATOR_ACTION);
  add.mutable_update()->set_text("Suspect interviewed");
  auto allowed = server_->Client(kPolice).AddCaseUpdate(add);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
}

}  // namespace
}  // namespace refx::testing
