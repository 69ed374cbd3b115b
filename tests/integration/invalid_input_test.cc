// Invalid input over real mTLS: each bad CreateReferral or ListReferrals
// request is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED when too big to read)
// with a BadRequest field violation naming the field, stores nothing, and
// never echoes what was submitted.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_details.h"
#include "core/referral_validation.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "refx/v1/referral_service.pb.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kCreateMethod[] = "/refx.v1.ReferralService/CreateReferral";

class InvalidInputFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    // One referral already there, so "unchanged" is not just "still empty".
    auto seeded = server_->Client(kPolice).CreateReferral(ValidReferral(kCityCouncil), "seed-1");
    ASSERT_TRUE(seeded.ok()) << seeded.status();
    ASSERT_EQ(CountFor(kPolice), 1);
    ASSERT_EQ(CountFor(kCityCouncil), 1);
  }

  // How many referrals `agency` can list; -1 on error.
  int CountFor(const char* agency) {
    auto page = server_->Client(agency).ListReferrals(v1::ListReferralsRequest());
    EXPECT_TRUE(page.ok()) << agency << ": " << page.status();
    return page.ok() ? page->referrals_size() : -1;
  }

  // Neither the sender nor the recipient sees anything but the seed.
  void ExpectNothingStored() {
    EXPECT_EQ(CountFor(kPolice), 1);
    EXPECT_EQ(CountFor(kCityCouncil), 1);
    EXPECT_EQ(CountFor(kBlaby), 0);
  }

  std::unique_ptr<TestServer> server_;
};

// ---------------------------------------------------------------------------
// CreateReferral: one defect at a time, each naming exactly its field.

struct CreateCase {
  const char* name;
  std::function<void(v1::Referral*)> mutate;
  std::string field;  // The one field violation expected.
  std::string request_id = "req-1";
};

std::string CreateCaseName(const ::testing::TestParamInfo<CreateCase>& info) { return info.param.name; }
void PrintTo(const CreateCase& c, std::ostream* os) { *os << c.name; }

class InvalidCreateTest : public InvalidInputFixture, public ::testing::WithParamInterface<CreateCase> {};

TEST_P(InvalidCreateTest, IsInvalidArgumentNamingTheFieldAndStoresNothing) {
  v1::Referral referral = ValidReferral(kCityCouncil);
  GetParam().mutate(&referral);
  auto created = server_->Client(kPolice).CreateReferral(referral, GetParam().request_id);
  ASSERT_FALSE(created.ok()) << "accepted: " << created->name();
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
  const std::vector<FieldViolation> violations = FieldViolationsOf(created.status());
  EXPECT_THAT(violations, ElementsAre(Field(&FieldViolation::field, GetParam().field))) << created.status();
  for (const auto& v : violations) EXPECT_THAT(v.description, Not(IsEmpty()));
  ExpectNothingStored();
}

const CreateCase kMissingRequiredFields[] = {
    {"ReportType", [](v1::Referral* r) { r->clear_report_type(); }, "referral.report_type"},
    {"Strands", [](v1::Referral* r) { r->clear_strands(); }, "referral.strands"},
    {"PerceivedBy", [](v1::Referral* r) { r->clear_perceived_by(); }, "referral.perceived_by"},
    {"ReportingChannel", [](v1::Referral* r) { r->clear_reporting_channel(); }, "referral.reporting_channel"},
    {"Area", [](v1::Referral* r) { r->clear_area(); }, "referral.area"},
    {"IncidentNarrative", [](v1::Referral* r) { r->clear_incident_narrative(); }, "referral.incident_narrative"},
    {"Victim", [](v1::Referral* r) { r->clear_victim(); }, "referral.victim"},
    {"VictimGivenName", [](v1::Referral* r) { r->mutable_victim()->clear_given_name(); },
     "referral.victim.given_name"},
    {"VictimConsentStatus", [](v1::Referral* r) { r->mutable_victim()->mutable_consent()->clear_status(); },
     "referral.victim.consent.status"},
    {"RecipientAgencies", [](v1::Referral* r) { r->clear_recipient_agencies(); }, "referral.recipient_agencies"},
    {"RequestId", [](v1::Referral*) {}, "request_id", ""},
};
INSTANTIATE_TEST_SUITE_P(Missing, InvalidCreateTest, ::testing::ValuesIn(kMissingRequiredFields), CreateCaseName);

