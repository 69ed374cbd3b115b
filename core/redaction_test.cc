#include "core/redaction.h"
#include "core/field_behavior.h"

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
  Redact(DataClassSet(), &r);
  EXPECT_EQ(r.ByteSizeLong(), 0u);
}

// Every list filter says which field of a referral it tests, and that field
// exists: the listing decides from it which classes a referral's view must
// include to match (a filter without it could test what the caller may not
// read).
TEST(RedactionTest, EveryListFilterNamesTheFieldItTests) {
  const auto* filter = v1::ReferralFilter::descriptor();
  ASSERT_GE(filter->field_count(), 8);
  for (int i = 0; i < filter->field_count(); ++i) {
    const auto* f = filter->field(i);
    const std::string& path = f->options().GetExtension(v1::filters_field);
    EXPECT_FALSE(path.empty()) << f->name() << " has no filters_field";
    EXPECT_TRUE(ClassesOfPath(v1::Referral::descriptor(), path).ok()) << f->name() << ": " << path;
  }
  v1::ReferralFilter strands;
  strands.add_strands("race");
  auto tested = FilteredClasses(strands, v1::Referral::descriptor());
  ASSERT_TRUE(tested.ok());
  EXPECT_TRUE(tested->Contains(v1::DATA_CLASS_PROTECTED_CHARACTERISTICS));
  v1::ReferralFilter areas;
  areas.add_areas("leicester");
  areas.set_overdue(true);
  tested = FilteredClasses(areas, v1::Referral::descriptor());
  ASSERT_TRUE(tested.ok());
  EXPECT_TRUE(*tested == DataClassSet({v1::DATA_CLASS_REFERRAL_CORE}));
  // A filter message whose fields name nothing is refused, not trusted.
  v1::Referral not_a_filter;
  not_a_filter.set_area("x");
  EXPECT_FALSE(FilteredClasses(not_a_filter, v1::Referral::descriptor()).ok());
}

// Free text takes the class of what its kind records.
TEST(RedactionTest, CaseUpdateTextHasTheClassOfItsKind) {
  v1::CaseUpdate perpetrator;
  perpetrator.set_kind(v1::CaseUpdate::PERPETRATOR_ACTION);
  perpetrator.set_text("CANARY-SUSPECT-NAME arrested");
  const auto* text = v1::CaseUpdate::descriptor()->FindFieldByName("text");
  EXPECT_EQ(EffectiveClassOf(perpetrator, text), v1::DATA_CLASS_SUBJECT);
  // A reader of safeguarding notes (the old class of every note) does not
  // get a perpetrator-action note; the kind (a routing fact) remains.
  v1::CaseUpdate seen = perpetrator;
  Redact({v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_SAFEGUARDING_RISK}, &seen);
  EXPECT_EQ(seen.kind(), v1::CaseUpdate::PERPETRATOR_ACTION);
  EXPECT_EQ(seen.text(), "");
  seen = perpetrator;
  Redact({v1::DATA_CLASS_REFERRAL_CORE, v1::DATA_CLASS_SUBJECT}, &seen);
  EXPECT_EQ(seen.text(), perpetrator.text());
  EXPECT_TRUE(DisclosureOf(perpetrator).classes.Contains(v1::DATA_CLASS_SUBJECT));
  EXPECT_FALSE(DisclosureOf(perpetrator).classes.Contains(v1::DATA_CLASS_SAFEGUARDING_RISK));

  v1::CaseUpdate contact;
  contact.set_kind(v1::CaseUpdate::CONTACT_MADE);
  EXPECT_EQ(EffectiveClassOf(contact, text), v1::DATA_CLASS_VICTIM_CONTACT);
  v1::CaseUpdate needs;
  needs.set_kind(v1::CaseUpdate::NEEDS_ASSESSMENT);
  EXPECT_EQ(EffectiveClassOf(needs, text), v1::DATA_CLASS_HEALTH_AND_DISABILITY);
  v1::CaseUpdate outcome;
  outcome.set_kind(v1::CaseUpdate::POLICE_OUTCOME_REFERENCE);
  EXPECT_EQ(EffectiveClassOf(outcome, text), v1::DATA_CLASS_CRIME_DATA);
  // A correction says what the update it corrects said.
  v1::CaseUpdate correction;
  correction.set_kind(v1::CaseUpdate::CORRECTION);
  correction.set_supersedes_kind(v1::CaseUpdate::PERPETRATOR_ACTION);
  EXPECT_EQ(EffectiveClassOf(correction, text), v1::DATA_CLASS_SUBJECT);
  // One whose corrected kind is not known has no class: nobody reads it,
  // rather than everyone who reads the field's fallback class.
  v1::CaseUpdate unresolved;
  unresolved.set_kind(v1::CaseUpdate::CORRECTION);
  unresolved.set_text("CANARY-UNRESOLVED");
  EXPECT_EQ(EffectiveClassOf(unresolved, text), v1::DATA_CLASS_UNSPECIFIED);
  Redact(DataClassSet::All(), &unresolved);
  EXPECT_EQ(unresolved.text(), "");
  // Every kind has a class, stated in the schema.
  const auto* kinds = v1::CaseUpdate::Kind_descriptor();
  for (int i = 1; i < kinds->value_count(); ++i) {
    const auto& options = kinds->value(i)->options();
    EXPECT_TRUE(options.GetExtension(v1::content_class) != v1::DATA_CLASS_UNSPECIFIED ||
                !options.GetExtension(v1::content_class_from).empty())
        << kinds->value(i)->name();
  }
}

