// Side channels, tried as a partner agency with a valid certificate would:
// nothing the agreement withholds from a caller can be learnt from what
// refx returns, counts, filters, orders, puts in a token or an etag, and the
// audit event of every answer records exactly what its bytes disclose.
// Real mTLS, a real SQLite file, the LLR agreement.
#include <algorithm>
#include <limits>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "core/redaction.h"
#include "gmock/gmock.h"
#include "google/api/field_behavior.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using client::WatchCancellation;

constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
constexpr char kDpo[] = "llr-information-governance";
constexpr char kHealthCanary[] = "CANARY-HEALTH-2c9e uses a wheelchair";

std::set<int> ClassesOf(const google::protobuf::Message& message) {
  std::set<int> out;
  for (v1::DataClass c : core::DisclosureOf(message).classes.Members()) out.insert(c);
  return out;
}

std::set<int> ClassesOf(const v1::AuditEvent& event) {
  return std::set<int>(event.data_classes().begin(), event.data_classes().end());
}

std::vector<std::string> DerivedOf(const v1::AuditEvent& event) {
  return std::vector<std::string>(event.derived().begin(), event.derived().end());
}

class SideChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  Api As(const std::string& agency) const {
    return Api(server_->Channel(server_->pki().Agency(agency)), absl::StrCat("caseworker-", agency));
  }

  v1::Referral Create(const std::string& agency, const v1::Referral& r) {
    auto created = As(agency).Create(r, absl::StrCat("create-", ++ids_));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  // The newest audit event of `method` (its last name segment) by `agency`.
  v1::AuditEvent LastEvent(const std::string& method, const std::string& agency) {
    v1::ListAuditEventsRequest req;
    req.set_agency(absl::StrCat("agencies/", agency));
    req.set_page_size(1000);
    v1::AuditEvent last;
    while (true) {
      auto page = As(kDpo).ListAudit(req);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return last;
      for (const v1::AuditEvent& e : page->events()) {
        if (absl::EndsWith(e.method(), absl::StrCat(".", method))) last = e;
      }
      if (page->next_page_token().empty()) return last;
      req.set_page_token(page->next_page_token());
    }
  }

  // Asserts that the newest event of `method` by `agency` records exactly
  // the classes and derived values present in `response`.
  void ExpectAuditMatches(const std::string& method, const std::string& agency,
                          const google::protobuf::Message& response) {
    SCOPED_TRACE(method);
    const v1::AuditEvent event = LastEvent(method, agency);
    ASSERT_GT(event.sequence(), 0) << "no audit event";
    EXPECT_EQ(event.outcome(), "OK");
    EXPECT_EQ(ClassesOf(event), ClassesOf(response)) << event.DebugString() << response.DebugString();
    EXPECT_EQ(DerivedOf(event), core::DisclosureOf(response).derived);
  }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

// 1. Filters are decided on what the caller may read.
TEST_F(SideChannelTest, AStrandFilterCannotFindAStrandTheAgreementWithholds) {
  // The NHS partnership reads no protected characteristics without consent
  // (its grant shares only routing facts and safeguarding then).
  v1::Referral visible = ValidReferral(kHealth);  // consent given: strands shared
  const v1::Referral shared = Create(kPolice, visible);
  v1::Referral withheld_input = ValidReferral(kHealth);
  withheld_input.mutable_victim()->mutable_consent()->set_status(v1::Consent::REFUSED);
  withheld_input.mutable_victim()->mutable_consent()->set_lawful_basis("dpa-2018-sch1-para18");
  const v1::Referral withheld = Create(kPolice, withheld_input);  // newer: listed first

  auto everything = As(kHealth).List(v1::ListReferralsRequest());
  ASSERT_TRUE(everything.ok()) << everything.status();
  ASSERT_EQ(everything->referrals_size(), 2);
  EXPECT_EQ(everything->referrals(0).name(), withheld.name());
  EXPECT_EQ(everything->referrals(0).strands_size(), 0);  // withheld from this reader
  EXPECT_EQ(everything->referrals(1).strands_size(), 1);

  // Every strand of the partnership, one at a time: the withheld referral
  // matches none of them, exactly as a referral without strands would not,
  // whether it has that strand (race) or not.
  for (const char* strand :
       {"race", "disability", "religion_or_belief", "sexual_orientation", "transgender_identity", "other_group"}) {
    SCOPED_TRACE(strand);
    v1::ListReferralsRequest req;
    req.mutable_filter()->add_strands(strand);
    auto page = As(kHealth).List(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Referral& r : page->referrals()) EXPECT_NE(r.name(), withheld.name());
    const bool race = std::string(strand) == "race";
    ASSERT_EQ(page->referrals_size(), race ? 1 : 0);
    if (race) {
      EXPECT_EQ(page->referrals(0).name(), shared.name());  // a strand it may read still matches
    }
    EXPECT_THAT(page->next_page_token(), IsEmpty());
    // The audit event of the listing records nothing it did not return.
    ExpectAuditMatches("ListReferrals", kHealth, *page);
    if (!race) {
      EXPECT_FALSE(ClassesOf(LastEvent("ListReferrals", kHealth)).count(v1::DATA_CLASS_PROTECTED_CHARACTERISTICS));
    }
  }

  // One at a time: the withheld referral (newest) neither fills the page nor
  // leaves a token behind it, so page size and "more" do not betray it.
  v1::ListReferralsRequest one;
  one.set_page_size(1);
  one.mutable_filter()->add_strands("race");
  auto first = As(kHealth).List(one);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->referrals_size(), 1);
  EXPECT_EQ(first->referrals(0).name(), shared.name());
  EXPECT_THAT(first->next_page_token(), IsEmpty());
  one.mutable_filter()->set_strands(0, "disability");
  auto none = As(kHealth).List(one);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->referrals_size(), 0);
  EXPECT_THAT(none->next_page_token(), IsEmpty());

  // The police, who read strands without consent under this basis, find it.
  v1::ListReferralsRequest police;
  police.mutable_filter()->add_strands("race");
  auto found = As(kPolice).List(police);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->referrals_size(), 2);
}

