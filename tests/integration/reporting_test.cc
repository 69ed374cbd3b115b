// ReportingService end to end (issue 15), on a server whose clock the test
// drives: protected counts for an ended quarter over the partnership and
// over an agency's own referrals, two-way tables keeping their one-way
// totals, the same query releasing the same table after the data moved on,
// every release audited with its ledger entry, no free text or identity in
// any release, and the refusals: a role without the grant, the partnership
// scope without REPORT_PARTNERSHIP, a period off the release grid, not
// ended, or a date range (the differencing attack), malformed dimensions,
// no acting person, no certificate and an unregistered agency; nothing
// released while the audit log cannot be written. Response times are in
// report_response_times_test.cc, tension alerts in tension_alerts_test.cc.
#include <map>
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
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ReportingTest, AnOversightGroupReadsProtectedCountsOfTheWholePartnership) {
  auto by_area = Count(kOversight, Query("2026-Q1", {v1::AREA}));
  ASSERT_TRUE(by_area.ok()) << by_area.status();
  EXPECT_EQ(by_area->period(), "2026-Q1");
  EXPECT_EQ(by_area->unit(), "referrals");
  EXPECT_EQ(FromProto(by_area->period_start()), LondonTime(2026, 1, 1, 0));
  EXPECT_EQ(FromProto(by_area->period_end()), LondonTime(2026, 4, 1, 0));
  // 12 is rounded to 10; 3 is withheld; a zero is shown; 15 is the total.
  EXPECT_EQ(Cell(*by_area, "leicester").value(), 10);
  EXPECT_FALSE(Cell(*by_area, "leicester").withheld());
  EXPECT_TRUE(Cell(*by_area, "blaby").withheld());
  EXPECT_EQ(Cell(*by_area, "blaby").value(), 0);
  EXPECT_FALSE(Cell(*by_area, "rutland").withheld());
  EXPECT_EQ(Cell(*by_area, "rutland").value(), 0);
  EXPECT_EQ(Cell(*by_area, "Total").value(), 15);
  // Every registry area is a row whether or not it has referrals, so the
  // rows say nothing about the data.
  EXPECT_EQ(by_area->rows_size(), 9 + 2);  // nine areas, unlisted, total
  EXPECT_THAT(by_area->rules(), HasSubstr("Counts from 1 to 7 are withheld"));
  EXPECT_THAT(by_area->rules(), HasSubstr("NHS Digital"));
  EXPECT_EQ(by_area->agreement(), "llr-hate-isa@2026.4");
  EXPECT_TRUE(absl::StartsWith(by_area->release(), "releases/"));

  // Area by strand keeps the one-way tables' totals (margins first), in
  // strand mentions; the Blaby disability count is withheld.
  auto by_strand = Count(kOversight, Query("2026-Q1", {v1::STRAND}));
  auto cross = Count(kOversight, Query("2026-Q1", {v1::AREA, v1::STRAND}));
  ASSERT_TRUE(by_strand.ok() && cross.ok()) << cross.status();
  EXPECT_EQ(cross->unit(), "strand mentions");
  EXPECT_THAT(cross->rules(), HasSubstr("counts once under each"));
  const int total = Column(*cross, "Total");
  EXPECT_EQ(total, cross->column_labels_size() - 1);
  for (const auto& row : by_area->rows()) {
    const auto& crossed = Cell(*cross, row.label(), total);
    EXPECT_EQ(crossed.withheld(), row.counts(0).withheld()) << row.label();
    EXPECT_EQ(crossed.value(), row.counts(0).value()) << row.label();
  }
  for (const auto& row : by_strand->rows()) {
    if (row.label() == "Total") continue;
    const auto& crossed = Cell(*cross, "Total", Column(*cross, row.label()));
    EXPECT_EQ(crossed.withheld(), row.counts(0).withheld()) << row.label();
    EXPECT_EQ(crossed.value(), row.counts(0).value()) << row.label();
  }
  EXPECT_TRUE(Cell(*cross, "blaby", Column(*cross, "disability")).withheld());
  EXPECT_EQ(Cell(*cross, "leicester", Column(*cross, "race")).value(), 10);

  // Report type and online: the coded fields, nothing else.
  auto by_type = Count(kDpo, Query("2026-Q1", {v1::REPORT_TYPE, v1::ONLINE}));
  ASSERT_TRUE(by_type.ok()) << by_type.status();
  EXPECT_EQ(Cell(*by_type, "hate crime", Column(*by_type, "not online")).value(), 10);
  EXPECT_TRUE(Cell(*by_type, "hate incident", Column(*by_type, "online")).withheld());

  // No release carries a value of a free-text or identity field.
  for (const auto* release : {&*by_area, &*by_strand, &*cross, &*by_type}) {
    const std::string bytes = release->SerializeAsString();
    EXPECT_FALSE(absl::StrContains(bytes, kNameCanary));
    EXPECT_FALSE(absl::StrContains(bytes, "QZNARRATIVECANARY"));
    EXPECT_FALSE(absl::StrContains(bytes, "Example"));  // the victim's family name
  }
}

