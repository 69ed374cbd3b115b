// The notification of a non-crime hate incident's subject over real mTLS
// (ADR 9, "Subject notification"; docs/data-protection.md): only the police
// force that sent the referral records the steps (notified, reply received,
// withheld with a reason), only once the agreement lets its role read the
// subject compartment, and only while the referral holds a subject record.
// A step changes nothing any party reads of the referral (not its etag,
// update time or event log), every other party is refused the same way
// whatever the referral holds, each step is audited with the compartment's
// class, and an erasure of the compartment takes the steps with it. No
// refusal echoes the officer's note.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Eq;

constexpr char kNoteCanary[] = "CANARY-NOTIFICATION-NOTE-3e81";
using Step = v1::SubjectNotification;

class SubjectNotificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A police incident to the city council, with an attested subject record
  // or without one.
  std::string CreateIncident(bool with_subject) {
    v1::Referral r = ValidReferral(kCityCouncil);
    r.set_report_type(v1::HATE_INCIDENT);
    r.clear_subjects();
    if (with_subject) {
      auto* record = r.mutable_nchi_subject_record();
      record->add_subjects()->set_description("the subject");
      record->mutable_attestation()->set_limb(v1::ThresholdAttestation::RISK_OF_SIGNIFICANT_HARM);
      record->mutable_attestation()->set_rationale("threshold met");
      record->mutable_attestation()->set_supervising_officer("PS 4410");
    }
    auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("notify-", ++ids_));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->name() : "";
  }

  // The police's investigation purpose granted read of the compartment.
  void GrantPoliceTheCompartment() { GrantPoliceTheSubjectCompartment(*server_); }

  static v1::RecordSubjectNotificationRequest Record(const std::string& referral, const std::string& request_id,
                                                     Step::Status status,
                                                     Step::WithheldReason reason = Step::WITHHELD_REASON_UNSPECIFIED) {
    v1::RecordSubjectNotificationRequest request;
    request.set_parent(referral);
    request.set_request_id(request_id);
    request.mutable_notification()->set_status(status);
    request.mutable_notification()->set_withheld_reason(reason);
    request.mutable_notification()->set_note(kNoteCanary);
    return request;
  }

  absl::StatusOr<v1::ListSubjectNotificationsResponse> List(const std::string& agency, const std::string& referral) {
    v1::ListSubjectNotificationsRequest request;
    request.set_parent(referral);
    return server_->Client(agency).ListSubjectNotifications(request);
  }

  int64_t Count(const std::string& sql) { return TestDatabase(server_->config().storage()).Int(sql); }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

TEST_F(SubjectNotificationTest, TheSenderRecordsStepsApartAndNoPartySeesAnythingChange) {
  const std::string incident = CreateIncident(/*with_subject=*/true);
  ASSERT_FALSE(incident.empty());
  client::ReferralClient police = server_->Client(kPolice);
  client::ReferralClient council = server_->Client(kCityCouncil);

  // The LLR agreement shares the compartment with nobody, the police
  // included: no step is recorded or read until it does.
  auto unshared = police.RecordSubjectNotification(Record(incident, "n-0", Step::NOTIFIED));
  EXPECT_EQ(ErrorReasonOf(unshared.status()), "FIELD_NOT_SHARED") << unshared.status();
  EXPECT_EQ(ErrorReasonOf(List(kPolice, incident).status()), "FIELD_NOT_SHARED");
  GrantPoliceTheCompartment();

  const auto before = council.GetReferral(incident);
  ASSERT_TRUE(before.ok()) << before.status();
  const int64_t events_before = Count("SELECT count(*) FROM referral_events");

  auto notified = police.RecordSubjectNotification(Record(incident, "n-1", Step::NOTIFIED));
  ASSERT_TRUE(notified.ok()) << notified.status();
  EXPECT_EQ(notified->name(), absl::StrCat(incident, "/subjectNotifications/1"));
  EXPECT_EQ(notified->status(), Step::NOTIFIED);
  EXPECT_EQ(notified->note(), kNoteCanary);
  EXPECT_EQ(notified->recorded_by(), "test-caseworker");
  EXPECT_TRUE(notified->has_record_time());
  EXPECT_EQ(notified->occur_time().seconds(), notified->record_time().seconds());  // defaulted

  // A retry answers with the first; the same id for another step is refused.
  auto retried = police.RecordSubjectNotification(Record(incident, "n-1", Step::NOTIFIED));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->SerializeAsString(), notified->SerializeAsString());
  auto reused = police.RecordSubjectNotification(Record(incident, "n-1", Step::REPLY_RECEIVED));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFieldsOf(reused.status()), ElementsAre("request_id"));

  v1::RecordSubjectNotificationRequest withheld =
      Record(incident, "n-2", Step::WITHHELD, Step::PREJUDICE_TO_INVESTIGATION);
  withheld.mutable_notification()->mutable_occur_time()->set_seconds(before->create_time().seconds());
  withheld.mutable_notification()->set_recorded_by("someone else");  // output only: ignored
  auto recorded = police.RecordSubjectNotification(withheld);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->name(), absl::StrCat(incident, "/subjectNotifications/2"));
  EXPECT_EQ(recorded->recorded_by(), "test-caseworker");
  EXPECT_EQ(recorded->occur_time().seconds(), before->create_time().seconds());

  auto listed = List(kPolice, incident);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->notifications_size(), 2);
  EXPECT_EQ(listed->notifications(0).SerializeAsString(), notified->SerializeAsString());
  EXPECT_EQ(listed->notifications(1).withheld_reason(), Step::PREJUDICE_TO_INVESTIGATION);

  // Nothing any party reads of the referral changed, and no event was sent.
  const auto after = council.GetReferral(incident);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->etag(), before->etag());
  EXPECT_EQ(after->update_time().seconds(), before->update_time().seconds());
  EXPECT_EQ(after->update_time().nanos(), before->update_time().nanos());
  EXPECT_EQ(Count("SELECT count(*) FROM referral_events"), events_before);
  EXPECT_EQ(Count("SELECT count(*) FROM subject_notifications"), 2);

  // Each step is audited as collected with the compartment's class; the
  // retry as a replayed consultation.
  v1::ListAuditEventsRequest query;
  query.set_referral(incident);
  auto audit = server_->Client(kDpo).ListAuditEvents(query);
  ASSERT_TRUE(audit.ok()) << audit.status();
  int collected = 0, replayed = 0, lists = 0;
  for (const auto& event : audit->events()) {
    if (event.method() == "refx.v1.ReferralService.RecordSubjectNotification" && event.outcome() == "OK") {
      EXPECT_THAT(event.data_classes(), Contains(v1::DATA_CLASS_NCHI_SUBJECT));
      EXPECT_EQ(event.agency(), absl::StrCat("agencies/", kPolice));
      if (event.action() == "COLLECTION") ++collected;
      if (event.reason() == "REPLAYED") ++replayed;
    }
    if (event.method() == "refx.v1.ReferralService.ListSubjectNotifications" && event.outcome() == "OK") {
      EXPECT_EQ(event.action(), "CONSULTATION");  // the police reading back their own
      EXPECT_THAT(event.data_classes(), Contains(v1::DATA_CLASS_NCHI_SUBJECT));
      ++lists;
    }
  }
  EXPECT_EQ(collected, 2);
  EXPECT_EQ(replayed, 1);
  EXPECT_EQ(lists, 1);
}

