// Pins what `refx` prints: tables, key/value layout, exit codes, errors.
#include "clients/cli/output.h"

#include "common/status_details.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace refx::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using refx::v1::Referral;

Referral Sample() {
  Referral r;
  r.set_name("referrals/r1");
  r.set_state(Referral::IN_PROGRESS);
  r.set_report_type(refx::v1::HATE_CRIME);
  r.set_area("charnwood");
  r.set_sender_agency("agencies/leics-police");
  r.add_recipient_agencies("agencies/charnwood-bc");
  r.add_recipient_agencies("agencies/nhs-hchp");
  r.mutable_create_time()->set_seconds(1714555800);  // 2024-05-01T09:30:00Z
  return r;
}

TEST(ExitCodeFor, MapsEveryDocumentedGroup) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnknown), 1);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), 3);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnauthenticated), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kPermissionDenied), 4);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kFailedPrecondition), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOutOfRange), 5);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), 6);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), 6);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAlreadyExists), 7);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAborted), 7);
  EXPECT_THAT(ExitCodesHelp(), HasSubstr("6  UNAVAILABLE or DEADLINE_EXCEEDED"));
}

TEST(EnumLabel, DropsSharedPrefixAndRoundTrips) {
  EXPECT_EQ(EnumLabel(refx::v1::PerceivedBy_descriptor(), 4), "third-party");
  EXPECT_EQ(EnumLabel(refx::v1::ReportingChannel_descriptor(), 2), "third-party-centre");
  EXPECT_EQ(EnumLabel(refx::v1::ReportType_descriptor(), 2), "hate-incident");
  EXPECT_EQ(EnumLabel(refx::v1::Consent::Status_descriptor(), 3), "not-asked");
  EXPECT_EQ(EnumLabel(Referral::State_descriptor(), 4), "in-progress");
  EXPECT_EQ(EnumLabel(refx::v1::RiskLevel_descriptor(), 99), "99");
  EXPECT_EQ(EnumLabels(refx::v1::RiskLevel_descriptor()), "standard|medium|high");
  EXPECT_EQ(ParseEnumLabel(refx::v1::ReportingChannel_descriptor(), "online-form"),
            refx::v1::REPORTING_CHANNEL_ONLINE_FORM);
  EXPECT_EQ(ParseEnumLabel(refx::v1::PerceivedBy_descriptor(), "PERCEIVED_BY_POLICE"),
            refx::v1::PERCEIVED_BY_POLICE);
  EXPECT_EQ(ParseEnumLabel(refx::v1::PerceivedBy_descriptor(), "unspecified"), std::nullopt);
  EXPECT_EQ(ParseEnumLabel(refx::v1::PerceivedBy_descriptor(), "bystander"), std::nullopt);
}

TEST(RenderReferralTable, AlignsColumnsAndShortensAgencies) {
  Referral second;
  second.set_name("referrals/a-much-longer-id");
  second.set_state(Referral::REQUESTED);
  const absl::Time now = absl::FromUnixSeconds(1714555800) + absl::Hours(48);
  EXPECT_EQ(RenderReferralTable({Sample(), second}, now),
            "NAME                        STATE        TYPE        AREA       FROM          "
            "TO                     CREATED               DUE\n"
            "referrals/r1                in-progress  hate-crime  charnwood  leics-police  "
            "charnwood-bc,nhs-hchp  2024-05-01T09:30:00Z\n"
            "referrals/a-much-longer-id  requested\n");
}

TEST(RenderReferralTable, MarksOverdueOnlyWhileAwaitingAResponse) {
  const absl::Time now = absl::FromUnixSeconds(1714555800) + absl::Hours(48);
  Referral late = Sample();
  late.set_state(Referral::REQUESTED);
  late.mutable_response_deadline()->set_seconds(1714555800 + 24 * 3600);  // a day before now
  Referral answered = late;
  answered.set_state(Referral::ACCEPTED);
  Referral in_time = late;
  in_time.mutable_response_deadline()->set_seconds(1714555800 + 72 * 3600);
  const std::string table = RenderReferralTable({late, answered, in_time}, now);
  EXPECT_THAT(table, HasSubstr("requested  hate-crime  charnwood  leics-police  charnwood-bc,nhs-hchp  "
                               "2024-05-01T09:30:00Z  2024-05-02T09:30:00Z OVERDUE\n"));
  EXPECT_THAT(table, HasSubstr("accepted   hate-crime  charnwood  leics-police  charnwood-bc,nhs-hchp  "
                               "2024-05-01T09:30:00Z  2024-05-02T09:30:00Z\n"));
  EXPECT_THAT(table, HasSubstr("2024-05-04T09:30:00Z\n"));
}

