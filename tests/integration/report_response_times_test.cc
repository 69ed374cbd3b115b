// ReportingService.ReportResponseTimes end to end (issue 15), on the
// reporting fixture (reporting_test_support.h): response times taken from
// the event log as at the period's end, their rows' totals the counts by
// recipient agency type, a median only where the released counts show
// enough referrals behind it, an agency's own referrals, and the refusals.
#include <string>
#include <vector>

#include "absl/strings/match.h"
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

// The ResponseTimesTable row labelled `row`.
const v1::ReleasedRow& Row(const v1::ResponseTimesTable& table, const std::string& row, int* index = nullptr) {
  for (int r = 0; r < table.rows_size(); ++r) {
    if (table.rows(r).label() == row) {
      if (index != nullptr) *index = r;
      return table.rows(r);
    }
  }
  ADD_FAILURE() << "no row " << row;
  static const v1::ReleasedRow kNone;
  return kNone;
}

int Band(const v1::ResponseTimesTable& table, const std::string& label) {
  for (int i = 0; i < table.column_labels_size(); ++i) {
    if (table.column_labels(i) == label) return i;
  }
  ADD_FAILURE() << "no band " << label;
  return 0;
}

v1::ReportResponseTimesRequest TimesQuery(const std::string& period, v1::ReportScope scope = v1::PARTNERSHIP) {
  v1::ReportResponseTimesRequest request;
  request.set_period(period);
  request.set_scope(scope);
  return request;
}

TEST_F(ReportingTest, ResponseTimesAreTakenAsAtThePeriodsEndWithMediansOnlyWhereTheCountsShowEnough) {
  // The city council answers all twelve of its referrals within a day
  // (eleven accepted five hours after each arrived, one declined after
  // twenty) and completes none before the quarter ends; it completes them
  // all in April, which no first-quarter release may show. Blaby answers
  // none of its three.
  const absl::Time created0 = LondonTime(2026, 1, 5, 9);
  auto at = [&](int i, absl::Duration after) { clock_.Set(created0 + absl::Hours(20) * i + after); };
  auto current = [&](int i) {
    auto got = server_->Client(kCityCouncil).GetReferral(city_[i].name());
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : v1::Referral();
  };
  for (int i = 0; i < 11; ++i) {
    at(i, absl::Hours(5));
    v1::AcceptReferralRequest accept;
    accept.set_name(city_[i].name());
    accept.set_etag(current(i).etag());
    accept.set_request_id(absl::StrCat("accept-", i));
    ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());
  }
  at(11, absl::Hours(20));
  v1::DeclineReferralRequest decline;
  decline.set_name(city_[11].name());
  decline.set_etag(current(11).etag());
  decline.set_request_id("decline-11");
  decline.set_reason(v1::DECLINE_REASON_OUT_OF_AREA);
  ASSERT_TRUE(server_->Client(kCityCouncil).DeclineReferral(decline).ok());

  clock_.Set(LondonTime(2026, 4, 1, 12));
  auto before = server_->Client(kOversight).ReportResponseTimes(TimesQuery("2026-Q1"));
  ASSERT_TRUE(before.ok()) << before.status();
  for (int i = 0; i < 11; ++i) {
    clock_.Set(LondonTime(2026, 4, 2, 9) + absl::Minutes(i));
    v1::CompleteReferralRequest complete;
    complete.set_name(city_[i].name());
    complete.set_etag(current(i).etag());
    complete.set_request_id(absl::StrCat("complete-", i));
    complete.set_outcome(v1::OUTCOME_SUPPORTED);
    ASSERT_TRUE(server_->Client(kCityCouncil).CompleteReferral(complete).ok());
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));

  auto release = server_->Client(kOversight).ReportResponseTimes(TimesQuery("2026-Q1"));
  ASSERT_TRUE(release.ok()) << release.status();
  EXPECT_EQ(release->period(), "2026-Q1");
  EXPECT_EQ(release->scope(), v1::PARTNERSHIP);
  const v1::ResponseTimesTable& first = release->first_response();
  EXPECT_THAT(first.column_labels(),
              ::testing::ElementsAre("within 1 day", "1 to 3 days", "3 to 7 days", "over 7 days",
                                     "withdrawn unanswered", "awaiting, overdue", "awaiting, not yet due", "Total"));
  int city_row = 0;
  const v1::ReleasedRow& city = Row(first, "unitary council", &city_row);
  EXPECT_EQ(city.counts(Band(first, "within 1 day")).value(), 10);  // 12
  EXPECT_EQ(city.counts(Band(first, "1 to 3 days")).value(), 0);
  EXPECT_EQ(city.counts(Band(first, "awaiting, overdue")).value(), 0);
  EXPECT_EQ(city.counts(Band(first, "Total")).value(), 10);
  // Ten shown means at least eight: the median (eleven at five hours, one
  // at twenty) is released.
  EXPECT_FALSE(first.medians(city_row).withheld());
  EXPECT_EQ(first.medians(city_row).hours(), 5);
  int blaby_row = 0;
  const v1::ReleasedRow& blaby = Row(first, "district council", &blaby_row);
  EXPECT_TRUE(blaby.counts(Band(first, "awaiting, overdue")).withheld());  // 3
  EXPECT_TRUE(blaby.counts(Band(first, "Total")).withheld());
  EXPECT_TRUE(first.medians(blaby_row).withheld());
  EXPECT_EQ(first.medians_size(), first.rows_size());

  // Completion as at the quarter's end: none, although all are completed
  // now; no completion median.
  const v1::ResponseTimesTable& completion = release->completion();
  EXPECT_THAT(completion.column_labels(),
              ::testing::ElementsAre("within 7 days", "7 to 28 days", "over 28 days", "not completed", "Total"));
  const v1::ReleasedRow& done = Row(completion, "unitary council");
  EXPECT_EQ(done.counts(Band(completion, "not completed")).value(), 10);
  EXPECT_EQ(done.counts(Band(completion, "7 to 28 days")).value(), 0);
  EXPECT_TRUE(completion.medians(city_row).withheld());
  EXPECT_THAT(release->rules(), HasSubstr("Medians are withheld unless"));
  EXPECT_EQ(release->release(), before->release());
  // Outcomes are counted as at the period's end too: none completed then.
  auto outcomes = Count(kOversight, Query("2026-Q1", {v1::OUTCOME}));
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(Cell(*outcomes, "not completed").value(), 15);
  EXPECT_EQ(Cell(*outcomes, "supported").value(), 0);
  EXPECT_EQ(Cell(*outcomes, "Total").value(), 15);

  // Margins first: each row's total is the one-way count by recipient
  // agency type, released the same way.
  auto by_type = Count(kOversight, Query("2026-Q1", {v1::RECIPIENT_AGENCY_TYPE}));
  ASSERT_TRUE(by_type.ok()) << by_type.status();
  const int total = first.column_labels_size() - 1;
  for (int r = 0; r < first.rows_size(); ++r) {
    const v1::ReleasedCount& one_way = Cell(*by_type, first.rows(r).label());
    EXPECT_EQ(first.rows(r).counts(total).SerializeAsString(), one_way.SerializeAsString()) << first.rows(r).label();
    EXPECT_EQ(completion.rows(r).counts(completion.column_labels_size() - 1).SerializeAsString(),
              one_way.SerializeAsString());
  }

  // Asked again later, the same release; audited as a DISCLOSURE naming it;
  // no free text or identity anywhere in it.
  clock_.Advance(absl::Hours(24 * 30));
  auto again = server_->Client(kOversight).ReportResponseTimes(TimesQuery("2026-Q1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->release(), release->release());
  const std::string bytes = release->SerializeAsString();
  EXPECT_FALSE(absl::StrContains(bytes, kNameCanary));
  EXPECT_FALSE(absl::StrContains(bytes, "QZNARRATIVECANARY"));
  v1::ListAuditEventsRequest list;
  list.set_action("DISCLOSURE");
  list.set_agency(absl::StrCat("agencies/", kOversight));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int releases = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.ReportingService.ReportResponseTimes") continue;
    ++releases;
    EXPECT_EQ(e.release(), absl::StrCat(release->release(), " response-times period=2026-Q1 scope=partnership"));
  }
  EXPECT_EQ(releases, 3);  // before the April completions, after, and again
}