TEST_F(ReportingTest, TheSameQueryReleasesTheSameTableAfterTheDataMovedOnAndEachReleaseIsAudited) {
  auto first = Count(kOversight, Query("2026-Q1", {v1::AREA, v1::REPORT_TYPE}));
  ASSERT_TRUE(first.ok()) << first.status();

  // Later: a first-quarter referral is accepted and one more arrives in Q3.
  v1::AcceptReferralRequest accept;
  accept.set_name(city_[0].name());
  accept.set_etag(city_[0].etag());
  accept.set_request_id("accept-0");
  ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());
  ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kBlaby), "q3-blaby").ok());
  clock_.Advance(absl::Hours(24 * 40));

  auto again = Count(kOversight, Query("2026-Q1", {v1::AREA, v1::REPORT_TYPE}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->release(), first->release());
  EXPECT_EQ(again->rows().size(), first->rows().size());
  for (int r = 0; r < first->rows_size(); ++r) {
    EXPECT_EQ(again->rows(r).SerializeAsString(), first->rows(r).SerializeAsString()) << first->rows(r).label();
  }

  // Each release is a DISCLOSURE of aggregates naming its release: the
  // audit log is the ledger (who, when, which query, which cells).
  v1::ListAuditEventsRequest list;
  list.set_action("DISCLOSURE");
  list.set_agency(absl::StrCat("agencies/", kOversight));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int releases = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.ReportingService.CountReferrals") continue;
    ++releases;
    EXPECT_EQ(e.release(), absl::StrCat(first->release(), " counts period=2026-Q1 by=area,report_type scope=partnership"));
    EXPECT_EQ(e.outcome(), "OK");
    EXPECT_EQ(e.referrals_size(), 0);
    EXPECT_FALSE(e.acting_user_hmac().empty());
  }
  EXPECT_EQ(releases, 2);
  auto verdict = server_->Client(kDpo).VerifyAuditChain();
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->intact()) << verdict->problem();
}