TEST_F(SubjectNotificationTest, EveryOtherCallerIsRefusedTheSameWayWhateverTheReferralHolds) {
  GrantPoliceTheCompartment();
  const std::string with_subject = CreateIncident(true);
  const std::string without_subject = CreateIncident(false);
  ASSERT_TRUE(server_->Client(kPolice).RecordSubjectNotification(Record(with_subject, "n-1", Step::NOTIFIED)).ok());
  for (const std::string& incident : {with_subject, without_subject}) {
    SCOPED_TRACE(incident == with_subject ? "with a subject record" : "without one");
    // The recipient: not the sender, and not shared the compartment.
    auto council = server_->Client(kCityCouncil).RecordSubjectNotification(Record(incident, "c-1", Step::NOTIFIED));
    EXPECT_EQ(council.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ErrorReasonOf(council.status()), "NOT_SENDER");
    auto council_list = List(kCityCouncil, incident);
    EXPECT_EQ(council_list.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(ErrorReasonOf(council_list.status()), "FIELD_NOT_SHARED");
    // Not a party: exactly the NOT_FOUND of a referral that does not exist.
    auto outsider = server_->Client(kBlaby).RecordSubjectNotification(Record(incident, "b-1", Step::NOTIFIED));
    EXPECT_EQ(ErrorReasonOf(outsider.status()), "REFERRAL_NOT_FOUND");
    EXPECT_EQ(ErrorReasonOf(List(kBlaby, incident).status()), "REFERRAL_NOT_FOUND");
    for (const absl::Status& refused : {council.status(), council_list.status(), outsider.status()}) {
      EXPECT_FALSE(absl::StrContains(refused.ToString(), kNoteCanary)) << refused;
    }
  }
  // The sender learns of its own referral that it holds no subject record.
  auto none = server_->Client(kPolice).RecordSubjectNotification(Record(without_subject, "n-2", Step::NOTIFIED));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(none.status()), "NO_SUBJECT_RECORD");
  auto missing = List(kPolice, "referrals/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(ErrorReasonOf(missing.status()), "REFERRAL_NOT_FOUND");

  // A role the agreement gives no referral access (the DPO's).
  auto dpo = server_->Client(kDpo).RecordSubjectNotification(Record(with_subject, "d-1", Step::NOTIFIED));
  EXPECT_EQ(ErrorReasonOf(dpo.status()), "METHOD_NOT_PERMITTED") << dpo.status();
  EXPECT_EQ(ErrorReasonOf(List(kDpo, with_subject).status()), "METHOD_NOT_PERMITTED");

  // No certificate: refused at the handshake, before anything is read.
  client::ReferralClient anonymous = server_->ClientWith(TestPki::ClientCert{});
  EXPECT_THAT(anonymous.RecordSubjectNotification(Record(with_subject, "x-1", Step::NOTIFIED)).status().code(),
              AnyOf(Eq(absl::StatusCode::kUnavailable), Eq(absl::StatusCode::kUnauthenticated)));
  v1::ListSubjectNotificationsRequest list;
  list.set_parent(with_subject);
  EXPECT_THAT(anonymous.ListSubjectNotifications(list).status().code(),
              AnyOf(Eq(absl::StatusCode::kUnavailable), Eq(absl::StatusCode::kUnauthenticated)));
  EXPECT_EQ(Count("SELECT count(*) FROM subject_notifications"), 1);
}

TEST_F(SubjectNotificationTest, InvalidStepsAreRefusedByFieldWithoutEchoingTheNote) {
  GrantPoliceTheCompartment();
  const std::string incident = CreateIncident(true);
  client::ReferralClient police = server_->Client(kPolice);
  struct Case {
    const char* what;
    v1::RecordSubjectNotificationRequest request;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"withheld without a reason", Record(incident, "i-1", Step::WITHHELD), "notification.withheld_reason"});
  cases.push_back({"a reason when not withheld", Record(incident, "i-2", Step::NOTIFIED, Step::SAFEGUARDING_RISK),
                   "notification.withheld_reason"});
  Case unknown{"an unknown status", Record(incident, "i-3", Step::NOTIFIED), "notification.status"};
  unknown.request.mutable_notification()->set_status(static_cast<Step::Status>(42));
  cases.push_back(unknown);
  Case long_note{"a note over 1 KiB", Record(incident, "i-4", Step::NOTIFIED), "notification.note"};
  long_note.request.mutable_notification()->set_note(std::string(1025, 'x'));
  cases.push_back(long_note);
  Case future{"a step in the future", Record(incident, "i-5", Step::REPLY_RECEIVED), "notification.occur_time"};
  future.request.mutable_notification()->mutable_occur_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 86400);
  cases.push_back(future);
  cases.push_back({"a malformed parent", Record("referrals/nope", "i-6", Step::NOTIFIED), "parent"});
  cases.push_back({"no request id", Record(incident, "", Step::NOTIFIED), "request_id"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto refused = police.RecordSubjectNotification(c.request);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ViolatedFieldsOf(refused.status()), Contains(c.field));
    EXPECT_FALSE(absl::StrContains(refused.status().ToString(), kNoteCanary));
  }
  // The status left unset is a required field missing.
  v1::RecordSubjectNotificationRequest unset = Record(incident, "i-7", Step::STATUS_UNSPECIFIED);
  auto missing = police.RecordSubjectNotification(unset);
  EXPECT_EQ(ErrorReasonOf(missing.status()), "REQUIRED_FIELD_MISSING");
  EXPECT_THAT(ViolatedFieldsOf(missing.status()), Contains("notification.status"));
  EXPECT_EQ(Count("SELECT count(*) FROM subject_notifications"), 0);
}

