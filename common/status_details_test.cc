#include "common/status_details.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace refx {
namespace {

TEST(StatusDetailsTest, FieldViolationsRoundTripThroughRpcStatus) {
  absl::Status s = InvalidArgumentError("bad referral", {{"referral.area", "unknown area"},
                                                         {"request_id", "required"}});
  s = WithErrorInfo(s, "INVALID_REFERRAL", {{"k", "v"}});
  google::rpc::Status rpc = ToRpcStatus(s);
  EXPECT_EQ(rpc.code(), 3);
  EXPECT_EQ(rpc.details_size(), 2);
  absl::Status back = FromRpcStatus(rpc);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  auto violations = FieldViolationsOf(back);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field, "referral.area");
  EXPECT_EQ(violations[1].description, "required");
  EXPECT_EQ(ErrorReasonOf(back), "INVALID_REFERRAL");
}

TEST(StatusDetailsTest, PlainStatusHasNoDetails) {
  absl::Status s = absl::NotFoundError("x");
  EXPECT_TRUE(FieldViolationsOf(s).empty());
  EXPECT_EQ(ErrorReasonOf(s), "");
  EXPECT_EQ(ToRpcStatus(s).details_size(), 0);
}

TEST(StatusDetailsTest, TheReasonSentIsTheErrorInfosOrTheCodesGenericOne) {
  EXPECT_EQ(ErrorReasonSent(absl::OkStatus()), "");
  EXPECT_EQ(ErrorReasonSent(absl::FailedPreconditionError("x")), "PRECONDITION_FAILED");
  EXPECT_EQ(ErrorReasonSent(InvalidArgumentError("bad", {{"field", "why"}})), "INVALID_REQUEST");
  EXPECT_EQ(ErrorReasonSent(WithErrorInfo(absl::PermissionDeniedError("no"), "METHOD_NOT_PERMITTED")),
            "METHOD_NOT_PERMITTED");
  // The same reason the edge attaches (under clang too, which evaluates a
  // call's arguments in another order than g++).
  const absl::Status plain = absl::NotFoundError("gone");
  EXPECT_EQ(ErrorReasonOf(WithDefaultErrorDetails(plain)), "NOT_FOUND");
  EXPECT_EQ(ErrorReasonSent(plain), ErrorReasonOf(WithDefaultErrorDetails(plain)));
}

TEST(StatusDetailsTest, PreconditionFailureSurvivesTheWire) {
  absl::Status s = FailedPreconditionError("cannot accept", {{"STATE", "referrals/abc", "accept is not allowed"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  absl::Status back = FromRpcStatus(ToRpcStatus(s));
  auto violations = PreconditionViolationsOf(back);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].type, "STATE");
  EXPECT_EQ(violations[0].subject, "referrals/abc");
  EXPECT_EQ(violations[0].description, "accept is not allowed");
  EXPECT_TRUE(PreconditionViolationsOf(absl::NotFoundError("x")).empty());
}

}  // namespace
}  // namespace refx

namespace refx {
namespace {

// Ten thousand bad fields give an answer of a few hundred bytes: the first
// kMaxFieldViolations and a count of the rest.
TEST(StatusDetailsTest, FieldViolationsAreBounded) {
  std::vector<FieldViolation> many;
  for (int i = 0; i < 10000; ++i) many.push_back({absl::StrCat("read_mask.paths[", i, "]"), "not a field of Referral"});
  const absl::Status status = InvalidArgumentError("invalid read_mask", many);
  const std::vector<FieldViolation> carried = FieldViolationsOf(status);
  ASSERT_EQ(carried.size(), kMaxFieldViolations + 1);
  EXPECT_EQ(carried.front().field, "read_mask.paths[0]");
  EXPECT_EQ(carried.back().field, "...");
  EXPECT_EQ(carried.back().description, "9936 more violations not listed");
  EXPECT_LT(ToRpcStatus(status).ByteSizeLong(), 4096u);
}

}  // namespace
}  // namespace refx