// The release ledger (ADR 8 (a)): in one period and scope, a cross-table
// sharing exactly one dimension with one released before is refused, by
// the query and the ledger alone; the same table again, tables sharing no
// dimension, other periods and other agencies' own referrals are not.
TEST_F(ReportingTest, TheLedgerRefusesACrossTableThatCouldBeCombinedWithAnEarlierOne) {
  auto area_strand = Count(kOversight, Query("2026-Q1", {v1::AREA, v1::STRAND}));
  ASSERT_TRUE(area_strand.ok()) << area_strand.status();

  // Another oversight role (the DPO) asks for area x channel: both would
  // show the area totals, each keeping a withheld one's range wide, the two
  // ranges intersecting.
  auto area_channel = Count(kDpo, Query("2026-Q1", {v1::AREA, v1::REPORTING_CHANNEL}));
  EXPECT_EQ(area_channel.status().code(), absl::StatusCode::kFailedPrecondition) << area_channel.status();
  EXPECT_EQ(ErrorReasonOf(area_channel.status()), "RELEASE_WOULD_COMBINE");
  EXPECT_EQ(ErrorMetadataOf(area_channel.status(), "release"), area_strand->release());
  EXPECT_THAT(std::string(area_channel.status().message()), HasSubstr("area x strand"));
  auto strand_outcome = Count(kOversight, Query("2026-Q1", {v1::OUTCOME, v1::STRAND}));
  EXPECT_EQ(ErrorReasonOf(strand_outcome.status()), "RELEASE_WOULD_COMBINE");

  // The same table (either way round), margins, tables sharing nothing and
  // other periods are released.
  auto again = Count(kDpo, Query("2026-Q1", {v1::STRAND, v1::AREA}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(Count(kOversight, Query("2026-Q1", {v1::AREA})).ok());
  auto disjoint = Count(kOversight, Query("2026-Q1", {v1::REPORT_TYPE, v1::REPORTING_CHANNEL}));
  ASSERT_TRUE(disjoint.ok()) << disjoint.status();
  EXPECT_TRUE(Count(kOversight, Query("2026-Q2", {v1::AREA, v1::REPORTING_CHANNEL})).ok());
  // Response times are recipient agency type by band: beside them, a
  // cross-table of recipient agency type is refused.
  v1::ReportResponseTimesRequest times;
  times.set_period("2026-Q1");
  times.set_scope(v1::PARTNERSHIP);
  ASSERT_TRUE(server_->Client(kOversight).ReportResponseTimes(times).ok());
  EXPECT_EQ(ErrorReasonOf(Count(kOversight, Query("2026-Q1", {v1::RECIPIENT_AGENCY_TYPE, v1::OUTCOME})).status()),
            "RELEASE_WOULD_COMBINE");

  // An agency's own referrals are its own population: the police's own
  // cross-tables are checked against the police's releases only.
  ASSERT_TRUE(Count(kPolice, Query("2026-Q1", {v1::AREA, v1::REPORTING_CHANNEL}, v1::OWN_REFERRALS)).ok());
  EXPECT_EQ(ErrorReasonOf(Count(kPolice, Query("2026-Q1", {v1::AREA, v1::STRAND}, v1::OWN_REFERRALS)).status()),
            "RELEASE_WOULD_COMBINE");
  EXPECT_TRUE(Count(kCityCouncil, Query("2026-Q1", {v1::AREA, v1::STRAND}, v1::OWN_REFERRALS)).ok());

  // A refusal is audited as one, and is no entry of the ledger.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int refused = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.ReportingService.CountReferrals" || e.outcome() == "OK") continue;
    ++refused;
    EXPECT_EQ(e.release(), "");
  }
  EXPECT_EQ(refused, 1);
}

// ADR 8 (b): a strand cross-table's rows count referrals, the very numbers
// of the one-way table of its rows, so the two cannot be differenced into
// how many referrals had several strands; its strands are its columns,
// whichever way it was asked for.
TEST_F(ReportingTest, AStrandCrossTableTotalsItsRowsInReferralsAsTheOneWayTableDoes) {
  // Leicester in the second quarter: the fixture's one and 11 more race
  // referrals, 3 of them sexual orientation too: 12 referrals, 15 strand
  // mentions.
  clock_.Set(LondonTime(2026, 5, 4, 9));
  for (int i = 0; i < 11; ++i) {
    v1::Referral r = ValidReferral(kCityCouncil);
    if (i < 3) {
      v1::Strand* orientation = r.add_strands();
      orientation->set_strand("sexual_orientation");
      orientation->set_basis(v1::Strand::PERCEIVED);
    }
    auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("q2-strands-", i));
    ASSERT_TRUE(created.ok()) << created.status();
    clock_.Advance(absl::Hours(5));
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));
  auto by_area = Count(kOversight, Query("2026-Q2", {v1::AREA}));
  auto by_strand = Count(kOversight, Query("2026-Q2", {v1::STRAND}));
  auto cross = Count(kOversight, Query("2026-Q2", {v1::STRAND, v1::AREA}));
  ASSERT_TRUE(by_area.ok() && by_strand.ok()) << by_area.status() << by_strand.status();
  ASSERT_TRUE(cross.ok()) << cross.status();
  EXPECT_THAT(cross->dimensions(), ::testing::ElementsAre(v1::AREA, v1::STRAND));
  EXPECT_EQ(cross->unit(), "strand mentions");
  EXPECT_THAT(cross->rules(), HasSubstr("its last cell referrals"));
  const int total = Column(*cross, "Total");
  // The row total is the one-way table's 10 (12 referrals), not 15.
  EXPECT_EQ(Cell(*by_area, "leicester").value(), 10);
  for (const auto& row : by_area->rows()) {
    EXPECT_EQ(Cell(*cross, row.label(), total).withheld(), row.counts(0).withheld()) << row.label();
    EXPECT_EQ(Cell(*cross, row.label(), total).value(), row.counts(0).value()) << row.label();
  }
  for (const auto& row : by_strand->rows()) {
    if (row.label() == "Total") continue;  // mentions; the cross-table's corner counts referrals
    EXPECT_EQ(Cell(*cross, "Total", Column(*cross, row.label())).withheld(), row.counts(0).withheld());
    EXPECT_EQ(Cell(*cross, "Total", Column(*cross, row.label())).value(), row.counts(0).value());
  }
  EXPECT_EQ(Cell(*cross, "leicester", Column(*cross, "race")).value(), 10);
  EXPECT_TRUE(Cell(*cross, "leicester", Column(*cross, "sexual_orientation")).withheld());
  EXPECT_EQ(Cell(*by_strand, "Total").value(), 15);
}

