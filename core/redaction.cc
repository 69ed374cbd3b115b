#include "core/redaction.h"

#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace refx::core {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

DataClassSet DataClassSet::All() {
  DataClassSet set;
  const auto* e = v1::DataClass_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    auto c = static_cast<v1::DataClass>(e->value(i)->number());
    if (c != v1::DATA_CLASS_UNSPECIFIED) set.Add(c);
  }
  return set;
}

v1::DataClass DataClassOf(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::data_class);
}

void Redact(const DataClassSet& allowed, Message* message) {
  const auto* reflection = message->GetReflection();
  // Unknown fields have no class: deny by default.
  reflection->MutableUnknownFields(message)->Clear();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    const v1::DataClass c = DataClassOf(field);
    if (c == v1::DATA_CLASS_UNSPECIFIED || !allowed.Contains(c)) {
      reflection->ClearField(message, field);
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    // Well-known types (Timestamp) carry no classes of their own: the field's
    // class covers them whole.
    if (field->message_type()->file()->package() != "refx.v1") continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        Redact(allowed, reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      Redact(allowed, reflection->MutableMessage(message, field));
    }
  }
}

}  // namespace refx::core
