// ReportingService end to end (issue 15), on a server whose clock the test
// drives: protected counts for an ended quarter over the partnership and
// over an agency's own referrals, two-way tables keeping their one-way
// totals, the same query releasing the same table after the data moved on,
// every release audited with its ledger entry, no free text or identity in
// any release, and the refusals: a role without the grant, the partnership
// scope without REPORT_PARTNERSHIP, a period off the release grid, not
// ended, or a date range (the differencing attack), malformed dimensions,
// no acting person, no certificate and an unregistered agency.
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

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kDpo[] = "llr-information-governance";
constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
constexpr char kCharnwood[] = "charnwood-borough-council";
constexpr char kNameCanary[] = "Qzreportcanary";
constexpr char kNarrativeCanary[] = "QZNARRATIVECANARY abuse at the bus stop";

absl::Time London(int y, int m, int d, int hh) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0), tz);
}

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
    clock_.Set(London(2026, 4, 1, 0));
    ASSERT_TRUE(server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "q2-city").ok());
    clock_.Set(London(2026, 7, 2, 9));
  }

  absl::StatusOr<v1::CountReferralsResponse> Count(const std::string& agency, const v1::CountReferralsRequest& q) {
    return server_->Client(agency).CountReferrals(q);
  }

  FakeClock clock_{London(2026, 1, 5, 9)};
  std::unique_ptr<TestServer> server_;
  std::vector<v1::Referral> city_;
};

TEST_F(ReportingTest, AnOversightGroupReadsProtectedCountsOfTheWholePartnership) {
  auto by_area = Count(kOversight, Query("2026-Q1", {v1::AREA}));
  ASSERT_TRUE(by_area.ok()) << by_area.status();
  EXPECT_EQ(by_area->period(), "2026-Q1");
  EXPECT_EQ(by_area->unit(), "referrals");
  EXPECT_EQ(FromProto(by_area->period_start()), London(2026, 1, 1, 0));
  EXPECT_EQ(FromProto(by_area->period_end()), London(2026, 4, 1, 0));
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

TEST_F(ReportingTest, AnAgencyCountsOnlyItsOwnReferralsAndOnlyWhatItMayRead) {
  // The city council redirects one of its referrals away: it stays a party
  // but reads only routing facts of it from then on (former party).
  clock_.Set(London(2026, 3, 30, 9));
  v1::RedirectReferralRequest redirect;
  redirect.set_name(city_[1].name());
  redirect.set_etag(city_[1].etag());
  redirect.set_request_id("redirect-1");
  redirect.set_target_agency(absl::StrCat("agencies/", kCharnwood));
  ASSERT_TRUE(server_->Client(kCityCouncil).RedirectReferral(redirect).ok());
  clock_.Set(London(2026, 7, 2, 9));

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
