// Input validation of a new referral against the API contract and the
// partnership registry. Collects every violation (not just the first) so a
// caseworker can fix a form in one go. Descriptions never echo the submitted
// value: it may be personal data.
#ifndef REFX_CORE_REFERRAL_VALIDATION_H_
#define REFX_CORE_REFERRAL_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/status_details.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

// Size limits of free-text fields, in bytes of UTF-8.
inline constexpr size_t kMaxNarrativeBytes = 32 * 1024;
inline constexpr size_t kMaxShortTextBytes = 256;
inline constexpr size_t kMaxNoteBytes = 4 * 1024;
inline constexpr int kMaxStrands = 16;
inline constexpr int kMaxSubjects = 10;

// Violations of `referral` as submitted by `caller` at time `now`. Paths are
// prefixed with `prefix` (e.g. "referral").
std::vector<FieldViolation> ValidateNewReferral(const v1::Referral& referral, const Caller& caller,
                                                const Partnership& partnership, absl::Time now,
                                                const std::string& prefix);

// True if `ts` is within google.protobuf.Timestamp's valid range
// (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, nanos in [0, 1e9)).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

// Violations of a CreateReferral request id ("request_id"), if any.
std::vector<FieldViolation> ValidateRequestId(const std::string& request_id);

}  // namespace refx::core

#endif  // REFX_CORE_REFERRAL_VALIDATION_H_
