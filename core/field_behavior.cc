#include "core/field_behavior.h"

#include "absl/strings/str_cat.h"

namespace refx::core {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The API's own messages: well-known types (Timestamp, FieldMask) carry no
// annotations and are covered by their field's.
bool IsApiMessage(const FieldDescriptor* field) {
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field->message_type()->file()->package() == "refx.v1";
}

bool IsSet(const Message& message, const FieldDescriptor* field) {
  const auto* reflection = message.GetReflection();
  if (field->is_repeated()) return reflection->FieldSize(message, field) > 0;
  if (field->has_presence()) return reflection->HasField(message, field);
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: return !reflection->GetString(message, field).empty();
    case FieldDescriptor::CPPTYPE_ENUM: return reflection->GetEnumValue(message, field) != 0;
    case FieldDescriptor::CPPTYPE_INT32: return reflection->GetInt32(message, field) != 0;
    case FieldDescriptor::CPPTYPE_INT64: return reflection->GetInt64(message, field) != 0;
    case FieldDescriptor::CPPTYPE_UINT32: return reflection->GetUInt32(message, field) != 0;
    case FieldDescriptor::CPPTYPE_UINT64: return reflection->GetUInt64(message, field) != 0;
    case FieldDescriptor::CPPTYPE_DOUBLE: return reflection->GetDouble(message, field) != 0;
    case FieldDescriptor::CPPTYPE_FLOAT: return reflection->GetFloat(message, field) != 0;
    default: return true;
  }
}

void CollectMissing(const Message& message, const std::string& prefix, std::vector<FieldViolation>* out) {
  const auto* descriptor = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string path = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    if (HasFieldBehavior(field, google::api::REQUIRED)) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !field->is_repeated()) {
        out->push_back({path, "schema error: a bool cannot be required"});
      } else if (!IsSet(message, field)) {
        out->push_back({path, "required"});
        continue;
      }
    }
    if (!IsApiMessage(field)) continue;
    if (field->is_repeated()) {
      for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
        CollectMissing(reflection->GetRepeatedMessage(message, field, j), absl::StrCat(path, "[", j, "]"), out);
      }
    } else if (reflection->HasField(message, field)) {
      CollectMissing(reflection->GetMessage(message, field), path, out);
    }
  }
}

}  // namespace

bool HasFieldBehavior(const FieldDescriptor* field, google::api::FieldBehavior behavior) {
  const auto& options = field->options();
  for (int i = 0; i < options.ExtensionSize(google::api::field_behavior); ++i) {
    if (options.GetExtension(google::api::field_behavior, i) == behavior) return true;
  }
  return false;
}

void ClearOutputOnly(Message* message) {
  const auto* reflection = message->GetReflection();
  reflection->MutableUnknownFields(message)->Clear();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (HasFieldBehavior(field, google::api::OUTPUT_ONLY)) {
      reflection->ClearField(message, field);
      continue;
    }
    if (!IsApiMessage(field)) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        ClearOutputOnly(reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      ClearOutputOnly(reflection->MutableMessage(message, field));
    }
  }
}

std::vector<FieldViolation> RequiredFieldViolations(const Message& message) {
  std::vector<FieldViolation> out;
  CollectMissing(message, "", &out);
  return out;
}

absl::Status CheckRequiredFields(const Message& request) {
  std::vector<FieldViolation> missing = RequiredFieldViolations(request);
  if (missing.empty()) return absl::OkStatus();
  return WithErrorInfo(InvalidArgumentError("the request leaves required fields unset", missing),
                       "REQUIRED_FIELD_MISSING");
}

}  // namespace refx::core