TEST(RenderTable, StripsControlCharacters) {
  EXPECT_EQ(RenderTable({"A", "B"}, {{"x\x1b[31m", "y\nz"}}),
            "A          B\n"
            "x\\x1b[31m  y\\x0az\n");
}

// Another agency's text reaches the caseworker's terminal: nothing in it may
// drive the terminal or disguise what it says.
TEST(Sanitize, EscapesEverythingATerminalCouldActOn) {
  // C0 controls and DEL, ESC of an ANSI sequence included.
  EXPECT_EQ(Sanitize("a\x07" "b\x7f\x1b]0;title\x07"), "a\\x07b\\x7f\\x1b]0;title\\x07");
  EXPECT_EQ(Sanitize("line1\nline2"), "line1\\x0aline2");
  EXPECT_EQ(Sanitize("line1\nline2", /*keep_newlines=*/true), "line1\nline2");
  EXPECT_EQ(Sanitize("a\rb\tc"), "a\\x0db\\x09c");
  // C1 controls as UTF-8 (U+009B is a one-character CSI).
  EXPECT_EQ(Sanitize("x\xc2\x9b" "31mred"), "x\\u{009b}31mred");
  EXPECT_EQ(Sanitize("\xc2\x85" "next"), "\\u{0085}next");
  // Bidirectional overrides and isolates (Trojan Source).
  EXPECT_EQ(Sanitize("abc\xe2\x80\xae" "def"), "abc\\u{202e}def");
  EXPECT_EQ(Sanitize("\xe2\x81\xa6" "x\xe2\x81\xa9"), "\\u{2066}x\\u{2069}");
  // Bytes that are not UTF-8: lone continuation, overlong, truncated, surrogate.
  EXPECT_EQ(Sanitize("a\x80" "b"), "a\\x80b");
  EXPECT_EQ(Sanitize("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(Sanitize("end\xe2\x82"), "end\\xe2\\x82");
  EXPECT_EQ(Sanitize("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  // A backslash is doubled, so no escape can be forged by the sender.
  EXPECT_EQ(Sanitize("\\x1b"), "\\\\x1b");
  // Ordinary text in any script is kept as it is.
  EXPECT_EQ(Sanitize("Zoë – Łódź – 東京 – 🙂"), "Zoë – Łódź – 東京 – 🙂");
}

TEST(Sanitize, EveryRendererEscapesAndJsonStaysExact) {
  Referral r;
  r.set_name("referrals/abc");
  r.set_area("x\x1b[2Jcleared");
  r.set_incident_narrative("told\xc2\x9b" "2Jyou");
  EXPECT_THAT(RenderKeyValues(r), HasSubstr("x\\x1b[2Jcleared"));
  EXPECT_THAT(RenderKeyValues(r), HasSubstr("told\\u{009b}2Jyou"));
  EXPECT_THAT(RenderReferralTable({r}), HasSubstr("x\\x1b[2Jcleared"));
  EXPECT_THAT(RenderReferralTable({r}), Not(HasSubstr("\x1b")));
  refx::v1::ListCaseUpdatesResponse updates;
  refx::v1::CaseUpdate* u = updates.add_updates();
  u->set_name("referrals/abc/updates/def");
  // A long note whose cut falls inside a multi-byte character.
  u->set_text(std::string(56, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\x1b[0m");
  const std::string table = RenderCaseUpdateTable(updates);
  EXPECT_THAT(table, HasSubstr(std::string(56, 'a') + "..."));
  EXPECT_THAT(table, Not(HasSubstr("\\xc3")));
  refx::v1::WatchReferralsResponse event;
  event.set_sequence(1);
  event.mutable_referral()->set_name("referrals/\x1b[1mx");
  EXPECT_THAT(RenderWatchEvent(event), HasSubstr("referrals/\\x1b[1mx"));
  // A deletion's notice holds only the name: no empty route is drawn.
  event.set_kind(refx::v1::WatchReferralsResponse::REFERRAL_DELETED);
  EXPECT_THAT(RenderWatchEvent(event), HasSubstr("retention period of the routing record ended"));
  EXPECT_THAT(RenderWatchEvent(event), ::testing::Not(HasSubstr(" -> ")));
  // JSON is for programs: the exact bytes, escaped only as JSON escapes them.
  Referral parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(RenderJson(r), &parsed).ok());
  EXPECT_EQ(parsed.area(), r.area());
  EXPECT_EQ(parsed.incident_narrative(), r.incident_narrative());
  EXPECT_EQ(FormatError(absl::InvalidArgumentError("bad \x1b[31m"), OutputFormat::kTable),
            "refx: INVALID_ARGUMENT: bad \\x1b[31m\n");
}

TEST(RenderKeyValues, FlattensNestedRepeatedEnumsAndTimestamps) {
  Referral r = Sample();
  refx::v1::Strand* s = r.add_strands();
  s->set_strand("religion_or_belief");
  s->set_basis(refx::v1::Strand::ACTUAL);
  s->set_targeted_religion("Islam");
  r.mutable_victim()->mutable_consent()->set_status(refx::v1::Consent::GIVEN);
  r.set_incident_narrative("line one\nline two");
  const std::string text = RenderKeyValues(r);
  EXPECT_THAT(text, HasSubstr("name:                         referrals/r1\n"));
  EXPECT_THAT(text, HasSubstr("report_type:                  hate-crime\n"));
  EXPECT_THAT(text, HasSubstr("strands[0].basis:             actual\n"));
  EXPECT_THAT(text, HasSubstr("strands[0].targeted_religion: Islam\n"));
  EXPECT_THAT(text, HasSubstr("incident_narrative:           line one\n"
                              "                              line two\n"));
  EXPECT_THAT(text, HasSubstr("victim.consent.status:        given\n"));
  EXPECT_THAT(text, HasSubstr("recipient_agencies[1]:        agencies/nhs-hchp\n"));
  EXPECT_THAT(text, HasSubstr("create_time:                  2024-05-01T09:30:00Z\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("online")));  // Unset fields are left out.
}

TEST(RenderJson, CanonicalProtoJson) {
  const std::string json = RenderJson(Sample());
  EXPECT_THAT(json, HasSubstr("\"reportType\": \"HATE_CRIME\""));
  EXPECT_THAT(json, HasSubstr("\"createTime\": \"2024-05-01T09:30:00Z\""));
  EXPECT_EQ(json.back(), '\n');
}

absl::Status RichError() {
  return WithErrorInfo(InvalidArgumentError("the referral is invalid",
                                            {{"referral.area", "unknown area id"},
                                             {"referral.strands", "at least one is required"}}),
                       "REFERRAL_INVALID");
}

TEST(FormatError, TextListsViolationsReasonAndRequestId) {
  EXPECT_EQ(FormatError(RichError(), OutputFormat::kTable, "abc-123"),
            "refx: INVALID_ARGUMENT: the referral is invalid\n"
            "  field referral.area: unknown area id\n"
            "  field referral.strands: at least one is required\n"
            "  reason: REFERRAL_INVALID\n"
            "  request id: abc-123\n");
  // Only an unknown outcome suggests retrying with the same id.
  EXPECT_EQ(FormatError(absl::UnavailableError("connection reset"), OutputFormat::kTable, "abc-123"),
            "refx: UNAVAILABLE: connection reset\n"
            "  request id: abc-123 (the outcome is unknown: retry with --request-id abc-123 to avoid creating "
            "a duplicate)\n");
  EXPECT_EQ(FormatError(absl::DeadlineExceededError("deadline"), OutputFormat::kTable, "r-1"),
            "refx: DEADLINE_EXCEEDED: deadline\n"
            "  request id: r-1 (the outcome is unknown: retry with --request-id r-1 to avoid creating "
            "a duplicate)\n");
  EXPECT_EQ(FormatError(absl::NotFoundError("referral not found"), OutputFormat::kTable),
            "refx: NOT_FOUND: referral not found\n");
}

TEST(FormatError, JsonIsOneObject) {
  EXPECT_EQ(FormatError(RichError(), OutputFormat::kJson),
            "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"the referral is invalid\","
            "\"fieldViolations\":[{\"field\":\"referral.area\",\"description\":\"unknown area "
            "id\"},{\"field\":\"referral.strands\",\"description\":\"at least one is "
            "required\"}],\"reason\":\"REFERRAL_INVALID\"}\n");
  EXPECT_EQ(FormatError(absl::UnavailableError("say \"hi\"\n"), OutputFormat::kJson, "r"),
            "{\"code\":\"UNAVAILABLE\",\"message\":\"say \\\"hi\\\"\\n\",\"requestId\":\"r\"}\n");
}

// The server's call id (RequestInfo) is shown so that a user can quote it.
TEST(FormatError, ShowsTheCallId) {
  const absl::Status status = WithRequestInfo(absl::PermissionDeniedError("no"), "0123456789abcdef");
  EXPECT_EQ(FormatError(status, OutputFormat::kTable),
            "refx: PERMISSION_DENIED: no\n"
            "  call id: 0123456789abcdef (quote it when reporting this)\n");
  EXPECT_EQ(FormatError(status, OutputFormat::kJson),
            "{\"code\":\"PERMISSION_DENIED\",\"message\":\"no\",\"callId\":\"0123456789abcdef\"}\n");
}


}  // namespace
}  // namespace refx::cli
