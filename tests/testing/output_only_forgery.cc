#include "tests/testing/output_only_forgery.h"

#include "core/field_behavior.h"
#include "google/protobuf/timestamp.pb.h"

namespace refx::testing {

using google::protobuf::FieldDescriptor;

std::vector<const FieldDescriptor*> OutputOnlyReferralFields() {
  std::vector<const FieldDescriptor*> out;
  const auto* descriptor = v1::Referral::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (core::HasFieldBehavior(descriptor->field(i), google::api::OUTPUT_ONLY)) out.push_back(descriptor->field(i));
  }
  return out;
}

bool ForgeOutputOnlyField(const FieldDescriptor* field, const std::string& name, v1::Referral* referral) {
  const auto* reflection = referral->GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (field->is_repeated()) {
        reflection->AddString(referral, field, name);
      } else {
        reflection->SetString(referral, field, name);
      }
      return true;
    case FieldDescriptor::CPPTYPE_ENUM:
      reflection->SetEnumValue(referral, field,
                               field->enum_type()->value(field->enum_type()->value_count() - 1)->number());
      return true;
    case FieldDescriptor::CPPTYPE_INT32:
      reflection->SetInt32(referral, field, 99);
      return true;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (field->message_type() == v1::Erasure::descriptor() && field->is_repeated()) {  // Referral.erasures
        v1::Erasure erased;
        erased.set_data_class(v1::DATA_CLASS_VICTIM_CONTACT);
        erased.set_rule("forged");
        reflection->AddMessage(referral, field)->CopyFrom(erased);
        return true;
      }
      if (field->message_type() == v1::RegimeRecord::descriptor()) {  // recording_regime, regime_history
        v1::RegimeRecord regime;
        regime.set_regime(v1::NCHI_COP_2023);
        regime.set_agreement("forged");
        (field->is_repeated() ? reflection->AddMessage(referral, field) : reflection->MutableMessage(referral, field))
            ->CopyFrom(regime);
        return true;
      }
      if (field->message_type() == google::protobuf::Timestamp::descriptor() && !field->is_repeated()) {
        google::protobuf::Timestamp far;
        far.set_seconds(kForgedTimeSeconds);
        reflection->MutableMessage(referral, field)->CopyFrom(far);
        return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace refx::testing
