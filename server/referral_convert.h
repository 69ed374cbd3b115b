// Conversions between the wire messages of ReferralService and core's plain
// parameter types.
#ifndef REFX_SERVER_REFERRAL_CONVERT_H_
#define REFX_SERVER_REFERRAL_CONVERT_H_

#include "absl/status/statusor.h"
#include "core/caller.h"
#include "core/referral_manager.h"
#include "refx/v1/referral_service.pb.h"

namespace refx::server {

// INVALID_ARGUMENT naming `filter.create_time_from`/`_to` if a time is not a
// valid Timestamp.
absl::StatusOr<core::ListReferralsParams> ToListParams(const v1::ListReferralsRequest& request);
void ToWhoAmIResponse(const core::Caller& caller, const std::string& partnership_id, v1::WhoAmIResponse* out);

}  // namespace refx::server

#endif  // REFX_SERVER_REFERRAL_CONVERT_H_
