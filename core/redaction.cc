#include "core/redaction.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace refx::core {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

namespace {

// Sub-messages of refx.v1 carry classes of their own; well-known types
// (Timestamp) are covered whole by their field's class.
bool HasClassedFields(const FieldDescriptor* field) {
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field->message_type()->file()->package() == "refx.v1";
}


// The content class of the value of enum field `name` in `message`, or
// UNSPECIFIED when there is no such enum field or its value has none.
v1::DataClass ContentClassOfSibling(const Message& message, const std::string& name, int depth) {
  const FieldDescriptor* sibling = message.GetDescriptor()->FindFieldByName(name);
  if (sibling == nullptr || sibling->is_repeated() || sibling->cpp_type() != FieldDescriptor::CPPTYPE_ENUM) {
    return v1::DATA_CLASS_UNSPECIFIED;
  }
  const auto* value = message.GetReflection()->GetEnum(message, sibling);
  if (value == nullptr) return v1::DATA_CLASS_UNSPECIFIED;
  const std::string& from = value->options().GetExtension(v1::content_class_from);
  if (!from.empty()) {
    return depth > 0 ? v1::DATA_CLASS_UNSPECIFIED : ContentClassOfSibling(message, from, depth + 1);
  }
  return value->options().GetExtension(v1::content_class);
}

void AddPresent(const Message& message, Disclosure* out) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    out->classes.Add(EffectiveClassOf(message, field));
    if (IsDerived(field)) out->derived.push_back(field->name());
    if (!HasClassedFields(field)) continue;
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) AddPresent(reflection->GetRepeatedMessage(message, field, i), out);
    } else {
      AddPresent(reflection->GetMessage(message, field), out);
    }
  }
}

void SortUnique(std::vector<std::string>* names) {
  std::sort(names->begin(), names->end());
  names->erase(std::unique(names->begin(), names->end()), names->end());
}

void CollectOutside(const DataClassSet& allowed, const Message& message, const std::string& prefix,
                    std::vector<std::string>* out) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    const v1::DataClass c = EffectiveClassOf(message, field);
    if (c == v1::DATA_CLASS_UNSPECIFIED || !allowed.Contains(c)) {
      out->push_back(path);
      continue;
    }
    if (!HasClassedFields(field)) continue;
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

void Disclosure::Add(const Message& message) {
  AddPresent(message, this);
  SortUnique(&derived);
}

void Disclosure::Add(const Disclosure& other) {
  classes.AddAll(other.classes);
  derived.insert(derived.end(), other.derived.begin(), other.derived.end());
  SortUnique(&derived);
}

Disclosure DisclosureOf(const Message& message) {
  Disclosure out;
  out.Add(message);
  return out;
}

Disclosure DisclosureWithElements(const Message& message, const FieldDescriptor* field,
                                  const std::vector<const Disclosure*>& elements) {
  Disclosure out = DisclosureOf(message);
  if (elements.empty()) return out;
  // As AddPresent would for the field once set: its own class and name,
  // then each element's.
  out.classes.Add(EffectiveClassOf(message, field));
  if (IsDerived(field)) out.derived.push_back(field->name());
  for (const Disclosure* element : elements) {
    out.classes.AddAll(element->classes);
    out.derived.insert(out.derived.end(), element->derived.begin(), element->derived.end());
  }
  SortUnique(&out.derived);
  return out;
}

v1::DataClass DataClassOf(const FieldDescriptor* field) { return field->options().GetExtension(v1::data_class); }

v1::DataClass EffectiveClassOf(const Message& message, const FieldDescriptor* field) {
  const std::string& from = field->options().GetExtension(v1::class_from);
  if (!from.empty()) {
    const FieldDescriptor* kind = message.GetDescriptor()->FindFieldByName(from);
    const auto* value = kind != nullptr && !kind->is_repeated() && kind->cpp_type() == FieldDescriptor::CPPTYPE_ENUM
                            ? message.GetReflection()->GetEnum(message, kind)
                            : nullptr;
    // A kind whose class comes from another field (a correction) and cannot
    // be resolved is no class at all: deny by default, rather than fall back
    // to a class that may be wider than what the text says.
    if (value != nullptr && !value->options().GetExtension(v1::content_class_from).empty()) {
      return ContentClassOfSibling(message, from, 0);
    }
    const v1::DataClass content = ContentClassOfSibling(message, from, 0);
    if (content != v1::DATA_CLASS_UNSPECIFIED) return content;
  }
  return DataClassOf(field);
}

bool IsDerived(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::derived_from_other_referrals);
}

absl::StatusOr<DataClassSet> ClassesOfPath(const google::protobuf::Descriptor* descriptor, absl::string_view path) {
  DataClassSet classes;
  const google::protobuf::Descriptor* d = descriptor;
  for (absl::string_view segment : absl::StrSplit(path, '.')) {
    const FieldDescriptor* f = d == nullptr ? nullptr : d->FindFieldByName(std::string(segment));
    if (f == nullptr) return absl::InvalidArgumentError("no such field");
    classes.Add(DataClassOf(f));
    d = HasClassedFields(f) ? f->message_type() : nullptr;
  }
  return classes;
}

absl::StatusOr<DataClassSet> FilteredClasses(const Message& filter, const google::protobuf::Descriptor* target) {
  DataClassSet classes;
  std::vector<const FieldDescriptor*> fields;
  filter.GetReflection()->ListFields(filter, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string& path = field->options().GetExtension(v1::filters_field);
    if (path.empty()) return absl::InternalError(absl::StrCat("filter ", field->full_name(), " names no field"));
    auto tested = ClassesOfPath(target, path);
    if (!tested.ok()) {
      return absl::InternalError(absl::StrCat("filter ", field->full_name(), " names no field of ", target->name()));
    }
    classes.AddAll(*tested);
  }
  return classes;
}

DataClassSet ClassesPresent(const Message& message) { return DisclosureOf(message).classes; }

std::vector<std::string> FieldsOutside(const DataClassSet& allowed, const Message& message) {
  std::vector<std::string> out;
  CollectOutside(allowed, message, "", &out);
  return out;
}

void Redact(const ReadView& view, Message* message) {
  const auto* reflection = message->GetReflection();
  // Unknown fields have no class: deny by default.
  reflection->MutableUnknownFields(message)->Clear();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  // Classes first, for every field: a field's class may depend on a sibling
  // (class_from), which must not be cleared before it is read.
  std::vector<const FieldDescriptor*> cleared;
  for (const FieldDescriptor* field : fields) {
    const v1::DataClass c = EffectiveClassOf(*message, field);
    if (c == v1::DATA_CLASS_UNSPECIFIED || !view.classes.Contains(c) || (IsDerived(field) && !view.derived)) {
      cleared.push_back(field);
    }
  }
  for (const FieldDescriptor* field : fields) {
    if (std::find(cleared.begin(), cleared.end(), field) != cleared.end()) {
      reflection->ClearField(message, field);
      continue;
    }
    if (!HasClassedFields(field)) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        Redact(view, reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      Redact(view, reflection->MutableMessage(message, field));
    }
  }
}

void Redact(const DataClassSet& allowed, Message* message) { Redact(ReadView{allowed, false}, message); }

}  // namespace refx::core
