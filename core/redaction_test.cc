#include "core/redaction.h"

#include <set>

#include "gtest/gtest.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/case_update.pb.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/referral_service.pb.h"

namespace refx::core {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FileDescriptor;

void CollectUnclassified(const Descriptor* d, std::set<std::string>* seen, std::vector<std::string>* missing) {
  if (!seen->insert(d->full_name()).second) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (DataClassOf(f) == v1::DATA_CLASS_UNSPECIFIED) missing->push_back(f->full_name());
    if (f->message_type() != nullptr && f->message_type()->file()->package() == "refx.v1") {
      CollectUnclassified(f->message_type(), seen, missing);
    }
  }
  for (int i = 0; i < d->nested_type_count(); ++i) CollectUnclassified(d->nested_type(i), seen, missing);
}

// Every field of every message in the refx.v1 resource file must declare its
// data class: an unclassified field would be invisible to the agreement.
TEST(RedactionTest, EveryFieldOfEveryApiMessageHasADataClass) {
  std::set<std::string> seen;
  std::vector<std::string> missing;
  for (const FileDescriptor* file : {v1::Referral::descriptor()->file(), v1::GetReferralRequest::descriptor()->file(),
                                     v1::CaseUpdate::descriptor()->file(), v1::AuditEvent::descriptor()->file()}) {
    for (int i = 0; i < file->message_type_count(); ++i) CollectUnclassified(file->message_type(i), &seen, &missing);
  }
  EXPECT_GE(seen.size(), 20u);
  EXPECT_TRUE(missing.empty()) << "unclassified: " << ::testing::PrintToString(missing);
}

v1::Referral Sample() {
  v1::Referral r;
  r.set_area("leicester");
  r.set_incident_narrative("CANARY-NARRATIVE");
  r.mutable_victim()->set_given_name("CANARY-NAME");
  r.mutable_victim()->set_phone("CANARY-PHONE");
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  r.mutable_victim()->mutable_address()->add_lines("CANARY-ADDRESS");
  r.add_subjects()->set_name("CANARY-SUBJECT");
  r.set_prevent_concern(true);
  r.mutable_create_time()->set_seconds(100);
  return r;
}

TEST(RedactionTest, AllClassesKeepsEverything) {
  v1::Referral r = Sample();
  const std::string before = r.SerializeAsString();
  Redact(DataClassSet::All(), &r);
  EXPECT_EQ(r.SerializeAsString(), before);
}

TEST(RedactionTest, CoreOnlyRemovesEveryOtherClassRecursively) {
  v1::Referral r = Sample();
  Redact({v1::DATA_CLASS_REFERRAL_CORE}, &r);
  EXPECT_EQ(r.area(), "leicester");
  EXPECT_EQ(r.create_time().seconds(), 100);
  EXPECT_EQ(r.victim().consent().status(), v1::Consent::GIVEN);
  EXPECT_EQ(r.DebugString().find("CANARY"), std::string::npos) << r.DebugString();
  EXPECT_FALSE(r.prevent_concern());
  EXPECT_EQ(r.subjects_size(), 0);
}

TEST(RedactionTest, ContainerClassGatesItsChildren) {
  v1::Referral r = Sample();
  // Contact data inside victim survives only with both REFERRAL_CORE (the
  // victim field) and VICTIM_CONTACT.
  Redact({v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_VICTIM_CONTACT}, &r);
  EXPECT_EQ(r.victim().phone(), "CANARY-PHONE");
  EXPECT_EQ(r.victim().given_name(), "");
  Redact({v1::DATA_CLASS_VICTIM_CONTACT}, &r);
  EXPECT_FALSE(r.has_victim());
}

TEST(RedactionTest, EmptySetRemovesEverything) {
  v1::Referral r = Sample();
  Redact({}, &r);
  EXPECT_EQ(r.ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace refx::core

namespace refx::core {
namespace {

TEST(RedactionTest, UnknownFieldsAreClearedEvenWithEveryClassAllowed) {
  v1::Referral r = Sample();
  r.GetReflection()->MutableUnknownFields(&r)->AddLengthDelimited(999, "CANARY-UNKNOWN");
  auto* victim = r.mutable_victim();
  victim->GetReflection()->MutableUnknownFields(victim)->AddVarint(998, 7);
  Redact(DataClassSet::All(), &r);
  EXPECT_EQ(r.SerializeAsString().find("CANARY-UNKNOWN"), std::string::npos);
  EXPECT_EQ(r.victim().GetReflection()->GetUnknownFields(r.victim()).field_count(), 0);
}

}  // namespace
}  // namespace refx::core