TEST_F(SubjectNotificationTest, AnErasureOfTheCompartmentTakesItsStepsWithIt) {
  GrantPoliceTheCompartment();
  const std::string incident = CreateIncident(true);
  const std::string other = CreateIncident(true);
  client::ReferralClient police = server_->Client(kPolice);
  ASSERT_TRUE(police.RecordSubjectNotification(Record(incident, "n-1", Step::NOTIFIED)).ok());
  ASSERT_TRUE(police.RecordSubjectNotification(Record(incident, "n-2", Step::REPLY_RECEIVED)).ok());
  ASSERT_TRUE(police.RecordSubjectNotification(Record(other, "n-1", Step::NOTIFIED)).ok());

  client::ReferralClient dpo = server_->Client(kDpo);
  v1::CreateSubjectRequestRequest open;
  open.mutable_subject_request()->set_kind(v1::SubjectRequest::ERASURE);
  open.mutable_subject_request()->set_reference("DPO-2026-0207");
  open.mutable_subject_request()->set_received_date(absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()));
  open.set_request_id("erasure-1");
  auto erasure = dpo.CreateSubjectRequest(open);
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  v1::EraseSubjectDataRequest erase;
  erase.set_subject_request(erasure->name());
  erase.set_referral(incident);
  erase.add_data_classes(v1::DATA_CLASS_NCHI_SUBJECT);
  auto erased = dpo.EraseSubjectData(erase);
  ASSERT_TRUE(erased.ok()) << erased.status();

  auto listed = List(kPolice, incident);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->notifications_size(), 0);
  EXPECT_EQ(List(kPolice, other)->notifications_size(), 1);  // another referral's are untouched
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM subject_notifications WHERE referral_id = '",
                               incident.substr(incident.find('/') + 1), "'")),
            0);
  // With the record gone there is no subject left to notify.
  auto after = police.RecordSubjectNotification(Record(incident, "n-3", Step::NOTIFIED));
  EXPECT_EQ(ErrorReasonOf(after.status()), "NO_SUBJECT_RECORD");
}

}  // namespace
}  // namespace refx::testing
