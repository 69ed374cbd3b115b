// The register of data subject requests (issue 16 item 3): over mTLS with a
// FakeClock, the data protection officer records a request and moves its
// clock (paused, resumed, extended, answered) by the ICO's rules on the
// agreement's calendar; every step is audited, by name and action only;
// retries are safe; a stale etag, a step the law does not allow, bad input
// and every other role are refused.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/clock.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::ElementsAre;
using Step = v1::SubjectRequestStep;

constexpr char kOversight[] = "asb-hate-prevent-strategy-group";
constexpr char kReference[] = "DPO-2026-0142";

class SubjectRequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::StartOnClock(&clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  static v1::CreateSubjectRequestRequest NewRequest(const std::string& received, const std::string& request_id,
                                                    v1::SubjectRequest::Kind kind = v1::SubjectRequest::ACCESS) {
    v1::CreateSubjectRequestRequest request;
    request.mutable_subject_request()->set_kind(kind);
    request.mutable_subject_request()->set_reference(kReference);
    request.mutable_subject_request()->set_received_date(received);
    request.set_request_id(request_id);
    return request;
  }

  absl::StatusOr<v1::SubjectRequest> Record(const v1::SubjectRequest& on, Step::Action action,
                                            const std::string& date, Step::Ground ground = Step::GROUND_UNSPECIFIED,
                                            const std::string& etag = "") {
    v1::RecordSubjectRequestStepRequest request;
    request.set_name(on.name());
    request.mutable_step()->set_action(action);
    request.mutable_step()->set_date(date);
    request.mutable_step()->set_ground(ground);
    request.set_etag(etag.empty() ? on.etag() : etag);
    return server_->Client(kDpo).RecordSubjectRequestStep(request);
  }

  FakeClock clock_{LondonTime(2026, 9, 15)};
  std::unique_ptr<TestServer> server_;
};

