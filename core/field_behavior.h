// The API's `google.api.field_behavior` annotations, enforced from the
// descriptors: what a client sends in an OUTPUT_ONLY field is dropped, and a
// REQUIRED field left unset is an invalid argument. The server applies both
// to every request before a handler sees it, so the annotation in the .proto
// and the behaviour cannot drift apart (a test checks that every field of
// the API carries an annotation).
#ifndef REFX_CORE_FIELD_BEHAVIOR_H_
#define REFX_CORE_FIELD_BEHAVIOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_details.h"
#include "google/api/field_behavior.pb.h"
#include "google/protobuf/message.h"

namespace refx::core {

// Whether `field` is annotated with `behavior`.
bool HasFieldBehavior(const google::protobuf::FieldDescriptor* field, google::api::FieldBehavior behavior);

// Clears every field marked OUTPUT_ONLY, recursively through refx.v1
// messages, and unknown fields: what a client sends there is ignored
// (AIP-203) on every write path.
void ClearOutputOnly(google::protobuf::Message* message);

// One violation per REQUIRED field that is unset, recursively through the
// refx.v1 messages that are set, with paths such as
// `referral.victim.given_name` or `referral.strands[0].basis`. Unset means:
// a message field not present, a repeated field empty, a string or bytes
// field empty, an enum field at its zero value, a number field zero (for a
// field with explicit presence: not present). A REQUIRED bool is a schema
// error and is reported as such.
std::vector<FieldViolation> RequiredFieldViolations(const google::protobuf::Message& message);

// INVALID_ARGUMENT (reason REQUIRED_FIELD_MISSING) listing every missing
// REQUIRED field of `request`, or OK.
absl::Status CheckRequiredFields(const google::protobuf::Message& request);

}  // namespace refx::core

#endif  // REFX_CORE_FIELD_BEHAVIOR_H_
