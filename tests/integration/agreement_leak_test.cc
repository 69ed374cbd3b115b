// The information-sharing agreement over real mTLS (issue 4), as what must
// never leak: canaries in every restricted free-text field stay out of
// responses, list pages, error messages, the server log and the audit rows
// unless the agreement lets their class flow, and a non-party probing 1,000
// ids learns nothing. Expectations come from the agreement file as loaded at
// test time (agreement_test_support.h).
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_details.h"
#include "common/yaml_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using config::v1::Grant;
using config::v1::RoleRules;
using core::DataClassSet;

// Everything an error carries, for leak scans: message and every detail.
std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(status.message(), "\n", ToRpcStatus(status).DebugString());
}

// Every audit row as text (all columns), for leak scans.
std::string AuditRowsText(const config::v1::StorageConfig& storage) {
  std::string out;
  for (const auto& row : TestDatabase(storage).Rows("SELECT * FROM audit_events ORDER BY sequence")) {
    for (const auto& column : row) absl::StrAppend(&out, column, "|");
    out += "\n";
  }
  return out;
}

int Count(const std::string& haystack, const std::string& needle) {
  std::string h = haystack, n = needle;
  for (char& ch : h) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  for (char& ch : n) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  int count = 0;
  for (size_t pos = h.find(n); pos != std::string::npos; pos = h.find(n, pos + 1)) ++count;
  return count;
}

// 3. A party that is not a party to any referral asks for 1,000 names, real
// ones of others' referrals and random absent ones: every answer is
// NOT_FOUND with the same message (apart from the name) and the same
// details.
TEST_F(AgreementEnforcementTest, NonPartyProbingAThousandIdsLearnsNothing) {
  std::vector<std::string> real;
  for (int i = 0; i < 10; ++i) {
    const char* to = i % 2 ? kCityCouncil : kPrevent;
    auto r = As(kPolice).Create(FullReferral(to, v1::Consent::GIVEN, "", "NF"), NextId());
    ASSERT_TRUE(r.ok()) << r.status();
    real.push_back(r->name());
  }
  std::mt19937_64 rng(20260401);
  Api blaby = As(kBlaby);
  std::string first_details;
  int real_asked = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string name;
    if (i % 4 == 0) {
      name = real[(i / 4) % real.size()];
      ++real_asked;
    } else {
      char hex[33];
      std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                    static_cast<unsigned long long>(rng()));
      name = absl::StrCat("referrals/", hex);
    }
    auto got = blaby.Get(name);
    ASSERT_EQ(got.status().code(), absl::StatusCode::kNotFound) << name << ": " << got.status();
    EXPECT_EQ(absl::StrReplaceAll(got.status().message(), {{name, "<NAME>"}}), "referral <NAME> not found");
    // The call id (RequestInfo) is random per call and is left out; it must
    // be there, and everything else the same for every probe.
    EXPECT_EQ(CallIdOf(got.status()).size(), 16u);
    absl::Status without_call_id = got.status();
    without_call_id.ErasePayload("type.googleapis.com/google.rpc.RequestInfo");
    google::rpc::Status rpc = ToRpcStatus(without_call_id);
    rpc.clear_message();
    // The details name the referral asked for (ResourceInfo): that is the
    // caller's own input; everything else must be the same for every probe.
    const std::string details = absl::StrReplaceAll(rpc.SerializeAsString(), {{name, "<NAME>"}});
    if (i == 0) first_details = details;
    EXPECT_EQ(details, first_details) << name;
  }
  EXPECT_EQ(real_asked, 250);
  auto page = blaby.List(v1::ListReferralsRequest());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->referrals_size(), 0);
}