const CreateCase kInvalidValues[] = {
    {"UnknownArea", [](v1::Referral* r) { r->set_area("atlantis"); }, "referral.area"},
    {"UnknownStrand", [](v1::Referral* r) { r->mutable_strands(0)->set_strand("astrology"); },
     "referral.strands[0].strand"},
    {"UnknownReportTypeNumber", [](v1::Referral* r) { r->set_report_type(static_cast<v1::ReportType>(99)); },
     "referral.report_type"},
    {"UnknownConsentStatusNumber",
     [](v1::Referral* r) {
       r->mutable_victim()->mutable_consent()->set_status(static_cast<v1::Consent::Status>(42));
       r->mutable_victim()->mutable_consent()->set_lawful_basis("cda-1998-s115");
     },
     "referral.victim.consent.status"},
    {"RecipientNotInPartnership",
     [](v1::Referral* r) { r->set_recipient_agencies(0, absl::StrCat("agencies/", kUnregistered)); },
     "referral.recipient_agencies[0]"},
    {"RecipientSuspended",
     [](v1::Referral* r) { r->set_recipient_agencies(0, absl::StrCat("agencies/", kSuspended)); },
     "referral.recipient_agencies[0]"},
    {"SenderAsRecipient", [](v1::Referral* r) { r->set_recipient_agencies(0, absl::StrCat("agencies/", kPolice)); },
     "referral.recipient_agencies[0]"},
    {"NarrativeOverLimit",
     [](v1::Referral* r) { r->set_incident_narrative(std::string(core::kMaxNarrativeBytes + 1, 'x')); },
     "referral.incident_narrative"},
    {"MalformedRequestId", [](v1::Referral*) {}, "request_id", "not a valid id!"},
    {"RequestIdTooLong", [](v1::Referral*) {}, "request_id", std::string(65, 'a')},
};
INSTANTIATE_TEST_SUITE_P(Values, InvalidCreateTest, ::testing::ValuesIn(kInvalidValues), CreateCaseName);

// Range edges: NaN coordinates (which slip past a naive `< -90 || > 90`
// check) and timestamps outside google.protobuf.Timestamp's range.
const CreateCase kRangeEdges[] = {
    {"NaNLatitude", [](v1::Referral* r) { r->mutable_location()->set_latitude(std::nan("")); },
     "referral.location.latitude"},
    {"NaNLongitude", [](v1::Referral* r) { r->mutable_location()->set_longitude(std::nan("")); },
     "referral.location.longitude"},
    {"OccurTimeBeforeYearOne", [](v1::Referral* r) { r->mutable_occur_time()->set_seconds(-62135596801LL); },
     "referral.occur_time"},
};
INSTANTIATE_TEST_SUITE_P(RangeEdges, InvalidCreateTest, ::testing::ValuesIn(kRangeEdges), CreateCaseName);

using InvalidInputTest = InvalidInputFixture;

TEST_F(InvalidInputTest, NarrativeOfExactlyTheLimitIsAccepted) {
  // The boundary of NarrativeOverLimit: one byte less is fine.
  v1::Referral referral = ValidReferral(kCityCouncil);
  referral.set_incident_narrative(std::string(core::kMaxNarrativeBytes, 'x'));
  auto created = server_->Client(kPolice).CreateReferral(referral, "at-limit");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(CountFor(kPolice), 2);
}

// Fields the schema does not know would bypass validation (size limits,
// UTF-8) and redaction: they are discarded on create and never served.
TEST_F(InvalidInputTest, UnknownFieldsAreNeitherStoredNorServed) {
  const std::string payload = "UNKNOWN-FIELD-PAYLOAD-91c2";
  v1::Referral referral = ValidReferral(kCityCouncil);
  referral.GetReflection()->MutableUnknownFields(&referral)->AddLengthDelimited(999, payload);
  auto* victim = referral.mutable_victim();
  victim->GetReflection()->MutableUnknownFields(victim)->AddLengthDelimited(998, payload);
  ASSERT_TRUE(absl::StrContains(referral.SerializeAsString(), payload));

  auto created = server_->Client(kPolice).CreateReferral(referral, "unknown-fields");
  if (!created.ok()) {
    // Refusing is acceptable, as INVALID_ARGUMENT with nothing stored.
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
    ExpectNothingStored();
    return;
  }
  EXPECT_FALSE(absl::StrContains(created->SerializeAsString(), payload));
  auto got = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(absl::StrContains(got->SerializeAsString(), payload));
  EXPECT_EQ(got->GetReflection()->GetUnknownFields(*got).field_count(), 0);
  EXPECT_EQ(got->victim().GetReflection()->GetUnknownFields(got->victim()).field_count(), 0);
}