// Pages filled from what the caller sees lose nothing and repeat nothing,
// even when every referral has the same create time (a fixed clock) and
// every other one is hidden from the caller (a Prevent-only role).
TEST(SideChannelPagingTest, PagesOfAPartlyHiddenListingAreCompleteAndExact) {
  FakeClock clock(absl::Now());
  TestServer::Options options;
  options.clock = &clock;
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::set<std::string> visible;
  for (int i = 0; i < 9; ++i) {
    v1::Referral r = ValidReferral("llr-prevent");
    r.set_prevent_concern(i % 2 == 0);
    auto created = (*server)->Client(kPolice).CreateReferral(r, absl::StrCat("p", i));
    ASSERT_TRUE(created.ok()) << created.status();
    if (i % 2 == 0) visible.insert(created->name());
  }
  std::set<std::string> seen;
  v1::ListReferralsRequest req;
  req.set_page_size(2);
  for (int pages = 0; pages < 10; ++pages) {
    auto page = (*server)->Client("llr-prevent").ListReferrals(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : page->referrals()) EXPECT_TRUE(seen.insert(r.name()).second) << "repeated " << r.name();
    if (page->next_page_token().empty()) break;
    EXPECT_EQ(page->referrals_size(), 2);
    req.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen, visible);
}

// 5. Page tokens are opaque, authenticated and bound to the caller.
TEST_F(SideChannelTest, PageTokensAreSealedAndBoundToTheAgencyAndFilters) {
  std::vector<v1::Referral> created;
  for (int i = 0; i < 3; ++i) created.push_back(Create(kPolice, ValidReferral(kCityCouncil)));
  v1::ListReferralsRequest req;
  req.set_page_size(1);
  auto page = As(kCityCouncil).List(req);
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string token = page->next_page_token();
  ASSERT_FALSE(token.empty());
  // Nothing readable inside: no referral id, no time.
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  for (const v1::Referral& r : created) {
    EXPECT_THAT(raw, Not(HasSubstr(core::ReferralIdFromName(r.name()))));
    EXPECT_THAT(token, Not(HasSubstr(core::ReferralIdFromName(r.name()))));
    const int64_t micros = r.create_time().seconds() * 1000000 + r.create_time().nanos() / 1000;
    EXPECT_THAT(raw, Not(HasSubstr(absl::StrCat(micros))));
  }
  // It works for the caller with the same filters.
  req.set_page_token(token);
  auto next = As(kCityCouncil).List(req);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->referrals_size(), 1);
  EXPECT_NE(next->referrals(0).name(), page->referrals(0).name());

  auto refused = [&](const Api& api, v1::ListReferralsRequest r) {
    auto out = api.List(r);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
    EXPECT_THAT(FieldViolationsOf(out.status()), ::testing::Contains(::testing::Field(&FieldViolation::field, "page_token")));
  };
  // Another party to the same referrals may not use it.
  refused(As(kPolice), req);
  // Nor may other filters.
  v1::ListReferralsRequest filtered = req;
  filtered.mutable_filter()->add_areas("leicester");
  refused(As(kCityCouncil), filtered);
  // Altered in any character: refused.
  for (size_t i = 0; i < token.size(); i += 7) {
    v1::ListReferralsRequest altered = req;
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    altered.set_page_token(t);
    refused(As(kCityCouncil), altered);
  }
  // Forged in the old plain format, for a position of the forger's choosing.
  v1::ListReferralsRequest forged = req;
  forged.set_page_token(absl::WebSafeBase64Escape(
      absl::StrCat("v1|", std::numeric_limits<int64_t>::max(), "|", core::ReferralIdFromName(created[0].name()), "|x")));
  refused(As(kCityCouncil), forged);

  // Case update pages too.
  for (int i = 0; i < 2; ++i) {
    auto before = As(kPolice).Get(created[0].name());
    ASSERT_TRUE(before.ok());
    v1::AddCaseUpdateRequest add;
    add.set_parent(created[0].name());
    add.set_etag(before->etag());
    add.set_request_id(absl::StrCat("note-", i));
    add.mutable_update()->set_kind(v1::CaseUpdate::RISK_ASSESSMENT);
    add.mutable_update()->set_text("standard risk");
    ASSERT_TRUE(server_->Client(kPolice).AddCaseUpdate(add).ok());
  }
  v1::ListCaseUpdatesRequest updates;
  updates.set_parent(created[0].name());
  updates.set_page_size(1);
  auto u1 = server_->Client(kCityCouncil).ListCaseUpdates(updates);
  ASSERT_TRUE(u1.ok()) << u1.status();
  ASSERT_FALSE(u1->next_page_token().empty());
  updates.set_page_token(u1->next_page_token());
  EXPECT_TRUE(server_->Client(kCityCouncil).ListCaseUpdates(updates).ok());
  EXPECT_EQ(server_->Client(kPolice).ListCaseUpdates(updates).status().code(), absl::StatusCode::kInvalidArgument);
  updates.set_parent(created[1].name());
  EXPECT_EQ(server_->Client(kCityCouncil).ListCaseUpdates(updates).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// 5. An etag is a version id, not a function of the content.
TEST_F(SideChannelTest, EtagsCannotBeComputedFromTheReferral) {
  const v1::Referral input = ValidReferral(kCityCouncil);
  const v1::Referral a = Create(kPolice, input);
  const v1::Referral b = Create(kPolice, input);
  EXPECT_NE(a.etag(), b.etag());  // identical content, different etags
  for (const v1::Referral* r : {&a, &b}) {
    EXPECT_EQ(r->etag().size(), 20u);
    EXPECT_EQ(r->etag().find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  // A reader who sees every field (the police, with consent) cannot
  // recompute it from the document, so a reader who sees all but one field
  // cannot test guesses of that one against it either.
  auto full = As(kPolice).Get(a.name());
  ASSERT_TRUE(full.ok());
  v1::Referral without_etag = *full;
  without_etag.clear_etag();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    without_etag.SerializeToCodedStream(&coded);
  }
  EXPECT_NE(HexEncode(Sha256(bytes)).substr(0, 20), full->etag());
  without_etag.clear_repeat_victim_count();
  bytes.clear();
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    without_etag.SerializeToCodedStream(&coded);
  }
  EXPECT_NE(HexEncode(Sha256(bytes)).substr(0, 20), full->etag());
  // Every reader sees the same etag: it is the version, not a view.
  auto council = As(kCityCouncil).Get(a.name());
  ASSERT_TRUE(council.ok());
  EXPECT_EQ(council->etag(), a.etag());
}

// 2. A retry is answered under today's agreement and consent.
TEST_F(SideChannelTest, RetriesAfterAConsentWithdrawalDiscloseNoMoreThanAFreshRead) {
  v1::Referral input = ValidReferral(kCityCouncil);
  input.mutable_victim()->set_vulnerability_notes(kHealthCanary);
  auto police = server_->Client(kPolice);
  auto council = server_->Client(kCityCouncil);
  auto created = police.CreateReferral(input, "create-retry");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->victim().vulnerability_notes(), kHealthCanary);

  // While the victim consents, the council accepts and notes its contact.
  v1::AcceptReferralRequest accept;
  accept.set_name(created->name());
  accept.set_etag(created->etag());
  accept.set_request_id("accept-retry");
  auto accepted = council.AcceptReferral(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->victim().given_name(), "Sam");
  v1::AddCaseUpdateRequest contact;
  contact.set_parent(created->name());
  contact.set_etag(accepted->etag());
  contact.set_request_id("contact-retry");
  contact.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_MADE);
  contact.mutable_update()->set_text("Spoke to Sam on 07700 900123");
  auto noted = council.AddCaseUpdate(contact);
  ASSERT_TRUE(noted.ok()) << noted.status();
  EXPECT_FALSE(noted->text().empty());

  // The victim withdraws consent; sharing continues under s115 only.
  auto now = police.GetReferral(created->name());
  ASSERT_TRUE(now.ok());
  v1::AddCaseUpdateRequest withdraw;
  withdraw.set_parent(created->name());
  withdraw.set_etag(now->etag());
  withdraw.set_request_id("withdraw");
  withdraw.mutable_update()->set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  withdraw.mutable_update()->mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  withdraw.mutable_update()->mutable_consent()->set_lawful_basis("cda-1998-s115");
  ASSERT_TRUE(police.AddCaseUpdate(withdraw).ok());

  // Each retry gets its first result, trimmed as a read now is trimmed.
  auto fresh = council.GetReferral(created->name());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->victim().given_name(), "");
  auto retried = council.AcceptReferral(accept);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->state(), v1::Referral::ACCEPTED);
  EXPECT_EQ(retried->victim().given_name(), "");
  EXPECT_EQ(retried->incident_narrative(), "");
  const std::set<int> fresh_classes = ClassesOf(*fresh), retried_classes = ClassesOf(*retried);
  EXPECT_TRUE(std::includes(fresh_classes.begin(), fresh_classes.end(), retried_classes.begin(),
                            retried_classes.end()));
  ExpectAuditMatches("AcceptReferral", kCityCouncil, *retried);
  EXPECT_EQ(LastEvent("AcceptReferral", kCityCouncil).reason(), "REPLAYED");

  auto renoted = council.AddCaseUpdate(contact);
  ASSERT_TRUE(renoted.ok()) << renoted.status();
  EXPECT_EQ(renoted->name(), noted->name());
  EXPECT_EQ(renoted->text(), "");  // contact notes: with consent only, for a council
  ExpectAuditMatches("AddCaseUpdate", kCityCouncil, *renoted);

  // The police's create retry: health notes are not shared with them
  // without consent, so the retry does not return them either.
  auto recreated = police.CreateReferral(input, "create-retry");
  ASSERT_TRUE(recreated.ok()) << recreated.status();
  EXPECT_EQ(recreated->name(), created->name());
  EXPECT_EQ(recreated->victim().vulnerability_notes(), "");
  ExpectAuditMatches("CreateReferral", kPolice, *recreated);
  EXPECT_EQ(LastEvent("CreateReferral", kPolice).reason(), "REPLAYED");
}

