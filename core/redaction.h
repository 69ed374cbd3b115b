// Schema-driven redaction: clears every field whose `(refx.v1.data_class)`
// option is not in an allowed set, recursing into sub-messages.
//
// This is the one place where fields are removed for a reader. It never names
// fields itself: the .proto declares each field's class, so a new field is
// redacted correctly the day it is added (and a test fails if it has no
// class).
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
  bool Contains(v1::DataClass c) const { return bits_.test(static_cast<size_t>(c)); }
  bool ContainsAll(const DataClassSet& other) const { return (other.bits_ & ~bits_).none(); }
  void AddAll(const DataClassSet& other) { bits_ |= other.bits_; }
  void RetainOnly(const DataClassSet& other) { bits_ &= other.bits_; }
  std::vector<v1::DataClass> Members() const;

 private:
  std::bitset<64> bits_;
};

// The data class a field declares; DATA_CLASS_UNSPECIFIED if none.
v1::DataClass DataClassOf(const google::protobuf::FieldDescriptor* field);

// The classes along a field path such as `victim.address.lines` (each
// segment's class), or INVALID_ARGUMENT if the path names no field.
absl::StatusOr<DataClassSet> ClassesOfPath(const google::protobuf::Descriptor* descriptor, absl::string_view path);

// Each set field of `message` (recursively, leaves and containers) whose
// class is not in `allowed`, as a path (e.g. `victim.phone`).
std::vector<std::string> FieldsOutside(const DataClassSet& allowed, const google::protobuf::Message& message);

// The classes of every set field of `message`, recursively: what a reader
// actually received (recorded in the audit log).
DataClassSet ClassesPresent(const google::protobuf::Message& message);

// Clears, in place, every set field of `message` (recursively) whose class is
// not in `allowed`. A field without a class is cleared: deny by default.
void Redact(const DataClassSet& allowed, google::protobuf::Message* message);

}  // namespace refx::core

#endif  // REFX_CORE_REDACTION_H_
