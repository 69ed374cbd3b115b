// Errors a program can act on (docs/errors.md), over real mTLS: every error
// carries an ErrorInfo with a reason, NOT_FOUND is the same for an absent
// referral and one the caller is not a party to (down to the bytes of its
// details), a stale etag says how to recover, invalid input names its fields.
#include <string>

#include "absl/strings/str_replace.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

// The raw details trailer of a GetReferral, as the wire carries it.
std::string GetDetails(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                       grpc::StatusCode* code) {
  auto stub = v1::ReferralService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-refx-acting-user", "error-details-test");
  v1::GetReferralRequest request;
  request.set_name(name);
  v1::Referral out;
  grpc::Status status = stub->GetReferral(&ctx, request, &out);
  *code = status.error_code();
  return status.error_details();
}

class ErrorDetailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  Api ApiOf(const std::string& agency) { return Api(server_->Channel(server_->pki().Agency(agency)), "tester"); }
  std::unique_ptr<TestServer> server_;
};

TEST_F(ErrorDetailsTest, NotFoundIsTheSameForAbsentAndNotAPartyDownToTheBytes) {
  auto created = ApiOf(kPolice).Create(ValidReferral(kCityCouncil), "details-1");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string absent_name = "referrals/" + std::string(created->name().size() - 10, '0');
  ASSERT_EQ(absent_name.size(), created->name().size());
  auto blaby = server_->Channel(server_->pki().Agency(kBlaby));
  grpc::StatusCode not_party_code, absent_code;
  const std::string not_party = GetDetails(blaby, created->name(), &not_party_code);
  const std::string absent = GetDetails(blaby, absent_name, &absent_code);
  EXPECT_EQ(not_party_code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(absent_code, grpc::StatusCode::NOT_FOUND);
  // The only difference allowed is the name the caller itself asked for.
  EXPECT_EQ(absl::StrReplaceAll(not_party, {{created->name(), absent_name}}), absent);

  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(absent));
  bool resource_info = false;
  for (const auto& any : details.details()) {
    google::rpc::ResourceInfo info;
    if (any.UnpackTo(&info)) {
      resource_info = true;
      EXPECT_EQ(info.resource_type(), "refx.v1.Referral");
      EXPECT_EQ(info.resource_name(), absent_name);
    }
  }
  EXPECT_TRUE(resource_info);
  auto status = ApiOf(kBlaby).Get(absent_name);
  EXPECT_EQ(ErrorReasonOf(status.status()), "REFERRAL_NOT_FOUND");
}

TEST_F(ErrorDetailsTest, EveryRefusalCarriesAReasonAndStaleEtagsSayHowToRecover) {
  Api police = ApiOf(kPolice);
  Api council = ApiOf(kCityCouncil);
  auto created = police.Create(ValidReferral(kCityCouncil), "details-2");
  ASSERT_TRUE(created.ok()) << created.status();

  // Invalid input: the generic reason and the fields.
  v1::Referral bad = ValidReferral(kCityCouncil);
  bad.set_area("atlantis");
  auto invalid = police.Create(bad, "details-3");
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(invalid.status()), "INVALID_REQUEST");
  EXPECT_FALSE(FieldViolationsOf(invalid.status()).empty());
  EXPECT_EQ(ErrorMetadataOf(invalid.status(), "nothing"), "");

  // A field the agreement withholds.
  auto withheld = council.Get(created->name(), {"subjects"});
  EXPECT_EQ(ErrorReasonOf(withheld.status()), "FIELD_NOT_SHARED");
  EXPECT_THAT(ErrorMetadataOf(withheld.status(), "fields"), HasSubstr("subjects"));

  // A stale etag: ABORTED, ETAG_MISMATCH, and the message says what to do.
  v1::AcceptReferralRequest accept;
  accept.set_name(created->name());
  accept.set_request_id("details-accept");
  accept.set_etag("stale-etag");
  auto stub = v1::ReferralService::NewStub(server_->Channel(server_->pki().Agency(kCityCouncil)));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-refx-acting-user", "tester");
  v1::Referral out;
  grpc::Status stale = stub->AcceptReferral(&ctx, accept, &out);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(stale.error_message(), HasSubstr("re-read"));
  google::rpc::Status stale_details;
  ASSERT_TRUE(stale_details.ParseFromString(stale.error_details()));
  EXPECT_EQ(ErrorReasonOf(FromRpcStatus(stale_details)), "ETAG_MISMATCH");

  // A method the role may not call (a council reading the audit log).
  auto audit = council.ListAudit(v1::ListAuditEventsRequest());
  EXPECT_EQ(audit.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(ErrorReasonOf(audit.status()).empty());

  // Request bytes that do not parse: still a reason.
  auto generic = v1::ReferralService::NewStub(server_->Channel(server_->pki().Agency(kPolice)));
  grpc::ClientContext bad_ctx;
  v1::GetReferralRequest empty;
  grpc::Status no_name = generic->GetReferral(&bad_ctx, empty, &out);
  EXPECT_EQ(no_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status no_name_details;
  ASSERT_TRUE(no_name_details.ParseFromString(no_name.error_details()));
  EXPECT_FALSE(ErrorReasonOf(FromRpcStatus(no_name_details)).empty());
}

TEST(ErrorDetailsUnitTest, DefaultsGiveEveryCodeAReasonAndOverloadARetryDelay) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status status = WithDefaultErrorDetails(absl::Status(static_cast<absl::StatusCode>(code), "x"));
    EXPECT_FALSE(ErrorReasonOf(status).empty()) << code;
    EXPECT_EQ(ErrorReasonOf(status), GenericErrorReason(status.code())) << code;
  }
  absl::Status busy = WithDefaultErrorDetails(
      WithErrorInfo(absl::ResourceExhaustedError("busy"), "SERVER_OVERLOADED"));
  EXPECT_EQ(ErrorReasonOf(busy), "SERVER_OVERLOADED");  // a specific reason is kept
  google::rpc::Status rpc = ToRpcStatus(busy);
  bool retry = false;
  for (const auto& any : rpc.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) retry = info.retry_delay().seconds() == 1;
  }
  EXPECT_TRUE(retry);
}

}  // namespace
}  // namespace refx::testing
