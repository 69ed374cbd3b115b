// Errors a program can act on (docs/errors.md), over real mTLS: every error
// carries an ErrorInfo with a reason and a RequestInfo naming the call,
// NOT_FOUND is the same for an absent referral and one the caller is not a
// party to (down to the bytes of its details, the random call id aside), a
// stale etag says how to recover, invalid input names its fields, a limit
// says which (QuotaFailure), and the schema's field_behavior annotations are
// what the server enforces.
#include <string>

#include "absl/strings/str_replace.h"
#include "google/api/field_behavior.pb.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/output_only_forgery.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;

// The call id in the x-refx-call-id initial metadata of a finished call.
std::string CallIdHeader(const grpc::ClientContext& ctx) {
  const auto& headers = ctx.GetServerInitialMetadata();
  auto it = headers.find("x-refx-call-id");
  return it == headers.end() ? "" : std::string(it->second.data(), it->second.size());
}

// The raw details trailer of a GetReferral, as the wire carries it, without
// its RequestInfo (the call id, random per call), which goes to *call_id
// after checking that it is the one the call's metadata carried.
std::string GetDetails(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                       grpc::StatusCode* code, std::string* call_id) {
  auto stub = v1::ReferralService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-refx-acting-user", "error-details-test");
  v1::GetReferralRequest request;
  request.set_name(name);
  v1::Referral out;
  grpc::Status status = stub->GetReferral(&ctx, request, &out);
  *code = status.error_code();
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "unparsable";
  google::rpc::Status without;
  without.set_code(details.code());
  without.set_message(details.message());
  for (const auto& any : details.details()) {
    google::rpc::RequestInfo info;
    if (any.UnpackTo(&info)) {
      *call_id = info.request_id();
      EXPECT_EQ(info.request_id(), CallIdHeader(ctx));
      continue;
    }
    *without.add_details() = any;
  }
  return without.SerializeAsString();
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
  std::string not_party_call, absent_call;
  const std::string not_party = GetDetails(blaby, created->name(), &not_party_code, &not_party_call);
  const std::string absent = GetDetails(blaby, absent_name, &absent_code, &absent_call);
  EXPECT_EQ(not_party_code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(absent_code, grpc::StatusCode::NOT_FOUND);
  // Each answer names its own call, at random: nothing of the referral.
  EXPECT_EQ(not_party_call.size(), 16u);
  EXPECT_EQ(absent_call.size(), 16u);
  EXPECT_NE(not_party_call, absent_call);
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

// Every call, answered or refused, names itself in x-refx-call-id; a
// refusal carries the same id in its RequestInfo.
TEST_F(ErrorDetailsTest, EveryCallHasACallIdAndEveryErrorCarriesIt) {
  auto stub = v1::ReferralService::NewStub(server_->Channel(server_->pki().Agency(kPolice)));
  grpc::ClientContext ok_ctx;
  ok_ctx.AddMetadata("x-refx-acting-user", "tester");
  v1::WhoAmIResponse me;
  ASSERT_TRUE(stub->WhoAmI(&ok_ctx, v1::WhoAmIRequest(), &me).ok());
  EXPECT_EQ(CallIdHeader(ok_ctx).size(), 16u);

  grpc::ClientContext bad_ctx;
  bad_ctx.AddMetadata("x-refx-acting-user", "tester");
  v1::Referral out;
  grpc::Status refused = stub->GetReferral(&bad_ctx, v1::GetReferralRequest(), &out);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(refused.error_details()));
  const absl::Status status = FromRpcStatus(details);
  EXPECT_EQ(CallIdOf(status), CallIdHeader(bad_ctx));
  EXPECT_NE(CallIdHeader(bad_ctx), CallIdHeader(ok_ctx));
}

// REQUIRED comes from the schema: a request that leaves required fields
// unset is refused with every one of them named, before any handler runs.
TEST_F(ErrorDetailsTest, RequiredFieldsAreEnforcedFromTheSchema) {
  Api police = ApiOf(kPolice);
  v1::Referral bare;
  bare.set_area("leicester");
  auto refused = police.Create(bare, "details-required");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(refused.status()), "REQUIRED_FIELD_MISSING");
  std::vector<std::string> fields;
  for (const auto& v : FieldViolationsOf(refused.status())) fields.push_back(v.field);
  EXPECT_THAT(fields, ::testing::IsSupersetOf({"referral.report_type", "referral.strands", "referral.incident_narrative",
                                               "referral.victim", "referral.recipient_agencies"}));
  // Every REQUIRED field of the request messages, left out one at a time.
  auto created = police.Create(ValidReferral(kCityCouncil), "details-required-2");
  ASSERT_TRUE(created.ok()) << created.status();
  v1::AcceptReferralRequest full;
  full.set_name(created->name());
  full.set_request_id("details-required-accept");
  full.set_etag(created->etag());
  const auto* d = v1::AcceptReferralRequest::descriptor();
  auto stub = v1::ReferralService::NewStub(server_->Channel(server_->pki().Agency(kCityCouncil)));
  for (int i = 0; i < d->field_count(); ++i) {
    const auto& options = d->field(i)->options();
    bool required = false;
    for (int j = 0; j < options.ExtensionSize(google::api::field_behavior); ++j) {
      required = required || options.GetExtension(google::api::field_behavior, j) == google::api::REQUIRED;
    }
    if (!required) continue;
    v1::AcceptReferralRequest without = full;
    without.GetReflection()->ClearField(&without, d->field(i));
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-refx-acting-user", "tester");
    v1::Referral out;
    grpc::Status status = stub->AcceptReferral(&ctx, without, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << d->field(i)->name();
    EXPECT_THAT(status.error_details(), HasSubstr(d->field(i)->name())) << d->field(i)->name();
  }
}

// OUTPUT_ONLY comes from the schema: whatever a sender puts in any
// output-only field of a referral has no effect on what is created.
TEST_F(ErrorDetailsTest, EveryOutputOnlyFieldSentOnCreateHasNoEffect) {
  Api police = ApiOf(kPolice);
  auto plain = police.Create(ValidReferral(kCityCouncil), "details-output-plain");
  ASSERT_TRUE(plain.ok()) << plain.status();
  v1::Referral forged = ValidReferral(kCityCouncil);
  int output_only = 0;
  for (const auto* field : OutputOnlyReferralFields()) {
    ++output_only;
    EXPECT_TRUE(ForgeOutputOnlyField(field, "forged", &forged)) << "no forgery for " << field->full_name();
  }
  EXPECT_GE(output_only, 12);
  auto created = police.Create(forged, "details-output-forged");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_NE(created->name(), "forged");
  EXPECT_EQ(created->sender_agency(), absl::StrCat("agencies/", kPolice));
  EXPECT_EQ(created->state(), v1::Referral::REQUESTED);
  EXPECT_EQ(created->owner_agency(), "");
  EXPECT_EQ(created->redirected_agencies_size(), 0);
  EXPECT_EQ(created->state_note(), "");
  EXPECT_EQ(created->decline_reason(), v1::DECLINE_REASON_UNSPECIFIED);
  EXPECT_EQ(created->outcome(), v1::OUTCOME_UNSPECIFIED);
  EXPECT_LT(created->create_time().seconds(), kForgedTimeSeconds);
  EXPECT_LT(created->update_time().seconds(), kForgedTimeSeconds);
  EXPECT_LT(created->response_deadline().seconds(), kForgedTimeSeconds);
  EXPECT_NE(created->etag(), "forged");
  EXPECT_NE(created->repeat_victim_count(), 99);
  EXPECT_EQ(created->recording_regime().regime(), v1::CRIME_RECORDING);
  EXPECT_NE(created->recording_regime().agreement(), "forged");
  EXPECT_EQ(created->regime_history_size(), 0);
  EXPECT_EQ(created->erasures_size(), 0);
}

// A limit says which one ran out (QuotaFailure) besides its reason.
TEST_F(ErrorDetailsTest, LimitsCarryAQuotaFailure) {
  std::vector<std::string> mask(200, "area");
  auto refused = ApiOf(kPolice).Get("referrals/" + std::string(32, '0'), mask);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorReasonOf(refused.status()), "READ_MASK_TOO_LARGE");
  auto payload = refused.status().GetPayload("type.googleapis.com/google.rpc.QuotaFailure");
  ASSERT_TRUE(payload.has_value());
  google::rpc::QuotaFailure quota;
  ASSERT_TRUE(quota.ParseFromString(std::string(*payload)));
  ASSERT_EQ(quota.violations_size(), 1);
  EXPECT_EQ(quota.violations(0).subject(), "read_mask");
  EXPECT_THAT(quota.violations(0).description(), HasSubstr("limits.max_read_mask_paths"));
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