// 3. The audit event records exactly the data classes in the bytes returned,
// for every RPC that returns referral data.
TEST_F(SideChannelTest, EveryAnswerIsAuditedWithExactlyTheClassesItCarries) {
  auto police = server_->Client(kPolice);
  auto council = server_->Client(kCityCouncil);
  v1::Referral input = ValidReferral(kCityCouncil);
  input.mutable_victim()->set_vulnerability_notes(kHealthCanary);
  input.add_subjects()->set_name("CANARY-SUBJECT");
  input.set_police_crime_reference("LP-1");
  input.set_risk_level(v1::RISK_LEVEL_HIGH);
  auto created = police.CreateReferral(input, "audit-create");
  ASSERT_TRUE(created.ok()) << created.status();
  ExpectAuditMatches("CreateReferral", kPolice, *created);

  auto got = council.GetReferral(created->name());
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->subjects().empty());  // not shared with councils
  ExpectAuditMatches("GetReferral", kCityCouncil, *got);

  auto listed = council.ListReferrals(v1::ListReferralsRequest());
  ASSERT_TRUE(listed.ok());
  ExpectAuditMatches("ListReferrals", kCityCouncil, *listed);

  // Watch the council's queue from here on.
  std::vector<v1::WatchReferralsResponse> events;
  absl::Notification subscribed;
  WatchCancellation cancel;
  std::thread watcher([&] {
    v1::WatchReferralsRequest watch;
    watch.set_start_at_head(true);
    council
        .Watch(
            watch,
            [&](const v1::WatchReferralsResponse& e) {
              if (e.kind() == v1::WatchReferralsResponse::SUBSCRIBED) {
                subscribed.Notify();
                return true;
              }
              events.push_back(e);
              return false;
            },
            &cancel)
        .IgnoreError();
  });
  ASSERT_TRUE(subscribed.WaitForNotificationWithTimeout(absl::Seconds(10)));

  v1::AcceptReferralRequest accept;
  accept.set_name(created->name());
  accept.set_etag(got->etag());
  accept.set_request_id("audit-accept");
  auto accepted = council.AcceptReferral(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ExpectAuditMatches("AcceptReferral", kCityCouncil, *accepted);
  watcher.join();
  ASSERT_EQ(events.size(), 1u);
  ExpectAuditMatches("WatchReferrals", kCityCouncil, events[0]);

  v1::StartReferralRequest start;
  start.set_name(created->name());
  start.set_etag(accepted->etag());
  start.set_request_id("audit-start");
  auto started = council.StartReferral(start);
  ASSERT_TRUE(started.ok()) << started.status();
  ExpectAuditMatches("StartReferral", kCityCouncil, *started);

  v1::AddCaseUpdateRequest add;
  add.set_parent(created->name());
  add.set_etag(started->etag());
  add.set_request_id("audit-update");
  add.mutable_update()->set_kind(v1::CaseUpdate::NEEDS_ASSESSMENT);
  add.mutable_update()->set_text("Needs a ground-floor meeting room");
  auto added = council.AddCaseUpdate(add);
  ASSERT_TRUE(added.ok()) << added.status();
  ExpectAuditMatches("AddCaseUpdate", kCityCouncil, *added);

  v1::ListCaseUpdatesRequest updates;
  updates.set_parent(created->name());
  auto page = police.ListCaseUpdates(updates);
  ASSERT_TRUE(page.ok());
  ExpectAuditMatches("ListCaseUpdates", kPolice, *page);

  auto latest = council.GetReferral(created->name());
  ASSERT_TRUE(latest.ok());
  v1::CompleteReferralRequest complete;
  complete.set_name(created->name());
  complete.set_etag(latest->etag());
  complete.set_request_id("audit-complete");
  complete.set_outcome(v1::OUTCOME_SUPPORTED);
  complete.set_note("Closed after support");
  auto completed = council.CompleteReferral(complete);
  ASSERT_TRUE(completed.ok()) << completed.status();
  ExpectAuditMatches("CompleteReferral", kCityCouncil, *completed);

  v1::ReopenReferralRequest reopen;
  reopen.set_name(created->name());
  reopen.set_etag(completed->etag());
  reopen.set_request_id("audit-reopen");
  reopen.set_reason("New evidence");
  auto reopened = police.ReopenReferral(reopen);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ExpectAuditMatches("ReopenReferral", kPolice, *reopened);

  // Decline, redirect and cancel, on referrals of their own.
  auto second = police.CreateReferral(ValidReferral(kCityCouncil), "audit-second");
  ASSERT_TRUE(second.ok());
  v1::DeclineReferralRequest decline;
  decline.set_name(second->name());
  decline.set_etag(second->etag());
  decline.set_request_id("audit-decline");
  decline.set_reason(v1::DECLINE_REASON_OUT_OF_AREA);
  auto declined = council.DeclineReferral(decline);
  ASSERT_TRUE(declined.ok()) << declined.status();
  ExpectAuditMatches("DeclineReferral", kCityCouncil, *declined);

  auto third = police.CreateReferral(ValidReferral(kCityCouncil), "audit-third");
  ASSERT_TRUE(third.ok());
  v1::RedirectReferralRequest redirect;
  redirect.set_name(third->name());
  redirect.set_etag(third->etag());
  redirect.set_request_id("audit-redirect");
  redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
  auto redirected = council.RedirectReferral(redirect);
  ASSERT_TRUE(redirected.ok()) << redirected.status();
  ExpectAuditMatches("RedirectReferral", kCityCouncil, *redirected);

  v1::CancelReferralRequest cancel_request;
  cancel_request.set_name(third->name());
  cancel_request.set_etag(redirected->etag());
  cancel_request.set_request_id("audit-cancel");
  cancel_request.set_reason("Sent in error");
  auto cancelled = police.CancelReferral(cancel_request);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  ExpectAuditMatches("CancelReferral", kPolice, *cancelled);
}

