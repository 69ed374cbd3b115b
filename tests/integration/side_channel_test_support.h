// What the side-channel suites share (side_channel_test.cc,
// side_channel_disclosure_test.cc): the agencies they act as, the data
// classes an answer or an audit event carries, and a fixture that reads back
// the audit event of each answer as the DPO would.
#ifndef REFX_TESTS_INTEGRATION_SIDE_CHANNEL_TEST_SUPPORT_H_
#define REFX_TESTS_INTEGRATION_SIDE_CHANNEL_TEST_SUPPORT_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/redaction.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {

inline constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
inline constexpr char kHealthCanary[] = "CANARY-HEALTH-2c9e uses a wheelchair";

inline std::set<int> ClassesOf(const google::protobuf::Message& message) {
  std::set<int> out;
  for (v1::DataClass c : core::DisclosureOf(message).classes.Members()) out.insert(c);
  return out;
}

inline std::set<int> ClassesOf(const v1::AuditEvent& event) {
  return std::set<int>(event.data_classes().begin(), event.data_classes().end());
}

inline std::vector<std::string> DerivedOf(const v1::AuditEvent& event) {
  return std::vector<std::string>(event.derived().begin(), event.derived().end());
}

class SideChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  Api As(const std::string& agency) const {
    return Api(server_->Channel(server_->pki().Agency(agency)), absl::StrCat("caseworker-", agency));
  }

  v1::Referral Create(const std::string& agency, const v1::Referral& r) {
    auto created = As(agency).Create(r, absl::StrCat("create-", ++ids_));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  // The newest audit event of `method` (its last name segment) by `agency`.
  v1::AuditEvent LastEvent(const std::string& method, const std::string& agency) {
    v1::ListAuditEventsRequest req;
    req.set_agency(absl::StrCat("agencies/", agency));
    req.set_page_size(1000);
    v1::AuditEvent last;
    while (true) {
      auto page = As(kDpo).ListAudit(req);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return last;
      for (const v1::AuditEvent& e : page->events()) {
        if (absl::EndsWith(e.method(), absl::StrCat(".", method))) last = e;
      }
      if (page->next_page_token().empty()) return last;
      req.set_page_token(page->next_page_token());
    }
  }

  // Asserts that the newest event of `method` by `agency` records exactly
  // the classes and derived values present in `response`.
  void ExpectAuditMatches(const std::string& method, const std::string& agency,
                          const google::protobuf::Message& response) {
    SCOPED_TRACE(method);
    const v1::AuditEvent event = LastEvent(method, agency);
    ASSERT_GT(event.sequence(), 0) << "no audit event";
    EXPECT_EQ(event.outcome(), "OK");
    EXPECT_EQ(ClassesOf(event), ClassesOf(response)) << event.DebugString() << response.DebugString();
    EXPECT_EQ(DerivedOf(event), core::DisclosureOf(response).derived);
  }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_INTEGRATION_SIDE_CHANNEL_TEST_SUPPORT_H_
