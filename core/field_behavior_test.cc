#include "core/field_behavior.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/api/resource.pb.h"
#include "gtest/gtest.h"
#include "refx/v1/audit_service.pb.h"
#include "refx/v1/case_update.pb.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/referral_service.pb.h"

namespace refx::core {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using ::testing::ElementsAre;
using ::testing::Field;

std::vector<const FileDescriptor*> ApiFiles() {
  return {v1::Referral::descriptor()->file(), v1::GetReferralRequest::descriptor()->file(),
          v1::CaseUpdate::descriptor()->file(), v1::AuditEvent::descriptor()->file()};
}

void ForEachMessage(const Descriptor* d, std::set<std::string>* seen, const std::function<void(const Descriptor*)>& f) {
  if (!seen->insert(d->full_name()).second) return;
  f(d);
  for (int i = 0; i < d->nested_type_count(); ++i) ForEachMessage(d->nested_type(i), seen, f);
}

void ForEachApiField(const std::function<void(const FieldDescriptor*)>& f) {
  std::set<std::string> seen;
  for (const FileDescriptor* file : ApiFiles()) {
    for (int i = 0; i < file->message_type_count(); ++i) {
      ForEachMessage(file->message_type(i), &seen, [&](const Descriptor* d) {
        for (int j = 0; j < d->field_count(); ++j) f(d->field(j));
      });
    }
  }
}

// Every field of the API says how it behaves, so that generators and
// linters read "required" and "output only" from the schema, not prose.
TEST(FieldBehaviorTest, EveryApiFieldHasAFieldBehavior) {
  int fields = 0;
  std::vector<std::string> missing;
  ForEachApiField([&](const FieldDescriptor* field) {
    ++fields;
    if (field->options().ExtensionSize(google::api::field_behavior) == 0) missing.push_back(field->full_name());
  });
  EXPECT_GE(fields, 150);
  EXPECT_TRUE(missing.empty()) << "without google.api.field_behavior: " << ::testing::PrintToString(missing);
}

// The annotations are consistent: nothing is both required and output
// only, no bool is required (proto3 cannot tell false from unset), and
// every request message of a write names what it requires.
TEST(FieldBehaviorTest, AnnotationsAreConsistent) {
  ForEachApiField([&](const FieldDescriptor* field) {
    const bool required = HasFieldBehavior(field, google::api::REQUIRED);
    EXPECT_FALSE(required && HasFieldBehavior(field, google::api::OUTPUT_ONLY)) << field->full_name();
    EXPECT_FALSE(required && HasFieldBehavior(field, google::api::OPTIONAL)) << field->full_name();
    EXPECT_FALSE(required && field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) << field->full_name();
  });
  for (const Descriptor* write : {v1::CreateReferralRequest::descriptor(), v1::AcceptReferralRequest::descriptor(),
                                  v1::AddCaseUpdateRequest::descriptor(), v1::GetReferralRequest::descriptor()}) {
    bool any = false;
    for (int i = 0; i < write->field_count(); ++i) any = any || HasFieldBehavior(write->field(i), google::api::REQUIRED);
    EXPECT_TRUE(any) << write->full_name();
  }
}

// Every string field that names a referral, an update or an agency says
// which (google.api.resource_reference), and the resources declare their
// name patterns.
TEST(FieldBehaviorTest, ResourcesAndReferencesAreDeclared) {
  const auto& referral = v1::Referral::descriptor()->options().GetExtension(google::api::resource);
  EXPECT_EQ(referral.type(), "refx.llr.example/Referral");
  EXPECT_THAT(referral.pattern(), ElementsAre("referrals/{referral}"));
  const auto& update = v1::CaseUpdate::descriptor()->options().GetExtension(google::api::resource);
  EXPECT_THAT(update.pattern(), ElementsAre("referrals/{referral}/updates/{update}"));
  const auto& file = v1::Referral::descriptor()->file()->options();
  ASSERT_EQ(file.ExtensionSize(google::api::resource_definition), 1);
  EXPECT_EQ(file.GetExtension(google::api::resource_definition, 0).type(), "refx.llr.example/Agency");

  std::vector<std::string> unreferenced;
  ForEachApiField([&](const FieldDescriptor* field) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) return;
    const std::string& n = field->name();
    const std::string& message = field->containing_type()->name();
    // A resource named ...Request (SubjectRequest) names itself.
    const bool is_request = message.size() > 7 && message.substr(message.size() - 7) == "Request" &&
                            !field->containing_type()->options().HasExtension(google::api::resource);
    // A request's `name` names a resource; elsewhere (a subject's name) it
    // may be a person's.
    const bool names_something = (n == "name" && is_request) || n == "parent" || n == "supersedes" || n == "referral" ||
                                 n == "referrals" || (n.size() > 6 && n.substr(n.size() - 6) == "agency") ||
                                 (n.size() > 8 && n.substr(n.size() - 8) == "agencies") || n == "agency";
    if (!names_something) return;
    // The audit event's agency may be "-" (a caller nobody identified).
    if (field->full_name() == "refx.v1.AuditEvent.agency") return;
    if (!field->options().HasExtension(google::api::resource_reference)) unreferenced.push_back(field->full_name());
  });
  EXPECT_TRUE(unreferenced.empty()) << ::testing::PrintToString(unreferenced);
}

