// What the agreement enforcement suites share (agreement_enforcement_test.cc,
// agreement_write_and_reload_test.cc, agreement_leak_test.cc): the
// agreement and partnership files as loaded at test time, the oracle that
// reads them independently of core::Agreement, a referral carrying every
// data class with a canary in each restricted free-text field, and the
// fixture running a real server over mTLS.
#ifndef REFX_TESTS_INTEGRATION_AGREEMENT_TEST_SUPPORT_H_
#define REFX_TESTS_INTEGRATION_AGREEMENT_TEST_SUPPORT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/redaction.h"
#include "grpcpp/channel.h"
#include "gtest/gtest.h"
#include "refx/config/v1/agreement.pb.h"
#include "refx/config/v1/partnership.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {

inline constexpr char kPrevent[] = "llr-prevent";

// The ErrorInfo metadata of a status ("" when absent).
std::map<std::string, std::string> ErrorMetadataOf(const absl::Status& status);

// ---------------------------------------------------------------------------
// The agreement and partnership, as files.
config::v1::Agreement LoadAgreementFile(const std::string& path);

config::v1::Partnership LoadPartnership();

// Replaces the agreement `server` runs under by its agreement file as
// `change` leaves it, under a version ending in `version_suffix`, and has
// the server reload it (failing the test if it refuses).
void ReloadAgreementWith(TestServer& server, const std::string& version_suffix,
                         const std::function<void(config::v1::Agreement&)>& change);

// The same with the police's investigation purpose granted read of the NCHI
// subject compartment (DATA_CLASS_NCHI_SUBJECT), which the LLR agreement
// grants nobody.
void GrantPoliceTheSubjectCompartment(TestServer& server, const std::string& version_suffix = "-nchi-read");

template <typename Repeated>
core::DataClassSet ToSet(const Repeated& classes) {
  core::DataClassSet set;
  for (int c : classes) set.Add(static_cast<v1::DataClass>(c));
  return set;
}

bool HasPermission(const config::v1::RoleRules& role, config::v1::Permission p);

// The first (non-suspended) agency of `role` in the partnership file.
std::string AgencyOfRole(const config::v1::Partnership& p, const std::string& role);

std::string ClassNames(const core::DataClassSet& s);

// The consent states a reader can meet.
enum class ConsentCase { kGiven, kRefusedAcceptedBasis, kRefusedOtherBasis };
const char* CaseName(ConsentCase c);

// A lawful basis of the agreement that `grant` does not accept ("" if the
// grant accepts them all).
std::string BasisNotAcceptedBy(const config::v1::Agreement& a, const config::v1::Grant& grant);

// What the agreement FILE says flows to a reader of `grant` (computed here,
// independently of core::Agreement).
core::DataClassSet ExpectedReadable(const config::v1::Grant& grant, ConsentCase c);

// ---------------------------------------------------------------------------
// Canaries: one distinct marker per restricted free-text field, with its
// class. Short enough for every length limit, upper case so that a
// case-insensitive scan finds them anywhere.
struct Canary {
  std::string value;
  v1::DataClass data_class;
};

std::vector<Canary> CanariesFor(const std::string& tag);

// A referral from the police with a field of EVERY data class set, and a
// canary (tagged `tag`) in every restricted free-text field.
v1::Referral FullReferral(const std::string& recipient, v1::Consent::Status consent, const std::string& basis,
                          const std::string& tag);

// Every class a referral can carry.
core::DataClassSet AllReferralClasses();

// One field path of each class (for read_mask and write tables), set by
// FullReferral.
const std::map<v1::DataClass, std::string>& PathOfClass();

// The top-level field name of a path ("victim" for "victim.phone").
std::string Top(const std::string& path);

// ---------------------------------------------------------------------------
// A real server running the file agreement, and that agreement and the
// partnership as the tests read them.
class AgreementEnforcementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    agreement_ = LoadAgreementFile(server_->config().agreement_file());
    partnership_ = LoadPartnership();
  }

  // One channel per agency for the whole test.
  Api As(const std::string& agency, const std::string& purpose = "", const std::string& acting = "isa-tester") {
    auto it = channels_.find(agency);
    if (it == channels_.end()) it = channels_.emplace(agency, server_->Channel(server_->pki().Agency(agency))).first;
    return Api(it->second, acting, purpose);
  }
  const config::v1::StorageConfig& Db() const { return server_->config().storage(); }
  std::string NextId() { return absl::StrCat("isa-", ++request_counter_); }

  const config::v1::RoleRules* Role(const std::string& name) const {
    for (const auto& r : agreement_.roles()) {
      if (r.role() == name) return &r;
    }
    return nullptr;
  }

  std::unique_ptr<TestServer> server_;
  config::v1::Agreement agreement_;
  config::v1::Partnership partnership_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  int request_counter_ = 0;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_INTEGRATION_AGREEMENT_TEST_SUPPORT_H_