// Values derived from other referrals leave only under an explicit grant,
// and a message carrying one says so.
TEST(RedactionTest, DerivedValuesNeedTheirOwnGrantAndAreNamed) {
  v1::Referral r = Sample();
  r.set_repeat_victim_count(2);
  v1::Referral without = r;
  Redact(ReadView{DataClassSet::All(), /*derived=*/false}, &without);
  EXPECT_FALSE(without.has_repeat_victim_count());
  EXPECT_EQ(without.incident_narrative(), "CANARY-NARRATIVE");
  EXPECT_TRUE(DisclosureOf(without).derived.empty());
  v1::Referral with = r;
  Redact(ReadView{DataClassSet::All(), /*derived=*/true}, &with);
  EXPECT_EQ(with.repeat_victim_count(), 2);
  EXPECT_EQ(DisclosureOf(with).derived, std::vector<std::string>({"repeat_victim_count"}));
  // The grant does not override the class: no safeguarding-risk, no count.
  v1::Referral core_only = r;
  Redact(ReadView{{v1::DATA_CLASS_REFERRAL_CORE}, /*derived=*/true}, &core_only);
  EXPECT_FALSE(core_only.has_repeat_victim_count());
}

// A list page assembled from referrals rendered before discloses, by its
// elements' own disclosures, exactly what DisclosureOf the whole page finds.
TEST(RedactionTest, APageFromItsElementsDisclosesWhatTheWholePageDoes) {
  v1::Referral full = Sample();
  full.set_repeat_victim_count(2);
  v1::Referral core_only = Sample();
  Redact(ReadView{{v1::DATA_CLASS_REFERRAL_CORE}, /*derived=*/false}, &core_only);
  v1::Referral narrative_only;
  narrative_only.set_incident_narrative("CANARY-NARRATIVE");
  const std::vector<std::vector<v1::Referral>> pages = {
      {}, {core_only}, {full}, {core_only, narrative_only}, {full, core_only, narrative_only, v1::Referral()}};
  const auto* field =
      v1::ListReferralsResponse::descriptor()->FindFieldByNumber(v1::ListReferralsResponse::kReferralsFieldNumber);
  for (const std::string token : {"", "token"}) {
    for (const auto& referrals : pages) {
      SCOPED_TRACE(::testing::Message() << referrals.size() << " referrals, token '" << token << "'");
      v1::ListReferralsResponse whole;
      v1::ListReferralsResponse without;
      whole.set_next_page_token(token);
      without.set_next_page_token(token);
      std::vector<Disclosure> each;
      for (const v1::Referral& r : referrals) {
        *whole.add_referrals() = r;
        each.push_back(DisclosureOf(r));
      }
      std::vector<const Disclosure*> pointers;
      for (const Disclosure& d : each) pointers.push_back(&d);
      const Disclosure expected = DisclosureOf(whole);
      const Disclosure assembled = DisclosureWithElements(without, field, pointers);
      EXPECT_EQ(assembled.classes.Members(), expected.classes.Members());
      EXPECT_EQ(assembled.derived, expected.derived);
    }
  }
}

// What a client sends in output-only fields is dropped, by the schema.
TEST(RedactionTest, OutputOnlyFieldsAreClearedFromTheSchema) {
  v1::Referral r = Sample();
  r.set_name("referrals/forged");
  r.set_owner_agency("agencies/forged");
  r.add_redirected_agencies("agencies/forged");
  r.set_state(v1::Referral::COMPLETED);
  r.set_outcome(v1::OUTCOME_SUPPORTED);
  r.set_decline_reason(v1::DECLINE_REASON_DUPLICATE);
  r.set_state_note("forged history");
  r.set_etag("forged");
  r.set_repeat_victim_count(9);
  r.mutable_response_deadline()->set_seconds(5);
  ClearOutputOnly(&r);
  EXPECT_EQ(r.name(), "");
  EXPECT_EQ(r.owner_agency(), "");
  EXPECT_EQ(r.redirected_agencies_size(), 0);
  EXPECT_EQ(r.state(), v1::Referral::STATE_UNSPECIFIED);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_UNSPECIFIED);
  EXPECT_EQ(r.decline_reason(), v1::DECLINE_REASON_UNSPECIFIED);
  EXPECT_EQ(r.state_note(), "");
  EXPECT_EQ(r.etag(), "");
  EXPECT_FALSE(r.has_repeat_victim_count());
  EXPECT_FALSE(r.has_response_deadline());
  EXPECT_FALSE(r.has_create_time());
  // Input fields stay.
  EXPECT_EQ(r.incident_narrative(), "CANARY-NARRATIVE");
  EXPECT_EQ(r.victim().given_name(), "CANARY-NAME");
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