// ---------------------------------------------------------------------------
// Invalid UTF-8 cannot be sent by the generated client (protobuf would
// complain), so the bytes are built by hand and sent with a generic stub.

// Calls CreateReferral with `bytes` as the serialized request.
grpc::Status CallCreateWithRawBytes(const std::shared_ptr<grpc::Channel>& channel, const std::string& bytes,
                                    std::string* response_bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  context.AddMetadata("x-refx-acting-user", "test-caseworker");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(&context, kCreateMethod, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  response_bytes->clear();
  std::vector<grpc::Slice> slices;
  if (response.Valid() && response.Dump(&slices).ok()) {
    for (const auto& s : slices) response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return result;
}

TEST_F(InvalidInputTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  constexpr char kPlaceholder[] = "UTF8-PLACEHOLDER-given-name";
  const std::string placeholder = kPlaceholder;
  v1::CreateReferralRequest request;
  *request.mutable_referral() = ValidReferral(kCityCouncil);
  request.mutable_referral()->mutable_victim()->set_given_name(placeholder);

  // Control: the same hand-sent bytes with valid text are accepted, so the
  // refusal below is about the UTF-8 and nothing else.
  request.set_request_id("utf8-control");
  std::string response;
  grpc::Status control =
      CallCreateWithRawBytes(server_->Channel(server_->pki().Agency(kPolice)), request.SerializeAsString(), &response);
  ASSERT_TRUE(control.ok()) << control.error_code() << ": " << control.error_message();
  v1::Referral created;
  ASSERT_TRUE(created.ParseFromString(response));
  EXPECT_EQ(created.victim().given_name(), placeholder);
  ASSERT_EQ(CountFor(kPolice), 2);

  request.set_request_id("utf8-bad");
  std::string bytes = request.SerializeAsString();
  const size_t at = bytes.find(placeholder);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find(placeholder, at + 1), std::string::npos);
  for (size_t i = 0; i < placeholder.size(); ++i) bytes[at + i] = static_cast<char>(i % 2 == 0 ? 0xff : 0xfe);

  grpc::Status status = CallCreateWithRawBytes(server_->Channel(server_->pki().Agency(kPolice)), bytes, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(response, IsEmpty());
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(status.error_details()));
  EXPECT_EQ(rpc.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  std::vector<std::string> fields;
  for (const auto& detail : rpc.details()) {
    google::rpc::BadRequest bad_request;
    if (!detail.UnpackTo(&bad_request)) continue;
    for (const auto& v : bad_request.field_violations()) {
      fields.push_back(v.field());
      EXPECT_FALSE(absl::StrContains(v.description(), "\xff\xfe"));
    }
  }
  EXPECT_THAT(fields, ElementsAre("referral.victim.given_name"));
  EXPECT_FALSE(absl::StrContains(status.error_message(), "\xff\xfe"));
  EXPECT_EQ(CountFor(kPolice), 2);
  EXPECT_EQ(CountFor(kCityCouncil), 2);
}

TEST_F(InvalidInputTest, MessageOverTheReceiveLimitIsResourceExhausted) {
  ASSERT_EQ(server_->config().limits().max_receive_message_bytes(), 1 << 20);
  // Over the limit: refused with a reason and the limit it broke.
  v1::Referral referral = ValidReferral(kCityCouncil);
  referral.set_incident_narrative(std::string(3 << 19, 'x'));
  auto created = server_->Client(kPolice).CreateReferral(referral, "too-big");
  EXPECT_EQ(created.status().code(), absl::StatusCode::kResourceExhausted) << created.status();
  EXPECT_EQ(ErrorReasonOf(created.status()), "REQUEST_TOO_LARGE");
  EXPECT_TRUE(created.status().GetPayload("type.googleapis.com/google.rpc.QuotaFailure").has_value());
  // Over twice the limit: gRPC refuses it unread (no details).
  referral.set_incident_narrative(std::string(3 << 20, 'x'));
  auto huge = server_->Client(kPolice).CreateReferral(referral, "too-big-2");
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  ExpectNothingStored();
}

// ---------------------------------------------------------------------------
// Descriptions never echo the submitted value: it may be personal data.

TEST_F(InvalidInputTest, NoErrorEchoesSubmittedText) {
  constexpr char kCanary[] = "CANARY-7f3a";
  const std::string canary = kCanary;
  const std::string lower_canary = absl::AsciiStrToLower(canary);
  auto repeat = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) absl::StrAppend(&s, canary, " ");
    return s;
  };

  // The canary in every free-text field; many of them invalid (too long,
  // badly formed, unknown), the rest valid but present.
  v1::Referral r;
  r.set_report_type(v1::HATE_CRIME);
  r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
  r.set_online(false);
  r.set_online_platform(canary);  // set without online: invalid
  r.set_area(canary);             // unknown area
  r.set_incident_narrative(repeat(3100));  // over 32 KiB
  auto* unknown = r.add_strands();
  unknown->set_strand(canary);  // unknown strand
  unknown->set_basis(v1::Strand::PERCEIVED);
  unknown->set_targeted_religion(canary);
  unknown->set_other_group(canary);
  auto* religion = r.add_strands();
  religion->set_strand("religion_or_belief");
  religion->set_basis(v1::Strand::ACTUAL);
  religion->set_targeted_religion(repeat(30));  // over 256 bytes
  auto* other = r.add_strands();
  other->set_strand("other_group");
  other->set_basis(v1::Strand::ACTUAL);
  other->set_other_group(repeat(30));  // over 256 bytes
  r.mutable_location()->set_description(repeat(30));  // over 256 bytes
  r.mutable_location()->set_postcode(repeat(2));      // over 16 bytes
  auto* v = r.mutable_victim();
  v->set_given_name(repeat(30));   // over 256 bytes
  v->set_family_name(repeat(30));  // over 256 bytes
  v->set_birth_date(canary);       // not a date
  v->set_phone(repeat(4));         // over 40 bytes
  v->set_email(repeat(25));        // over 254 bytes
  v->mutable_address()->add_lines(repeat(30));
  v->mutable_address()->add_lines(canary);
  v->mutable_address()->set_town(repeat(30));
  v->mutable_address()->set_postcode(repeat(2));
  v->mutable_safe_contact()->set_notes(repeat(400));  // over 4 KiB
  v->set_vulnerability_notes(repeat(400));            // over 4 KiB
  v->mutable_consent()->set_status(v1::Consent::REFUSED);
  v->mutable_consent()->set_lawful_basis(repeat(30));  // over 256 bytes
  auto* subject = r.add_subjects();
  subject->set_name(repeat(30));
  subject->set_birth_date_or_age(repeat(6));
  subject->set_address(repeat(30));
  subject->set_description(repeat(400));
  subject->set_relationship_to_victim(repeat(30));
  r.add_subjects()->set_description(canary);  // valid, still must not echo
  r.set_police_crime_reference(repeat(6));    // over 64 bytes
  r.add_recipient_agencies(absl::StrCat("agencies/", lower_canary));  // not a party
  r.add_recipient_agencies(canary);                                   // not agencies/{id}

  auto created = server_->Client(kPolice).CreateReferral(r, absl::StrCat(canary, "!"));
  ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
  const std::vector<FieldViolation> violations = FieldViolationsOf(created.status());

  // It really was refused field by field (so the descriptions were built)...
  std::vector<std::string> fields;
  for (const auto& fv : violations) fields.push_back(fv.field);
  for (const char* expected :
       {"request_id", "referral.online_platform", "referral.area", "referral.incident_narrative",
        "referral.strands[0].strand", "referral.strands[1].targeted_religion", "referral.strands[2].other_group",
        "referral.location.description", "referral.location.postcode", "referral.victim.given_name",
        "referral.victim.family_name", "referral.victim.birth_date", "referral.victim.phone", "referral.victim.email",
        "referral.victim.address.lines[0]", "referral.victim.address.town", "referral.victim.address.postcode",
        "referral.victim.safe_contact.notes", "referral.victim.vulnerability_notes",
        "referral.victim.consent.lawful_basis", "referral.subjects[0].name", "referral.subjects[0].birth_date_or_age",
        "referral.subjects[0].address", "referral.subjects[0].description",
        "referral.subjects[0].relationship_to_victim", "referral.police_crime_reference",
        "referral.recipient_agencies[0]", "referral.recipient_agencies[1]"}) {
    EXPECT_THAT(fields, Contains(expected));
  }

  // ...and nothing anywhere in the error carries the canary: not the
  // message, not a field or description, not any detail payload.
  auto has_canary = [&](absl::string_view text) {
    return absl::StrContains(absl::AsciiStrToLower(text), lower_canary);
  };
  EXPECT_FALSE(has_canary(created.status().message())) << created.status().message();
  for (const auto& fv : violations) {
    EXPECT_FALSE(has_canary(fv.field)) << fv.field;
    EXPECT_FALSE(has_canary(fv.description)) << fv.field << ": " << fv.description;
  }
  EXPECT_FALSE(has_canary(ErrorReasonOf(created.status())));
  EXPECT_FALSE(has_canary(created.status().ToString()));
  ExpectNothingStored();
}