TEST_F(ReportingTest, AnAgencyCountsOnlyItsOwnReferralsAndOnlyWhatItMayRead) {
  // The city council redirects one of its referrals away: it stays a party
  // but reads only routing facts of it from then on (former party).
  clock_.Set(LondonTime(2026, 3, 30, 9));
  v1::RedirectReferralRequest redirect;
  redirect.set_name(city_[1].name());
  redirect.set_etag(city_[1].etag());
  redirect.set_request_id("redirect-1");
  redirect.set_target_agency(absl::StrCat("agencies/", kCharnwood));
  ASSERT_TRUE(server_->Client(kCityCouncil).RedirectReferral(redirect).ok());
  clock_.Set(LondonTime(2026, 7, 2, 9));

  auto city = Count(kCityCouncil, Query("2026-Q1", {v1::AREA}, v1::OWN_REFERRALS));
  ASSERT_TRUE(city.ok()) << city.status();
  EXPECT_EQ(city->scope(), v1::OWN_REFERRALS);
  EXPECT_EQ(Cell(*city, "leicester").value(), 10);
  EXPECT_EQ(Cell(*city, "blaby").value(), 0);  // Blaby's referrals are not the city's
  EXPECT_EQ(Cell(*city, "not shared").value(), 0);

  // Strands are protected characteristics: of the referral it redirected
  // away, the city council may no longer read them, so it counts there.
  auto strands = Count(kCityCouncil, Query("2026-Q1", {v1::STRAND}, v1::OWN_REFERRALS));
  ASSERT_TRUE(strands.ok()) << strands.status();
  EXPECT_TRUE(Cell(*strands, "not shared").withheld());  // 1
  // Race (11) is withheld too: with it shown as 10 (8 to 12) beside a total
  // of 10 (8 to 12), "not shared" would be pinned to 1 to 4.
  EXPECT_TRUE(Cell(*strands, "race").withheld());
  EXPECT_EQ(Cell(*strands, "Total").value(), 10);  // 12

  auto blaby = Count(kBlaby, Query("2026-Q1", {v1::AREA}, v1::REPORT_SCOPE_UNSPECIFIED));
  ASSERT_TRUE(blaby.ok()) << blaby.status();
  EXPECT_EQ(blaby->scope(), v1::OWN_REFERRALS);  // the default
  EXPECT_TRUE(Cell(*blaby, "blaby").withheld());
  EXPECT_EQ(Cell(*blaby, "leicester").value(), 0);

  // Own-scope releases of different agencies are different releases.
  auto police = Count(kPolice, Query("2026-Q1", {v1::AREA}, v1::OWN_REFERRALS));
  ASSERT_TRUE(police.ok()) << police.status();
  EXPECT_NE(police->release(), city->release());
  EXPECT_EQ(Cell(*police, "Total").value(), 15);
}

TEST_F(ReportingTest, RepeatVictimsAreCountedOnlyWhereTheViewGrantsDerivedValues) {
  auto all = Count(kOversight, Query("2026-Q1", {v1::REPEAT_VICTIM}));
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> labels;
  for (const auto& row : all->rows()) labels.push_back(row.label());
  EXPECT_THAT(labels, ::testing::ElementsAre("repeat victim", "no earlier referral", "not matched", "Total"));
  EXPECT_EQ(Cell(*all, "Total").value(), 15);
  // The repeat-victim count is derived from other agencies' referrals: the
  // audit event records it as a derived value disclosed in aggregate.
  v1::ListAuditEventsRequest list;
  list.set_action("DISCLOSURE");
  list.set_agency(absl::StrCat("agencies/", kOversight));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int releases = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.ReportingService.CountReferrals") continue;
    ++releases;
    EXPECT_THAT(e.derived(), ::testing::Contains("repeat_victim_count"));
  }
  EXPECT_EQ(releases, 1);
}

