// ReportingService end to end (issue 15), on a server whose clock the test
// drives: protected counts for an ended quarter over the partnership and
// over an agency's own referrals, two-way tables keeping their one-way
// totals, the same query releasing the same table after the data moved on,
// every release audited with its ledger entry, no free text or identity in
// any release, and the refusals: a role without the grant, the partnership
// scope without REPORT_PARTNERSHIP, a period off the release grid, not
// ended, or a date range (the differencing attack), malformed dimensions,
// no acting person, no certificate and an unregistered agency. Response
// times are taken from the event log as at the period's end, their rows'
// totals are the counts by recipient agency type, and a median shows only
// where the released counts show enough referrals behind it.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kDpo[] = "llr-information-governance";
constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
constexpr char kCharnwood[] = "charnwood-borough-council";
constexpr char kNameCanary[] = "Qzreportcanary";
constexpr char kNarrativeCanary[] = "QZNARRATIVECANARY abuse at the bus stop";

v1::CountReferralsRequest Query(const std::string& period, std::vector<v1::ReportDimension> dimensions,
                                v1::ReportScope scope = v1::PARTNERSHIP) {
  v1::CountReferralsRequest request;
  request.set_period(period);
  for (auto d : dimensions) request.add_dimensions(d);
  request.set_scope(scope);
  return request;
}

// The released count at (row label, column index).
const v1::ReleasedCount& Cell(const v1::CountReferralsResponse& release, const std::string& row, int column = 0) {
  for (const auto& r : release.rows()) {
    if (r.label() == row) return r.counts(column);
  }
  ADD_FAILURE() << "no row " << row;
  static const v1::ReleasedCount kNone;
  return kNone;
}

int Column(const v1::CountReferralsResponse& release, const std::string& label) {
  for (int i = 0; i < release.column_labels_size(); ++i) {
    if (release.column_labels(i) == label) return i;
  }
  ADD_FAILURE() << "no column " << label;
  return 0;
}

class ReportingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.clock = &clock_;
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);

    // The first quarter of 2026: 12 race hate crimes in Leicester for the
    // city council, 3 disability hate incidents in Blaby for Blaby.
    for (int i = 0; i < 12; ++i) {
      v1::Referral r = ValidReferral(kCityCouncil);
      r.mutable_victim()->set_given_name(kNameCanary);
      r.set_incident_narrative(kNarrativeCanary);
      auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat("q1-city-", i));
      ASSERT_TRUE(created.ok()) << created.status();
      city_.push_back(*created);
      clock_.Advance(absl::Hours(20));
    }
    for (int i = 0; i < 3; ++i) {
      v1::Referral r = ValidReferral(kBlaby);
      r.set_area("blaby");
      r.set_report_type(v1::HATE_INCIDENT);
      r.mutable_strands(0)->set_strand("disability");
      r.set_online(true);
      ASSERT_TRUE(server_->Client(kPolice).CreateReferral(r, absl::StrCat("q1-blaby-", i)).ok());
    }
    // One in the second quarter, which no first-quarter table counts.
    clock_.Set(LondonTime(2026, 4, 1, 0));
    ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "q2-city").ok());
    clock_.Set(LondonTime(2026, 7, 2, 9));
  }

  absl::StatusOr<v1::CountReferralsResponse> Count(const std::string& agency, const v1::CountReferralsRequest& q) {
    return server_->Client(agency).CountReferrals(q);
  }

  FakeClock clock_{LondonTime(2026, 1, 5, 9)};
  std::unique_ptr<TestServer> server_;
  std::vector<v1::Referral> city_;
};

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