// 4. The repeat-victim count is an agreement decision, and every disclosure
// of it is audited as derived from other referrals.
TEST_F(SideChannelTest, OnlyGrantedRolesLearnTheRepeatVictimCount) {
  v1::Referral victim = ValidReferral(kCityCouncil);
  victim.mutable_victim()->set_phone("07700 900321");
  const v1::Referral first = Create(kPolice, victim);
  ASSERT_TRUE(first.has_repeat_victim_count());  // police: granted
  EXPECT_EQ(first.repeat_victim_count(), 0);
  ExpectAuditMatches("CreateReferral", kPolice, first);
  EXPECT_EQ(DerivedOf(LastEvent("CreateReferral", kPolice)), std::vector<std::string>({"repeat_victim_count"}));

  // The NHS partnership refers the same victim: its own create does not
  // tell it that the police know the victim.
  const v1::Referral second = Create(kHealth, victim);
  EXPECT_FALSE(second.has_repeat_victim_count());
  ExpectAuditMatches("CreateReferral", kHealth, second);
  EXPECT_THAT(LastEvent("CreateReferral", kHealth).derived(), IsEmpty());
  auto own = As(kHealth).Get(second.name());
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->has_repeat_victim_count());

  // The council, a recipient granted the count, reads it, and the read is
  // audited as a disclosure of a value derived from other referrals.
  auto council = As(kCityCouncil).Get(second.name());
  ASSERT_TRUE(council.ok()) << council.status();
  ASSERT_TRUE(council->has_repeat_victim_count());
  EXPECT_EQ(council->repeat_victim_count(), 1);
  ExpectAuditMatches("GetReferral", kCityCouncil, *council);
  EXPECT_EQ(DerivedOf(LastEvent("GetReferral", kCityCouncil)), std::vector<std::string>({"repeat_victim_count"}));
}

