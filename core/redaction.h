// Schema-driven redaction and disclosure accounting: clears every field
// whose data class a reader may not see, and says which classes (and which
// values derived from other referrals) a message actually carries.
//
// This is the one place where fields are removed for a reader and where the
// audit log learns what left. It never names fields itself: the .proto
// declares each field's class (`(refx.v1.data_class)`), free text whose class
// depends on what it records names the enum that decides it
// (`(refx.v1.class_from)`), values learnt from other referrals say so
// (`(refx.v1.derived_from_other_referrals)`); output-only fields are
// marked with `google.api.field_behavior` (core/field_behavior.h). So a new
// field is redacted, audited and protected from writes correctly the day it
// is added (and a test fails if it has no class).
#ifndef REFX_CORE_REDACTION_H_
#define REFX_CORE_REDACTION_H_

#include <bitset>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "google/protobuf/message.h"
#include "refx/v1/data_class.pb.h"

namespace refx::core {

// A set of data classes.
class DataClassSet {
 public:
  DataClassSet() = default;
  DataClassSet(std::initializer_list<v1::DataClass> classes) {
    for (auto c : classes) Add(c);
  }
  static DataClassSet All();
  void Add(v1::DataClass c) { bits_.set(static_cast<size_t>(c)); }
  void Remove(v1::DataClass c) { bits_.reset(static_cast<size_t>(c)); }
  bool Contains(v1::DataClass c) const { return bits_.test(static_cast<size_t>(c)); }
  bool ContainsAll(const DataClassSet& other) const { return (other.bits_ & ~bits_).none(); }
  void AddAll(const DataClassSet& other) { bits_ |= other.bits_; }
  void RetainOnly(const DataClassSet& other) { bits_ &= other.bits_; }
  bool empty() const { return bits_.none(); }
  std::vector<v1::DataClass> Members() const;
  bool operator==(const DataClassSet& other) const { return bits_ == other.bits_; }

 private:
  std::bitset<64> bits_;
};

// What one reader may see of one referral: the classes, and whether values
// derived from other referrals reach it (an explicit grant).
struct ReadView {
  DataClassSet classes;
  bool derived = false;
  // The stricter of this view and `other`.
  void RetainOnly(const ReadView& other) {
    classes.RetainOnly(other.classes);
    derived = derived && other.derived;
  }
};

// What a message discloses: the class of every set field, recursively, and
// the names of the set fields derived from other referrals.
struct Disclosure {
  DataClassSet classes;
  std::vector<std::string> derived;  // field names, sorted, no duplicates
  // Adds what `message` carries.
  void Add(const google::protobuf::Message& message);
  void Add(const Disclosure& other);
};

// The disclosure of `message`: what a reader that receives exactly these
// bytes learns, as the audit log records it. Every path that returns data
// (unary answers, list pages, watch batches, replays) computes its audit
// event's classes with this, from the message it sends.
Disclosure DisclosureOf(const google::protobuf::Message& message);

// DisclosureOf `message` with elements appended to its repeated message
// field `field` (empty in `message`), each element given by its own
// DisclosureOf: what the message holding them discloses, for a response
// assembled from elements serialized before (list pages).
Disclosure DisclosureWithElements(const google::protobuf::Message& message,
                                  const google::protobuf::FieldDescriptor* field,
                                  const std::vector<const Disclosure*>& elements);

// The data class a field declares; DATA_CLASS_UNSPECIFIED if none.
v1::DataClass DataClassOf(const google::protobuf::FieldDescriptor* field);

// The class of `field` as set in `message`: its declared class, or, for a
// field with `class_from`, the `content_class` of the sibling enum's value
// (following `content_class_from` once).
v1::DataClass EffectiveClassOf(const google::protobuf::Message& message, const google::protobuf::FieldDescriptor* field);

// Whether `field` is marked `derived_from_other_referrals`.
bool IsDerived(const google::protobuf::FieldDescriptor* field);

// The classes along a field path such as `victim.address.lines` (each
// segment's class), or INVALID_ARGUMENT if the path names no field.
absl::StatusOr<DataClassSet> ClassesOfPath(const google::protobuf::Descriptor* descriptor, absl::string_view path);

// The classes of the fields of `target` that the set fields of `filter` test
// (each filter field's `filters_field` path). A set filter field without
// that option, or naming no field of `target`, is INTERNAL: a filter must
// say what it reads before it can be used.
absl::StatusOr<DataClassSet> FilteredClasses(const google::protobuf::Message& filter,
                                             const google::protobuf::Descriptor* target);

// Each set field of `message` (recursively, leaves and containers) whose
// class is not in `allowed`, as a path (e.g. `victim.phone`).
std::vector<std::string> FieldsOutside(const DataClassSet& allowed, const google::protobuf::Message& message);

// The classes of every set field of `message`, recursively (DisclosureOf's
// classes).
DataClassSet ClassesPresent(const google::protobuf::Message& message);

// Clears, in place, every set field of `message` (recursively) whose class is
// not in `view.classes`, and every derived field unless `view.derived`. A
// field without a class is cleared, and so are unknown fields: deny by
// default.
void Redact(const ReadView& view, google::protobuf::Message* message);
// As above, with no derived values.
void Redact(const DataClassSet& allowed, google::protobuf::Message* message);


}  // namespace refx::core

#endif  // REFX_CORE_REDACTION_H_