// ---------------------------------------------------------------------------
// ListReferrals.

struct ListCase {
  const char* name;
  std::function<void(v1::ListReferralsRequest*)> mutate;
  std::string field;
};

std::string ListCaseName(const ::testing::TestParamInfo<ListCase>& info) { return info.param.name; }
void PrintTo(const ListCase& c, std::ostream* os) { *os << c.name; }

class InvalidListTest : public InvalidInputFixture, public ::testing::WithParamInterface<ListCase> {};

TEST_P(InvalidListTest, IsInvalidArgumentNamingTheFieldAndReturnsNothing) {
  v1::ListReferralsRequest request;
  GetParam().mutate(&request);
  for (const char* agency : {kPolice, kCityCouncil}) {
    SCOPED_TRACE(agency);
    auto page = server_->Client(agency).ListReferrals(request);
    ASSERT_FALSE(page.ok()) << "listed " << page->referrals_size();
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
    EXPECT_THAT(FieldViolationsOf(page.status()), ElementsAre(Field(&FieldViolation::field, GetParam().field)))
        << page.status();
  }
}

const ListCase kInvalidLists[] = {
    {"NegativePageSize", [](v1::ListReferralsRequest* r) { r->set_page_size(-1); }, "page_size"},
    {"UnknownStateNumber",
     [](v1::ListReferralsRequest* r) { r->mutable_filter()->add_states(static_cast<v1::Referral::State>(99)); },
     "filter.states[0]"},
    {"UnknownReportTypeNumber",
     [](v1::ListReferralsRequest* r) { r->mutable_filter()->add_report_types(static_cast<v1::ReportType>(99)); },
     "filter.report_types[0]"},
    {"CreateTimeToBeforeFrom",
     [](v1::ListReferralsRequest* r) {
       r->mutable_filter()->mutable_create_time_from()->set_seconds(1700000000);
       r->mutable_filter()->mutable_create_time_to()->set_seconds(1699999999);
     },
     "filter.create_time_to"},
};
INSTANTIATE_TEST_SUITE_P(Requests, InvalidListTest, ::testing::ValuesIn(kInvalidLists), ListCaseName);