TEST_F(SubjectRequestsTest, TheDpoRecordsARequestAndItsClockRunsByTheIcoRules) {
  // Received Wednesday 2 September: due Friday 2 October, extendable until then.
  auto opened = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-09-02", "sar-1"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(absl::StartsWith(opened->name(), "subjectRequests/")) << opened->name();
  EXPECT_EQ(opened->kind(), v1::SubjectRequest::ACCESS);
  EXPECT_EQ(opened->reference(), kReference);
  EXPECT_EQ(opened->state(), v1::SubjectRequest::OPEN);
  EXPECT_EQ(opened->due_date(), "2026-10-02");
  EXPECT_EQ(opened->extension_deadline(), "2026-10-02");
  EXPECT_FALSE(opened->overdue());
  EXPECT_EQ(opened->agency(), absl::StrCat("agencies/", kDpo));
  ASSERT_EQ(opened->steps_size(), 1);
  EXPECT_EQ(opened->steps(0).action(), Step::RECEIVED);
  EXPECT_EQ(opened->steps(0).date(), "2026-09-02");

  // A retry answers with the same request; the same id for another one is refused.
  auto retried = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-09-02", "sar-1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->name(), opened->name());
  EXPECT_EQ(retried->etag(), opened->etag());
  auto reused = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-09-03", "sar-1"));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument) << reused.status();
  EXPECT_THAT(ViolatedFieldsOf(reused.status()), ElementsAre("request_id"));

  // Paused for identity on the 4th; the information arrives on the 14th:
  // a full month from then.
  auto paused = Record(*opened, Step::PAUSED, "2026-09-04", Step::IDENTITY);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->state(), v1::SubjectRequest::PAUSED);
  EXPECT_NE(paused->etag(), opened->etag());
  auto stale = Record(*paused, Step::RESUMED, "2026-09-14", Step::GROUND_UNSPECIFIED, opened->etag());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_EQ(ErrorReasonOf(stale.status()), "ETAG_MISMATCH");
  auto resumed = Record(*paused, Step::RESUMED, "2026-09-14");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->state(), v1::SubjectRequest::OPEN);
  EXPECT_EQ(resumed->due_date(), "2026-10-14");

  // Extended for complexity, told today: three months from the restart.
  auto extended = Record(*resumed, Step::EXTENDED, "2026-09-15", Step::COMPLEXITY);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_TRUE(extended->extended());
  EXPECT_EQ(extended->due_date(), "2026-12-14");
  EXPECT_EQ(extended->extension_deadline(), "");

  // Past the due date it reads overdue; answered late, it stays so.
  clock_.Set(LondonTime(2026, 12, 16));
  auto late = server_->Client(kDpo).GetSubjectRequest([&] {
    v1::GetSubjectRequestRequest get;
    get.set_name(extended->name());
    return get;
  }());
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_TRUE(late->overdue());
  auto answered = Record(*late, Step::ANSWERED, "2026-12-16");
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->state(), v1::SubjectRequest::ANSWERED);
  EXPECT_TRUE(answered->overdue());
  EXPECT_EQ(answered->steps_size(), 5);
  auto after_close = Record(*answered, Step::WITHDRAWN, "2026-12-16");
  EXPECT_EQ(after_close.status().code(), absl::StatusCode::kFailedPrecondition) << after_close.status();
  EXPECT_EQ(ErrorReasonOf(after_close.status()), "SUBJECT_REQUEST_STEP_NOT_ALLOWED");

  // Each step audited by name, action and day; the DPO's reference stays in the record.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = server_->Client(kDpo).ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<std::string> changes;
  for (const auto& e : events->events()) {
    if (absl::EndsWith(e.method(), "SubjectRequest") || absl::EndsWith(e.method(), "SubjectRequestStep")) {
      changes.push_back(absl::StrCat(e.method().substr(e.method().rfind('.') + 1), " ", e.outcome(), " ",
                                     absl::StrReplaceAll(e.reason(), {{opened->name(), "N"}})));
    }
  }
  EXPECT_THAT(changes, ElementsAre("CreateSubjectRequest OK N RECEIVED 2026-09-02",
                                   "CreateSubjectRequest OK N RECEIVED 2026-09-02 REPLAYED",
                                   "CreateSubjectRequest INVALID_ARGUMENT ",
                                   "RecordSubjectRequestStep OK N PAUSED 2026-09-04",
                                   "RecordSubjectRequestStep ABORTED ",
                                   "RecordSubjectRequestStep OK N RESUMED 2026-09-14",
                                   "RecordSubjectRequestStep OK N EXTENDED 2026-09-15",
                                   "GetSubjectRequest OK N",
                                   "RecordSubjectRequestStep OK N ANSWERED 2026-12-16",
                                   "RecordSubjectRequestStep FAILED_PRECONDITION "));
  TestDatabase db(server_->config().storage());
  EXPECT_EQ(db.Int(absl::StrCat("SELECT count(*) FROM audit_events WHERE reason LIKE '%", kReference, "%'")), 0);
}

TEST_F(SubjectRequestsTest, ADueDateOnTheAgreementsBankHolidaysMovesAndTheListPages) {
  // 25 November: 25 December is Christmas Day, then a weekend and the
  // substitute Boxing Day (28 December): due Tuesday 29 December.
  clock_.Set(LondonTime(2026, 11, 26));
  auto christmas = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-11-25", "sar-xmas"));
  ASSERT_TRUE(christmas.ok()) << christmas.status();
  EXPECT_EQ(christmas->due_date(), "2026-12-29");
  clock_.Advance(absl::Minutes(1));
  auto erasure =
      server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-11-26", "sar-erase", v1::SubjectRequest::ERASURE));
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  clock_.Advance(absl::Minutes(1));
  auto third = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-11-26", "sar-third"));
  ASSERT_TRUE(third.ok()) << third.status();

  std::vector<std::string> names;
  v1::ListSubjectRequestsRequest list;
  list.set_page_size(2);
  int pages = 0;
  do {
    auto page = server_->Client(kDpo).ListSubjectRequests(list);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : page->subject_requests()) names.push_back(r.name());
    list.set_page_token(page->next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 5);
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(names, ElementsAre(christmas->name(), erasure->name(), third->name()));
  list.set_page_token("not-a-token");
  auto bad_token = server_->Client(kDpo).ListSubjectRequests(list);
  EXPECT_EQ(bad_token.status().code(), absl::StatusCode::kInvalidArgument) << bad_token.status();
  EXPECT_THAT(ViolatedFieldsOf(bad_token.status()), ElementsAre("page_token"));
}

