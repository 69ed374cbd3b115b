// Community-tension alerts end to end (issue 15), on the reporting fixture
// (reporting_test_support.h): a planted spike found and given only as
// bands, and the tensions group's acknowledgement of an alert, once, with a
// note. (The live stream of alerts is tension_watch_test.cc.)
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/reporting_test_support.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ReportingTest, TensionAlertsFindAPlantedSpikeAndGiveOnlyBands) {
  // Twelve race referrals in Leicester over the first weeks of the year,
  // then sixteen in 2026-W14 (fifteen planted, one from the fixture).
  for (int i = 0; i < 15; ++i) {
    clock_.Set(LondonTime(2026, 3, 31, 10) + absl::Minutes(i));
    ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("w14-", i)).ok());
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));

  // By default the last 13 ended weeks: 2026-W14 to 2026-W26.
  auto listed = server_->Client(kOversight).ListTensionAlerts({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->first_week(), "2026-W14");
  EXPECT_EQ(listed->last_week(), "2026-W26");
  ASSERT_EQ(listed->alerts_size(), 1) << listed->ShortDebugString();
  const v1::TensionAlert& alert = listed->alerts(0);
  EXPECT_EQ(alert.area(), "leicester");
  EXPECT_EQ(alert.strand(), "race");
  EXPECT_EQ(alert.week(), "2026-W14");
  EXPECT_EQ(FromProto(alert.week_start()), LondonTime(2026, 3, 30, 0));
  EXPECT_EQ(alert.count_band(), "10 to 19");
  EXPECT_EQ(alert.baseline_band(), "1 to 2 a week");
  EXPECT_EQ(listed->series(), (9 + 1) * 6);  // nine areas and online, by six strands
  EXPECT_THAT(listed->method(), HasSubstr("at most 0.001"));
  EXPECT_EQ(listed->agreement(), "llr-hate-isa@2026.4");

  // A range without the spike has no alert; the listing is audited.
  v1::ListTensionAlertsRequest later;
  later.set_first_week("2026-W15");
  later.set_last_week("2026-W20");
  auto quiet = server_->Client(kOversight).ListTensionAlerts(later);
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_EQ(quiet->alerts_size(), 0);
  v1::ListAuditEventsRequest list;
  list.set_action("DISCLOSURE");
  list.set_agency(absl::StrCat("agencies/", kOversight));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> releases;
  for (const auto& e : events->events()) {
    if (e.method() == "refx.v1.ReportingService.ListTensionAlerts") releases.push_back(e.release());
  }
  EXPECT_THAT(releases, ::testing::ElementsAre("tension-alerts weeks=2026-W14..2026-W26 alerts=1",
                                               "tension-alerts weeks=2026-W15..2026-W20 alerts=0"));

  // Refusals: a role without REPORT_PARTNERSHIP, a week not ended, a
  // malformed week, a range backwards or too long, no certificate.
  auto refused = [&](const std::string& agency, const std::string& first, const std::string& last,
                     absl::StatusCode code, const std::string& reason) {
    v1::ListTensionAlertsRequest q;
    q.set_first_week(first);
    q.set_last_week(last);
    auto got = server_->Client(agency).ListTensionAlerts(q);
    ASSERT_FALSE(got.ok()) << agency << " " << first << ".." << last;
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_EQ(ErrorReasonOf(got.status()), reason) << got.status();
  };
  refused(kCityCouncil, "", "", absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  refused(kHealth, "", "", absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  refused(kOversight, "", "2026-W27", absl::StatusCode::kFailedPrecondition, "PERIOD_NOT_ENDED");
  refused(kOversight, "2026-14", "", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  refused(kOversight, "2026-W20", "2026-W14", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  refused(kOversight, "2023-W01", "2026-W14", absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).ListTensionAlerts({});
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
}

TEST_F(ReportingTest, TheTensionsGroupAcknowledgesAnAlertOnceWithANote) {
  for (int i = 0; i < 15; ++i) {
    clock_.Set(LondonTime(2026, 3, 31, 10) + absl::Minutes(i));
    ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("w14-", i)).ok());
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));
  const std::string name = "tensionAlerts/2026-W14/leicester/race";
  auto listed = server_->Client(kOversight).ListTensionAlerts({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->alerts_size(), 1);
  EXPECT_EQ(listed->alerts(0).name(), name);
  EXPECT_FALSE(listed->alerts(0).has_acknowledgement());

  auto acknowledge = [&](const std::string& agency, const std::string& alert, const std::string& note,
                         const std::string& request_id) {
    v1::AcknowledgeTensionAlertRequest request;
    request.set_name(alert);
    request.set_note(note);
    request.set_request_id(request_id);
    return server_->Client(agency).AcknowledgeTensionAlert(request);
  };
  const std::string note = "Raised at the tension monitoring meeting; reassurance patrols arranged";
  clock_.Set(LondonTime(2026, 7, 2, 10));
  auto first = acknowledge(kOversight, name, note, "ack-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->name(), name);
  EXPECT_EQ(first->count_band(), "10 to 19");
  EXPECT_EQ(first->acknowledgement().agency(), absl::StrCat("agencies/", kOversight));
  EXPECT_EQ(first->acknowledgement().note(), note);
  EXPECT_EQ(FromProto(first->acknowledgement().acknowledge_time()), LondonTime(2026, 7, 2, 10));

  // A retry of the same request gets the same answer; anyone else's second
  // acknowledgement is refused and names the first.
  clock_.Set(LondonTime(2026, 7, 2, 11));
  auto retry = acknowledge(kOversight, name, note, "ack-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), first->SerializeAsString());
  auto second = acknowledge("hate-prevent-delivery-group", name, "Seen", "ack-2");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_EQ(ErrorReasonOf(second.status()), "ALREADY_ACKNOWLEDGED");
  EXPECT_THAT(second.status().message(), HasSubstr(kOversight));
  auto other_id = acknowledge(kOversight, name, note, "ack-3");
  EXPECT_EQ(other_id.status().code(), absl::StatusCode::kAlreadyExists) << other_id.status();

  // The listing shows it from now on, to every role that lists alerts.
  auto again = server_->Client(kDpo).ListTensionAlerts({});
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->alerts_size(), 1);
  EXPECT_EQ(again->alerts(0).acknowledgement().SerializeAsString(), first->acknowledgement().SerializeAsString());

  // Audited: the acknowledgement once with its write, the retry as a replay.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kOversight));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> acknowledgements;
  for (const auto& e : events->events()) {
    if (e.method() == "refx.v1.ReportingService.AcknowledgeTensionAlert") {
      acknowledgements.push_back(absl::StrCat(e.outcome(), " ", e.release(), " ", e.reason()));
    }
  }
  EXPECT_THAT(acknowledgements,
              ::testing::ElementsAre(absl::StrCat("OK tension-acknowledgement ", name, " "),
                                     absl::StrCat("OK tension-acknowledgement ", name, " REPLAYED"),
                                     ::testing::StartsWith("ALREADY_EXISTS")));

  // Refusals.
  auto refused = [&](const std::string& agency, const std::string& alert, const std::string& text,
                     absl::StatusCode code, const std::string& reason) {
    auto got = acknowledge(agency, alert, text, absl::StrCat("refused-", agency, alert.size(), text.size()));
    ASSERT_FALSE(got.ok()) << agency << " " << alert;
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_EQ(ErrorReasonOf(got.status()), reason) << got.status();
  };
  // Roles without TENSION_ACKNOWLEDGE: the DPO may list alerts but not
  // acknowledge them; a council may do neither.
  refused(kDpo, name, note, absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  refused(kCityCouncil, name, note, absl::StatusCode::kPermissionDenied, "METHOD_NOT_PERMITTED");
  // A week, area or strand that did not alert: NOT_FOUND with a ResourceInfo.
  refused(kOversight, "tensionAlerts/2026-W15/leicester/race", note, absl::StatusCode::kNotFound,
          "TENSION_ALERT_NOT_FOUND");
  refused(kOversight, "tensionAlerts/2026-W14/blaby/race", note, absl::StatusCode::kNotFound,
          "TENSION_ALERT_NOT_FOUND");
  // Malformed names, notes; a week not ended.
  refused(kOversight, "alerts/2026-W14/leicester/race", note, absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  refused(kOversight, "tensionAlerts/2026-14/leicester/race", note, absl::StatusCode::kInvalidArgument,
          "INVALID_REQUEST");
  refused(kOversight, "tensionAlerts/2026-W14/leicester", note, absl::StatusCode::kInvalidArgument,
          "INVALID_REQUEST");
  refused(kOversight, name, std::string(1025, 'x'), absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  refused(kOversight, "tensionAlerts/2026-W27/leicester/race", note, absl::StatusCode::kFailedPrecondition,
          "PERIOD_NOT_ENDED");
  v1::AcknowledgeTensionAlertRequest unnamed;
  unnamed.set_request_id("unnamed");
  auto missing = server_->Client(kOversight).AcknowledgeTensionAlert(unnamed);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_EQ(ErrorReasonOf(missing.status()), "REQUIRED_FIELD_MISSING");
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).AcknowledgeTensionAlert(unnamed);
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
  // None of the refusals changed the stored acknowledgement.
  auto after = server_->Client(kOversight).ListTensionAlerts({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->alerts(0).acknowledgement().SerializeAsString(), first->acknowledgement().SerializeAsString());
}

}  // namespace
}  // namespace refx::testing
