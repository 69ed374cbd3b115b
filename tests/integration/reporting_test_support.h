// The fixture of the ReportingService suites (reporting_test.cc,
// report_response_times_test.cc, tension_alerts_test.cc): a server whose
// clock the test drives, with the first quarter of 2026 stored (12 race hate
// crimes in Leicester for the city council, 3 disability hate incidents in
// Blaby, one more in the second quarter), and helpers to read a release.
#ifndef REFX_TESTS_INTEGRATION_REPORTING_TEST_SUPPORT_H_
#define REFX_TESTS_INTEGRATION_REPORTING_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {

inline constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
inline constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
inline constexpr char kCharnwood[] = "charnwood-borough-council";
inline constexpr char kNameCanary[] = "Qzreportcanary";
inline constexpr char kNarrativeCanary[] = "QZNARRATIVECANARY abuse at the bus stop";

inline v1::CountReferralsRequest Query(const std::string& period, std::vector<v1::ReportDimension> dimensions,
                                v1::ReportScope scope = v1::PARTNERSHIP) {
  v1::CountReferralsRequest request;
  request.set_period(period);
  for (auto d : dimensions) request.add_dimensions(d);
  request.set_scope(scope);
  return request;
}

// The released count at (row label, column index).
inline const v1::ReleasedCount& Cell(const v1::CountReferralsResponse& release, const std::string& row, int column = 0) {
  for (const auto& r : release.rows()) {
    if (r.label() == row) return r.counts(column);
  }
  ADD_FAILURE() << "no row " << row;
  static const v1::ReleasedCount kNone;
  return kNone;
}

inline int Column(const v1::CountReferralsResponse& release, const std::string& label) {
  for (int i = 0; i < release.column_labels_size(); ++i) {
    if (release.column_labels(i) == label) return i;
  }
  ADD_FAILURE() << "no column " << label;
  return 0;
}

class ReportingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
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

}  // namespace refx::testing

#endif  // REFX_TESTS_INTEGRATION_REPORTING_TEST_SUPPORT_H_