// Filter timestamps outside google.protobuf.Timestamp's range (bad nanos, or
// seconds that would overflow when converted) are refused, not wrapped.
const ListCase kBadFilterTimes[] = {
    {"CreateTimeFromNegativeNanos",
     [](v1::ListReferralsRequest* r) {
       r->mutable_filter()->mutable_create_time_from()->set_seconds(1700000000);
       r->mutable_filter()->mutable_create_time_from()->set_nanos(-1);
     },
     "filter.create_time_from"},
    {"CreateTimeFromNanosOverASecond",
     [](v1::ListReferralsRequest* r) {
       r->mutable_filter()->mutable_create_time_from()->set_seconds(1700000000);
       r->mutable_filter()->mutable_create_time_from()->set_nanos(2000000000);
     },
     "filter.create_time_from"},
    {"CreateTimeFromBeyondYear9999",
     [](v1::ListReferralsRequest* r) { r->mutable_filter()->mutable_create_time_from()->set_seconds(10000000000000LL); },
     "filter.create_time_from"},
    {"CreateTimeToBeyondYear9999",
     [](v1::ListReferralsRequest* r) { r->mutable_filter()->mutable_create_time_to()->set_seconds(10000000000000LL); },
     "filter.create_time_to"},
};
INSTANTIATE_TEST_SUITE_P(TimestampRange, InvalidListTest, ::testing::ValuesIn(kBadFilterTimes), ListCaseName);

}  // namespace
}  // namespace refx::testing