TEST_F(SubjectRequestsTest, RolesWithoutSubjectAccessBadInputAndUnknownRequestsAreRefused) {
  auto opened = server_->Client(kDpo).CreateSubjectRequest(NewRequest("2026-09-02", "sar-r"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  v1::GetSubjectRequestRequest get;
  get.set_name(opened->name());
  v1::RecordSubjectRequestStepRequest step;
  step.set_name(opened->name());
  step.mutable_step()->set_action(Step::ANSWERED);
  step.mutable_step()->set_date("2026-09-15");
  for (const char* agency : {kPolice, kCityCouncil, kOversight}) {
    client::ReferralClient client = server_->Client(agency);
    for (absl::Status status : {client.CreateSubjectRequest(NewRequest("2026-09-02", "x")).status(),
                                client.GetSubjectRequest(get).status(),
                                client.ListSubjectRequests(v1::ListSubjectRequestsRequest()).status(),
                                client.RecordSubjectRequestStep(step).status()}) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << agency << " " << status;
      EXPECT_EQ(ErrorReasonOf(status), "METHOD_NOT_PERMITTED");
    }
  }
  auto no_cert = server_->ClientWith(TestPki::ClientCert{}).GetSubjectRequest(get);
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kUnavailable) << no_cert.status();

  // Bad input: each field named.
  client::ReferralClient dpo = server_->Client(kDpo);
  v1::CreateSubjectRequestRequest bad = NewRequest("2026-09-16", "sar-bad");  // tomorrow
  bad.mutable_subject_request()->set_reference("line one\nline two");
  auto refused = dpo.CreateSubjectRequest(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(ViolatedFieldsOf(refused.status()),
              ElementsAre("subject_request.reference", "subject_request.received_date"));
  bad = NewRequest("2026-02-30", "sar-bad");
  EXPECT_THAT(ViolatedFieldsOf(dpo.CreateSubjectRequest(bad).status()), ElementsAre("subject_request.received_date"));
  bad = NewRequest("2026-09-02", "");
  bad.mutable_subject_request()->clear_kind();
  auto missing = dpo.CreateSubjectRequest(bad);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_THAT(ViolatedFieldsOf(missing.status()), ::testing::IsSupersetOf({"subject_request.kind", "request_id"}));
  v1::RecordSubjectRequestStepRequest future = step;
  future.mutable_step()->set_date("2026-09-16");
  auto in_future = dpo.RecordSubjectRequestStep(future);
  EXPECT_EQ(in_future.status().code(), absl::StatusCode::kInvalidArgument) << in_future.status();
  EXPECT_THAT(ViolatedFieldsOf(in_future.status()), ElementsAre("step.date"));
  v1::RecordSubjectRequestStepRequest no_ground = step;
  no_ground.mutable_step()->set_action(Step::EXTENDED);
  EXPECT_THAT(ViolatedFieldsOf(dpo.RecordSubjectRequestStep(no_ground).status()), ElementsAre("step.ground"));

  // Unknown and malformed names.
  v1::GetSubjectRequestRequest unknown;
  unknown.set_name("subjectRequests/00000000000000000000000000000000");
  auto absent = dpo.GetSubjectRequest(unknown);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound) << absent.status();
  EXPECT_EQ(ErrorReasonOf(absent.status()), "SUBJECT_REQUEST_NOT_FOUND");
  v1::RecordSubjectRequestStepRequest unknown_step = step;
  unknown_step.set_name(unknown.name());
  EXPECT_EQ(dpo.RecordSubjectRequestStep(unknown_step).status().code(), absl::StatusCode::kNotFound);
  unknown.set_name("referrals/00000000000000000000000000000000");
  auto malformed = dpo.GetSubjectRequest(unknown);
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument) << malformed.status();
  EXPECT_THAT(ViolatedFieldsOf(malformed.status()), ElementsAre("name"));

  // Nothing refused changed the request.
  auto unchanged = dpo.GetSubjectRequest(get);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_EQ(unchanged->etag(), opened->etag());
  EXPECT_EQ(unchanged->steps_size(), 1);
}

