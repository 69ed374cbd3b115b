#include "core/redaction.h"

#include <vector>

#include "absl/strings/str_split.h"
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

std::vector<v1::DataClass> DataClassSet::Members() const {
  std::vector<v1::DataClass> out;
  for (size_t i = 0; i < bits_.size(); ++i) {
    if (bits_.test(i)) out.push_back(static_cast<v1::DataClass>(i));
  }
  return out;
}

absl::StatusOr<DataClassSet> ClassesOfPath(const google::protobuf::Descriptor* descriptor, absl::string_view path) {
  DataClassSet classes;
  const google::protobuf::Descriptor* d = descriptor;
  for (absl::string_view segment : absl::StrSplit(path, '.')) {
    const FieldDescriptor* f = d == nullptr ? nullptr : d->FindFieldByName(std::string(segment));
    if (f == nullptr) return absl::InvalidArgumentError("no such field");
    classes.Add(DataClassOf(f));
    d = f->message_type() != nullptr && f->message_type()->file()->package() == "refx.v1" ? f->message_type() : nullptr;
  }
  return classes;
}

namespace {
void CollectOutside(const DataClassSet& allowed, const Message& message, const std::string& prefix,
                    std::vector<std::string>* out) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    const v1::DataClass c = DataClassOf(field);
    if (c == v1::DATA_CLASS_UNSPECIFIED || !allowed.Contains(c)) {
      out->push_back(path);
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->message_type()->file()->package() != "refx.v1") {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        CollectOutside(allowed, reflection->GetRepeatedMessage(message, field, i),
                       path + "[" + std::to_string(i) + "]", out);
      }
    } else {
      CollectOutside(allowed, reflection->GetMessage(message, field), path, out);
    }
  }
}
}  // namespace

namespace {
// Adds the classes of every set field of `message`, recursively, to
// `present`: one set for the whole walk, not a set and a vector per
// sub-message.
void AddClassesPresent(const Message& message, DataClassSet* present) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    present->Add(DataClassOf(field));
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        field->message_type()->file()->package() != "refx.v1") {
      continue;
    }
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) AddClassesPresent(reflection->GetRepeatedMessage(message, field, i), present);
    } else {
      AddClassesPresent(reflection->GetMessage(message, field), present);
    }
  }
}
}  // namespace

DataClassSet ClassesPresent(const Message& message) {
  DataClassSet present;
  AddClassesPresent(message, &present);
  return present;
}

std::vector<std::string> FieldsOutside(const DataClassSet& allowed, const Message& message) {
  std::vector<std::string> out;
  CollectOutside(allowed, message, "", &out);
  return out;
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