// Fail closed: with the audit table unwritable, no release, listing or
// acknowledgement is answered and no acknowledgement is stored; once it is
// writable again, all of them work.
TEST_F(ReportingTest, NothingIsReleasedOrAcknowledgedWhileTheAuditLogCannotBeWritten) {
  for (int i = 0; i < 15; ++i) {
    clock_.Set(LondonTime(2026, 3, 31, 10) + absl::Minutes(i));
    ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), absl::StrCat("w14-", i)).ok());
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));
  const config::v1::StorageConfig& storage = server_->config().storage();
  auto block = [&](bool blocked) { TestDatabase(storage, /*writable=*/true).BlockAuditWrites(blocked); };
  v1::AcknowledgeTensionAlertRequest acknowledge;
  acknowledge.set_name("tensionAlerts/2026-W14/leicester/race");
  acknowledge.set_note("Raised at the meeting");
  acknowledge.set_request_id("ack-while-blocked");
  auto calls = [&]() {
    std::vector<absl::Status> out;
    out.push_back(Count(kOversight, Query("2026-Q1", {v1::AREA})).status());
    v1::ReportResponseTimesRequest times;
    times.set_period("2026-Q1");
    times.set_scope(v1::PARTNERSHIP);
    out.push_back(server_->Client(kOversight).ReportResponseTimes(times).status());
    out.push_back(server_->Client(kOversight).ListTensionAlerts({}).status());
    out.push_back(server_->Client(kOversight).AcknowledgeTensionAlert(acknowledge).status());
    return out;
  };

  block(true);
  for (const absl::Status& status : calls()) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  EXPECT_EQ(TestDatabase(storage).Int("SELECT count(*) FROM tension_acknowledgements"), 0);

  block(false);
  for (const absl::Status& status : calls()) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(TestDatabase(storage).Int("SELECT count(*) FROM tension_acknowledgements"), 1);
}

TEST_F(ReportingTest, OutcomesAreCountedAsAtThePeriodsEnd) {
  // Ten of the city's referrals are completed in March (supported); three
  // of them are re-opened in April, which the first quarter's table ignores
  // (counted as they are now, 7 would be withheld).
  auto current = [&](int i) {
    auto got = server_->Client(kCityCouncil).GetReferral(city_[i].name());
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : v1::Referral();
  };
  for (int i = 0; i < 10; ++i) {
    clock_.Set(LondonTime(2026, 3, 2, 9) + absl::Minutes(i));
    v1::AcceptReferralRequest accept;
    accept.set_name(city_[i].name());
    accept.set_etag(current(i).etag());
    accept.set_request_id(absl::StrCat("accept-", i));
    ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());
    v1::CompleteReferralRequest complete;
    complete.set_name(city_[i].name());
    complete.set_etag(current(i).etag());
    complete.set_request_id(absl::StrCat("complete-", i));
    complete.set_outcome(v1::OUTCOME_SUPPORTED);
    ASSERT_TRUE(server_->Client(kCityCouncil).CompleteReferral(complete).ok());
  }
  for (int i = 0; i < 3; ++i) {
    clock_.Set(LondonTime(2026, 4, 3, 9) + absl::Minutes(i));
    v1::ReopenReferralRequest reopen;
    reopen.set_name(city_[i].name());
    reopen.set_etag(current(i).etag());
    reopen.set_request_id(absl::StrCat("reopen-", i));
    reopen.set_reason("new information");
    ASSERT_TRUE(server_->Client(kPolice).ReopenReferral(reopen).ok()) << "reopen " << i;  // police only
  }
  clock_.Set(LondonTime(2026, 7, 2, 9));

  auto outcomes = Count(kOversight, Query("2026-Q1", {v1::OUTCOME}));
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  std::vector<std::string> labels;
  for (const auto& row : outcomes->rows()) labels.push_back(row.label());
  EXPECT_THAT(labels, ::testing::Contains("not completed"));
  EXPECT_THAT(labels, ::testing::Contains("support declined"));
  EXPECT_EQ(Cell(*outcomes, "supported").value(), 10);
  EXPECT_TRUE(Cell(*outcomes, "not completed").withheld());  // 5
  EXPECT_EQ(Cell(*outcomes, "Total").value(), 15);
}