// Actioning an erasure request: the classes named are erased from the
// referral (and every stored copy, by the retention machinery), recorded in
// it under the request's name and audited as an ERASURE by the DPO; a second
// call erases nothing more; requests of another kind or not running, the
// routing record, a held or unknown referral and other roles are refused.
// A rectification request is actioned by the controller's own correction
// (a CORRECTION case update superseding what was wrong), recorded against
// the request by the DPO: which update, on which referral, by which
// controller and when, never what it says.
TEST_F(SubjectRequestsTest, ARectificationRequestRecordsTheControllersCorrection) {
  client::ReferralClient police = server_->Client(kPolice);
  client::ReferralClient council = server_->Client(kCityCouncil);
  auto created = police.CreateReferral(ValidReferral(kCityCouncil), "rectify-me");
  ASSERT_TRUE(created.ok()) << created.status();
  auto add = [&](const v1::CaseUpdate& update, const std::string& request_id) {
    auto now = council.GetReferral(created->name());
    EXPECT_TRUE(now.ok()) << now.status();
    v1::AddCaseUpdateRequest request;
    request.set_parent(created->name());
    request.set_etag(now.ok() ? now->etag() : "");
    request.set_request_id(request_id);
    *request.mutable_update() = update;
    return council.AddCaseUpdate(request);
  };
  v1::CaseUpdate note;
  note.set_kind(v1::CaseUpdate::CONTACT_ATTEMPT);
  note.set_text("Rang the victim's old number");
  auto before_request = add(note, "note-before");
  ASSERT_TRUE(before_request.ok()) << before_request.status();
  v1::CaseUpdate early_fix;
  early_fix.set_kind(v1::CaseUpdate::CORRECTION);
  early_fix.set_supersedes(before_request->name());
  early_fix.set_text("It was the victim's new number");
  auto early = add(early_fix, "fix-before");
  ASSERT_TRUE(early.ok()) << early.status();

  clock_.Advance(absl::Hours(24));  // the request arrives the next day
  client::ReferralClient dpo = server_->Client(kDpo);
  auto rectification =
      dpo.CreateSubjectRequest(NewRequest("2026-09-16", "sar-rectify", v1::SubjectRequest::RECTIFICATION));
  ASSERT_TRUE(rectification.ok()) << rectification.status();
  v1::CaseUpdate fix = early_fix;
  fix.set_text("The victim's number is the one on file since August");
  auto correction = add(fix, "fix-after");
  ASSERT_TRUE(correction.ok()) << correction.status();

  v1::RecordRectificationRequest request;
  request.set_subject_request(rectification->name());
  request.set_correction(correction->name());
  request.set_etag(rectification->etag());
  auto recorded = dpo.RecordRectification(request);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->rectifications_size(), 1);
  const v1::Rectification& r = recorded->rectifications(0);
  EXPECT_EQ(r.correction(), correction->name());
  EXPECT_EQ(r.referral(), created->name());
  EXPECT_EQ(r.controller(), absl::StrCat("agencies/", kCityCouncil));
  EXPECT_EQ(r.correct_time().seconds(), correction->create_time().seconds());
  EXPECT_NE(recorded->etag(), rectification->etag());
  EXPECT_EQ(recorded->state(), v1::SubjectRequest::OPEN);  // answered is the DPO's own step
  EXPECT_FALSE(absl::StrContains(recorded->SerializeAsString(), "since August"));  // never the content
  // Again: nothing changes (the etag given is stale now, so none is given).
  request.clear_etag();
  auto again = dpo.RecordRectification(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->rectifications_size(), 1);
  EXPECT_EQ(again->etag(), recorded->etag());

  // Audited once, naming the referral and the update, never the content.
  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = dpo.ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int rectified = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.AuditService.RecordRectification" || e.outcome() != "OK") continue;
    if (e.referrals_size() == 0) continue;  // the unchanged retry's own event
    ++rectified;
    EXPECT_THAT(e.referrals(), ElementsAre(created->name()));
    EXPECT_EQ(e.reason(), absl::StrCat(rectification->name(), " rectified by ", correction->name()));
  }
  EXPECT_EQ(rectified, 1);

  // Refusals, each changing nothing.
  v1::RecordRectificationRequest stale = request;
  stale.set_etag(rectification->etag());
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(stale).status()), "ETAG_MISMATCH");
  v1::RecordRectificationRequest not_a_correction = request;
  not_a_correction.set_correction(before_request->name());
  auto note_refused = dpo.RecordRectification(not_a_correction);
  EXPECT_EQ(note_refused.status().code(), absl::StatusCode::kFailedPrecondition) << note_refused.status();
  EXPECT_EQ(ErrorReasonOf(note_refused.status()), "NOT_A_CORRECTION");
  v1::RecordRectificationRequest too_early = request;
  too_early.set_correction(early->name());
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(too_early).status()), "NOT_A_CORRECTION");
  v1::RecordRectificationRequest missing = request;
  missing.set_correction(absl::StrCat(created->name(), "/updates/00000000000000000000000000000000"));
  auto absent = dpo.RecordRectification(missing);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound) << absent.status();
  EXPECT_EQ(ErrorReasonOf(absent.status()), "CASE_UPDATE_NOT_FOUND");
  v1::RecordRectificationRequest elsewhere = request;  // an update id under another referral
  elsewhere.set_correction(absl::StrCat("referrals/00000000000000000000000000000000/updates/",
                                        correction->name().substr(correction->name().rfind('/') + 1)));
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(elsewhere).status()), "CASE_UPDATE_NOT_FOUND");
  auto access = dpo.CreateSubjectRequest(NewRequest("2026-09-16", "sar-not-rectification"));
  ASSERT_TRUE(access.ok()) << access.status();
  v1::RecordRectificationRequest wrong_kind = request;
  wrong_kind.set_subject_request(access->name());
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(wrong_kind).status()), "SUBJECT_REQUEST_NOT_RECTIFIABLE");
  v1::RecordRectificationRequest unknown = request;
  unknown.set_subject_request("subjectRequests/00000000000000000000000000000000");
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(unknown).status()), "SUBJECT_REQUEST_NOT_FOUND");
  v1::RecordRectificationRequest malformed;
  malformed.set_subject_request("subjectRequests/x");
  malformed.set_correction(created->name());
  auto bad = dpo.RecordRectification(malformed);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(ViolatedFieldsOf(bad.status()), ElementsAre("subject_request", "correction"));
  for (const char* agency : {kPolice, kCityCouncil, kOversight}) {
    auto denied = server_->Client(agency).RecordRectification(request);
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << agency << " " << denied.status();
  }
  auto answered = Record(*recorded, Step::ANSWERED, "2026-09-16");
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->rectifications_size(), 1);
  EXPECT_EQ(ErrorReasonOf(dpo.RecordRectification(request).status()), "SUBJECT_REQUEST_NOT_RECTIFIABLE");
  auto final_state = dpo.GetSubjectRequest([&] {
    v1::GetSubjectRequestRequest get;
    get.set_name(rectification->name());
    return get;
  }());
  ASSERT_TRUE(final_state.ok()) << final_state.status();
  EXPECT_EQ(final_state->rectifications_size(), 1);
}