TEST_F(ReportingTest, ResponseTimesOfAnAgencysOwnReferralsAndTheirRefusals) {
  auto blaby = server_->Client(kBlaby).ReportResponseTimes(TimesQuery("2026-Q1", v1::OWN_REFERRALS));
  ASSERT_TRUE(blaby.ok()) << blaby.status();
  int row = 0;
  EXPECT_TRUE(Row(blaby->first_response(), "district council", &row).counts(0).value() == 0);
  EXPECT_EQ(Row(blaby->first_response(), "unitary council").counts(Band(blaby->first_response(), "Total")).value(), 0);
  EXPECT_TRUE(blaby->first_response().medians(row).withheld());

  auto refused = [&](const std::string& agency, const v1::ReportResponseTimesRequest& q, absl::StatusCode code,
                     const std::string& reason) {
    auto got = server_->Client(agency).ReportResponseTimes(q);
    ASSERT_FALSE(got.ok()) << agency;
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_EQ(ErrorReasonOf(got.status()), reason) << got.status();
  };
  refused(kHealth, TimesQuery("2026-Q1", v1::OWN_REFERRALS), absl::StatusCode::kPermissionDenied,
          "METHOD_NOT_PERMITTED");
  refused(kCityCouncil, TimesQuery("2026-Q1"), absl::StatusCode::kPermissionDenied, "SCOPE_NOT_PERMITTED");
  refused(kOversight, TimesQuery("2026-Q3"), absl::StatusCode::kFailedPrecondition, "PERIOD_NOT_ENDED");
  refused(kOversight, TimesQuery("2026-02"), absl::StatusCode::kFailedPrecondition, "PERIOD_NOT_ON_RELEASE_GRID");
  refused(kOversight, TimesQuery("2026-01-01..2026-04-02"), absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  v1::ReportResponseTimesRequest bad_scope = TimesQuery("2026-Q1");
  bad_scope.set_scope(static_cast<v1::ReportScope>(42));
  refused(kOversight, bad_scope, absl::StatusCode::kInvalidArgument, "INVALID_REQUEST");
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).ReportResponseTimes(TimesQuery("2026-Q1"));
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
  auto outsider = server_->Client(kUnregistered).ReportResponseTimes(TimesQuery("2026-Q1"));
  EXPECT_EQ(outsider.status().code(), absl::StatusCode::kUnavailable) << outsider.status();
}

}  // namespace
}  // namespace refx::testing