TEST_F(ReportingTest, EveryRefusalIsPreciseAndReleasesNothing) {
  auto expect = [&](const std::string& agency, const v1::CountReferralsRequest& q, absl::StatusCode code,
                    const std::string& reason, const std::string& field = "") {
    auto got = Count(agency, q);
    ASSERT_FALSE(got.ok()) << agency << " " << q.ShortDebugString();
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_EQ(ErrorReasonOf(got.status()), reason) << got.status();
    if (!field.empty()) {
      auto violations = FieldViolationsOf(got.status());
      ASSERT_FALSE(violations.empty()) << got.status();
      EXPECT_EQ(violations[0].field, field);
    }
  };
  // A role without REPORT_READ; the partnership scope without
  // REPORT_PARTNERSHIP.
  expect(kHealth, Query("2026-Q1", {v1::AREA}, v1::OWN_REFERRALS), absl::StatusCode::kPermissionDenied,
         "METHOD_NOT_PERMITTED");
  expect(kCityCouncil, Query("2026-Q1", {v1::AREA}), absl::StatusCode::kPermissionDenied, "SCOPE_NOT_PERMITTED");
  // The differencing attack: the quarter widened by a day is no period;
  // a month beside its quarter is off the grid; the current quarter has
  // not ended.
  expect(kOversight, Query("2026-01-01..2026-04-02", {v1::AREA}), absl::StatusCode::kInvalidArgument,
         "INVALID_REQUEST", "period");
  expect(kOversight, Query("2026-03", {v1::AREA}), absl::StatusCode::kFailedPrecondition,
         "PERIOD_NOT_ON_RELEASE_GRID");
  expect(kOversight, Query("2026-Q3", {v1::AREA}), absl::StatusCode::kFailedPrecondition, "PERIOD_NOT_ENDED");
  // Malformed dimensions.
  expect(kOversight, Query("2026-Q1", {}), absl::StatusCode::kInvalidArgument, "REQUIRED_FIELD_MISSING",
         "dimensions");
  expect(kOversight, Query("2026-Q1", {v1::AREA, v1::AREA}), absl::StatusCode::kInvalidArgument, "INVALID_REQUEST",
         "dimensions[1]");
  expect(kOversight, Query("2026-Q1", {v1::AREA, v1::STRAND, v1::ONLINE}), absl::StatusCode::kInvalidArgument,
         "INVALID_REQUEST", "dimensions");
  expect(kOversight, Query("2026-Q1", {v1::REPORT_DIMENSION_UNSPECIFIED}), absl::StatusCode::kInvalidArgument,
         "INVALID_REQUEST", "dimensions[0]");

  // No acting person named.
  client::ConnectionOptions anonymous;
  anonymous.server = server_->address();
  anonymous.timeout = absl::Seconds(10);
  anonymous.acting_user = "";
  auto unnamed = client::ReferralClient(server_->Channel(server_->pki().Agency(kOversight)), anonymous)
                     .CountReferrals(Query("2026-Q1", {v1::AREA}));
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument) << unnamed.status();

  // No certificate, and a certificate of an agency that is not a party:
  // both refused at the handshake.
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).CountReferrals(Query("2026-Q1", {v1::AREA}));
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();
  auto outsider = Count(kUnregistered, Query("2026-Q1", {v1::AREA}));
  EXPECT_EQ(outsider.status().code(), absl::StatusCode::kUnavailable) << outsider.status();

  // Refusals are audited, and none names a release.
  v1::ListAuditEventsRequest list;
  list.set_page_size(1000);
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int refused = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.ReportingService.CountReferrals") continue;
    EXPECT_NE(e.outcome(), "OK");
    EXPECT_TRUE(e.release().empty());
    ++refused;
  }
  EXPECT_GE(refused, 10);
}

}  // namespace
}  // namespace refx::testing