TEST_F(SubjectRequestsTest, AnErasureRequestErasesTheClassesItNamesAndIsRecordedAndAudited) {
  v1::Referral r = ValidReferral(kCityCouncil);
  r.mutable_victim()->set_phone("07700 900777");
  r.mutable_victim()->mutable_consent()->set_status(v1::Consent::GIVEN);
  auto created = server_->Client(kPolice).CreateReferral(r, "erase-me");
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->victim().phone(), "07700 900777");
  client::ReferralClient dpo = server_->Client(kDpo);
  auto erasure = dpo.CreateSubjectRequest(NewRequest("2026-09-14", "sar-erasure", v1::SubjectRequest::ERASURE));
  ASSERT_TRUE(erasure.ok()) << erasure.status();

  v1::EraseSubjectDataRequest request;
  request.set_subject_request(erasure->name());
  request.set_referral(created->name());
  request.add_data_classes(v1::DATA_CLASS_VICTIM_CONTACT);
  auto erased = dpo.EraseSubjectData(request);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->referral(), created->name());
  EXPECT_THAT(erased->erased(), ElementsAre(v1::DATA_CLASS_VICTIM_CONTACT));
  EXPECT_GE(erased->copies_rewritten(), 1);  // at least the create's event-log copy

  auto read = server_->Client(kPolice).GetReferral(created->name());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->victim().phone(), "");
  ASSERT_EQ(read->erasures_size(), 1);
  EXPECT_EQ(read->erasures(0).data_class(), v1::DATA_CLASS_VICTIM_CONTACT);
  EXPECT_TRUE(absl::StrContains(read->erasures(0).rule(), erasure->name())) << read->erasures(0).rule();
  auto again = dpo.EraseSubjectData(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->erased_size(), 0);

  v1::ListAuditEventsRequest list;
  list.set_agency(absl::StrCat("agencies/", kDpo));
  auto events = dpo.ListAuditEvents(list);
  ASSERT_TRUE(events.ok()) << events.status();
  int erasures = 0;
  for (const auto& e : events->events()) {
    if (e.method() != "refx.v1.AuditService.EraseSubjectData" || e.action() != "ERASURE") continue;
    ++erasures;
    EXPECT_EQ(e.reason(), erasure->name());
    EXPECT_THAT(e.referrals(), ElementsAre(created->name()));
    EXPECT_THAT(e.data_classes(), ElementsAre(v1::DATA_CLASS_VICTIM_CONTACT));
  }
  EXPECT_EQ(erasures, 1);

  // Refusals, each changing nothing.
  auto access = dpo.CreateSubjectRequest(NewRequest("2026-09-14", "sar-access"));
  ASSERT_TRUE(access.ok()) << access.status();
  v1::EraseSubjectDataRequest wrong_kind = request;
  wrong_kind.set_subject_request(access->name());
  wrong_kind.set_data_classes(0, v1::DATA_CLASS_VICTIM_IDENTITY);
  auto not_erasure = dpo.EraseSubjectData(wrong_kind);
  EXPECT_EQ(not_erasure.status().code(), absl::StatusCode::kFailedPrecondition) << not_erasure.status();
  EXPECT_EQ(ErrorReasonOf(not_erasure.status()), "SUBJECT_REQUEST_NOT_ERASABLE");
  auto paused = Record(*erasure, Step::PAUSED, "2026-09-15", Step::IDENTITY);
  ASSERT_TRUE(paused.ok()) << paused.status();
  v1::EraseSubjectDataRequest identity = request;
  identity.set_data_classes(0, v1::DATA_CLASS_VICTIM_IDENTITY);
  auto while_paused = dpo.EraseSubjectData(identity);
  EXPECT_EQ(ErrorReasonOf(while_paused.status()), "SUBJECT_REQUEST_NOT_ERASABLE") << while_paused.status();
  ASSERT_TRUE(Record(*paused, Step::RESUMED, "2026-09-15").ok());
  v1::EraseSubjectDataRequest core_class = identity;
  core_class.add_data_classes(v1::DATA_CLASS_REFERRAL_CORE);
  auto routing = dpo.EraseSubjectData(core_class);
  EXPECT_EQ(routing.status().code(), absl::StatusCode::kInvalidArgument) << routing.status();
  EXPECT_THAT(ViolatedFieldsOf(routing.status()), ElementsAre("data_classes[1]"));
  v1::PlaceLegalHoldRequest hold;
  hold.set_referral(created->name());
  hold.set_reason("IOPC complaint 2026/0412");
  ASSERT_TRUE(dpo.PlaceLegalHold(hold).ok());
  auto held = dpo.EraseSubjectData(identity);
  EXPECT_EQ(held.status().code(), absl::StatusCode::kFailedPrecondition) << held.status();
  EXPECT_EQ(ErrorReasonOf(held.status()), "LEGAL_HOLD_IN_PLACE");
  v1::EraseSubjectDataRequest unknown = identity;
  unknown.set_referral("referrals/00000000000000000000000000000000");
  auto absent = dpo.EraseSubjectData(unknown);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound) << absent.status();
  EXPECT_EQ(ErrorReasonOf(absent.status()), "REFERRAL_NOT_FOUND");
  for (const char* agency : {kPolice, kCityCouncil, kOversight}) {
    auto denied = server_->Client(agency).EraseSubjectData(identity);
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << agency << " " << denied.status();
  }
  auto still = server_->Client(kPolice).GetReferral(created->name());
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->victim().given_name(), r.victim().given_name());
  EXPECT_EQ(still->erasures_size(), 1);
}

// The bundle answering a request is dated by the server's clock (the one
// the request's clock runs on), not the machine's.
TEST_F(SubjectRequestsTest, TheBundleIsDatedByTheServersClock) {
  v1::Referral r = ValidReferral();
  r.mutable_victim()->set_phone("07700 900456");
  ASSERT_TRUE(server_->Client(kPolice).CreateReferral(r, "bundle-dated").ok());
  v1::ExportSubjectAccessBundleRequest person;
  person.set_phone("07700 900456");
  auto bundle = server_->Client(kDpo).ExportSubjectAccessBundle(person);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(FromProto(bundle->create_time()), clock_.Now());
}

}  // namespace
}  // namespace refx::testing