// 6. Output-only fields cannot be written: every field the schema marks
// OUTPUT_ONLY, set on create to a value of the sender's choosing, is ignored.
TEST_F(SideChannelTest, EveryOutputOnlyFieldSetOnCreateHasNoEffect) {
  const auto* descriptor = v1::Referral::descriptor();
  int checked = 0;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    bool output_only = false;
    for (int b = 0; b < field->options().ExtensionSize(google::api::field_behavior); ++b) {
      output_only = output_only ||
                    field->options().GetExtension(google::api::field_behavior, b) == google::api::OUTPUT_ONLY;
    }
    if (!output_only) continue;
    SCOPED_TRACE(field->name());
    ++checked;
    v1::Referral forged = ValidReferral(kCityCouncil);
    const auto* reflection = forged.GetReflection();
    // A value no server would assign: an agency that is no party, a far-off
    // time, a final state, a large count.
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        if (field->is_repeated()) {
          reflection->AddString(&forged, field, absl::StrCat("agencies/", kBlaby));
        } else {
          reflection->SetString(&forged, field, absl::StrCat("agencies/", kBlaby));
        }
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
        reflection->SetEnumValue(&forged, field, field->enum_type()->value(field->enum_type()->value_count() - 1)->number());
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        reflection->SetInt32(&forged, field, 99);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE: {
        google::protobuf::Timestamp far;
        far.set_seconds(4102444800);  // 2100-01-01
        reflection->MutableMessage(&forged, field)->CopyFrom(far);
        break;
      }
      default:
        ADD_FAILURE() << "no forged value for this type";
        continue;
    }
    const std::string forged_bytes = [&] {
      v1::Referral only;
      std::vector<const google::protobuf::FieldDescriptor*> one = {field};
      only.GetReflection()->SwapFields(&forged, &only, one);
      std::string bytes = only.SerializeAsString();
      only.GetReflection()->SwapFields(&forged, &only, one);
      return bytes;
    }();
    const v1::Referral created = Create(kPolice, forged);
    auto read = As(kCityCouncil).Get(created.name());
    ASSERT_TRUE(read.ok()) << read.status();
    for (const v1::Referral* r : std::vector<const v1::Referral*>{&created, &*read}) {
      v1::Referral only;
      std::vector<const google::protobuf::FieldDescriptor*> one = {field};
      v1::Referral copy = *r;
      copy.GetReflection()->SwapFields(&copy, &only, one);
      EXPECT_NE(only.SerializeAsString(), forged_bytes) << r->DebugString();
    }
    // The council (a recipient) can act on it: it is no one's but the
    // server's to say who owns it.
    EXPECT_EQ(read->owner_agency(), "");
    EXPECT_EQ(read->state(), v1::Referral::REQUESTED);
  }
  EXPECT_GE(checked, 12);
}

}  // namespace
}  // namespace refx::testing