// 2. Canaries: for every reading role, no canary of a class it may not see
// appears in Get responses, List pages, error messages (forced errors too),
// the server's log (stderr captured in-process) or the audit rows. The
// canaries of classes it may see do appear in Get (positive control).
TEST_F(AgreementEnforcementTest, CanariesOfUnsharedClassesNeverLeak) {
  // Capture the server's stderr (its log) for the whole test.
  const std::string log_path = server_->directory() + "/stderr.log";
  fflush(stderr);
  const int saved = dup(2);
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, 2);
  close(fd);

  struct Seen {
    std::string role;
    DataClassSet allowed;  // the most any referral of the run let flow
    std::vector<Canary> canaries;
    std::string responses, errors;
  };
  std::vector<Seen> seen;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    for (const Grant& grant : role.grants()) {
      for (ConsentCase c : {ConsentCase::kGiven, ConsentCase::kRefusedAcceptedBasis, ConsentCase::kRefusedOtherBasis}) {
        const std::string tag = absl::StrCat("T", seen.size(), "X");
        std::string basis = c == ConsentCase::kGiven                 ? ""
                            : c == ConsentCase::kRefusedAcceptedBasis ? grant.lawful_bases(0)
                                                                     : BasisNotAcceptedBy(agreement_, grant);
        auto created = As(kPolice, "", "ZQACTORPOLICE")
                           .Create(FullReferral(recipient, c == ConsentCase::kGiven ? v1::Consent::GIVEN
                                                                                    : v1::Consent::REFUSED,
                                                basis, tag),
                                   NextId());
        ASSERT_TRUE(created.ok()) << created.status();
        Seen s{absl::StrCat(role.role(), "/", grant.purpose(), "/", CaseName(c)), ExpectedReadable(grant, c),
               CanariesFor(tag), "", ""};
        Api api = As(agency, grant.purpose());
        auto got = api.Get(created->name());
        ASSERT_TRUE(got.ok()) << got.status();
        s.responses += got->DebugString();
        v1::ListReferralsRequest list;
        list.set_page_size(5);
        auto page = api.List(list);
        ASSERT_TRUE(page.ok());
        s.responses += page->DebugString();
        // Forced errors, each with the referral's name in them.
        for (const auto& [cls, path] : PathOfClass()) {
          auto e = api.Get(created->name(), {path});
          if (!e.ok()) s.errors += ErrorText(e.status());
        }
        s.errors += ErrorText(api.Get(created->name(), {"victim.given_name.x"}).status());
        s.errors += ErrorText(api.Get(absl::StrCat(created->name(), "0")).status());
        s.errors += ErrorText(As(kBlaby).Get(created->name()).status());
        v1::ListReferralsRequest bad;
        bad.mutable_filter()->add_areas("QZNOAREA");
        s.errors += ErrorText(api.List(bad).status());
        // Positive control: what may be seen is seen.
        for (const Canary& cn : s.canaries) {
          if (s.allowed.Contains(cn.data_class)) {
            EXPECT_GE(Count(s.responses, cn.value), 1) << s.role << " " << cn.value;
          }
        }
        seen.push_back(std::move(s));
      }
    }
  }
  server_->Stop();  // flush the log and the database
  fflush(stderr);
  dup2(saved, 2);
  close(saved);

  std::string log;
  ASSERT_TRUE(ReadFileToString(log_path, &log).ok());
  EXPECT_THAT(log, ::testing::HasSubstr("GetReferral"));  // the capture worked
  const std::string audit = AuditRowsText(Db());
  EXPECT_GT(Count(audit, "GetReferral"), 0);
  int checked = 0;
  for (const Seen& s : seen) {
    for (const Canary& c : s.canaries) {
      // The log and the audit rows must hold no canary at all.
      EXPECT_EQ(Count(log, c.value), 0) << "server log leaks " << c.value;
      EXPECT_EQ(Count(audit, c.value), 0) << "audit rows leak " << c.value;
      EXPECT_EQ(Count(s.errors, c.value), 0) << s.role << ": an error message leaks " << c.value;
      if (s.allowed.Contains(c.data_class)) continue;
      EXPECT_EQ(Count(s.responses, c.value), 0) << s.role << " was shown " << c.value;
      ++checked;
    }
  }
  EXPECT_EQ(Count(log, "ZQACTORPOLICE"), 0);
  EXPECT_EQ(Count(audit, "ZQACTORPOLICE"), 0);
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace refx::testing
