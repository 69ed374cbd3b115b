// What a sender might try to write into a referral's output-only fields:
// for each field the schema marks OUTPUT_ONLY (google.api.field_behavior),
// a value no server would assign. The tests that prove such values have no
// effect (error details, side channels) share it, so a new output-only field
// is forged everywhere as soon as it is added, or fails loudly here.
#ifndef REFX_TESTS_TESTING_OUTPUT_ONLY_FORGERY_H_
#define REFX_TESTS_TESTING_OUTPUT_ONLY_FORGERY_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "refx/v1/referral.pb.h"

namespace refx::testing {

// The fields of Referral the schema marks OUTPUT_ONLY.
std::vector<const google::protobuf::FieldDescriptor*> OutputOnlyReferralFields();

// Sets `field` of `referral` to a value no server would assign: `name` for a
// string (e.g. an agency that is no party), the enum's last value, 99 for a
// count, 2100-01-01 for a time, an erasure of contact data by a forged rule,
// an NCHI regime chosen by a forged agreement. Returns false (and leaves the
// referral as it was) for a field of a type it has no forgery for.
bool ForgeOutputOnlyField(const google::protobuf::FieldDescriptor* field, const std::string& name,
                          v1::Referral* referral);

// The seconds of the forged time: a server's own clock is never this late.
inline constexpr int64_t kForgedTimeSeconds = 4102444800;  // 2100-01-01

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_OUTPUT_ONLY_FORGERY_H_