TEST(FieldBehaviorTest, MissingRequiredFieldsAreNamedWithTheirPaths) {
  v1::CreateReferralRequest request;
  auto* r = request.mutable_referral();
  r->set_report_type(v1::HATE_CRIME);
  r->add_strands()->set_strand("race");  // basis missing
  r->mutable_victim()->mutable_consent();  // status missing
  const std::vector<FieldViolation> missing = RequiredFieldViolations(request);
  std::vector<std::string> paths;
  for (const auto& v : missing) paths.push_back(v.field);
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre(
                         "request_id", "referral.strands[0].basis", "referral.perceived_by",
                         "referral.reporting_channel", "referral.area", "referral.incident_narrative",
                         "referral.victim.given_name", "referral.victim.consent.status",
                         "referral.recipient_agencies"));
  for (const auto& v : missing) EXPECT_EQ(v.description, "required");

  const absl::Status status = CheckRequiredFields(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReasonOf(status), "REQUIRED_FIELD_MISSING");
  EXPECT_EQ(FieldViolationsOf(status).size(), missing.size());

  v1::GetReferralRequest get;
  EXPECT_THAT(RequiredFieldViolations(get), ElementsAre(Field(&FieldViolation::field, "name")));
  get.set_name("referrals/x");
  EXPECT_TRUE(CheckRequiredFields(get).ok());
  // Optional-only requests are never refused for what they leave out.
  EXPECT_TRUE(CheckRequiredFields(v1::ListReferralsRequest()).ok());
  EXPECT_TRUE(CheckRequiredFields(v1::WatchReferralsRequest()).ok());
}

TEST(FieldBehaviorTest, OutputOnlyFieldsOfNestedResourcesAreCleared) {
  v1::AddCaseUpdateRequest request;
  request.set_parent("referrals/x");
  request.mutable_update()->set_name("referrals/x/updates/forged");
  request.mutable_update()->set_author_agency("agencies/forged");
  request.mutable_update()->set_supersedes_kind(v1::CaseUpdate::CONTACT_MADE);
  request.mutable_update()->set_text("kept");
  ClearOutputOnly(&request);
  EXPECT_EQ(request.parent(), "referrals/x");
  EXPECT_EQ(request.update().name(), "");
  EXPECT_EQ(request.update().author_agency(), "");
  EXPECT_EQ(request.update().supersedes_kind(), v1::CaseUpdate::KIND_UNSPECIFIED);
  EXPECT_EQ(request.update().text(), "kept");
}

}  // namespace
}  // namespace refx::core
