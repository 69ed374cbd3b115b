// Side channels, as what each answer discloses: a retry is answered under
// today's agreement and consent, every answer's audit event records exactly
// the data classes and derived values in its bytes, and the repeat-victim
// count reaches only the roles granted it. Real mTLS, a real SQLite file,
// the LLR agreement; filters, tokens and etags are in side_channel_test.cc.
#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/side_channel_test_support.h"

namespace refx::testing {
namespace {

using ::testing::IsEmpty;
using client::WatchCancellation;

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

// 7. Data minimisation (issue 16): once the council redirects a referral
// to Blaby, it reads only the routing facts and state of it, on every path,
// and each answer's audit event records just that; Blaby, of the same role,
// reads it whole.
TEST_F(SideChannelTest, AnAgencyThatRedirectedAReferralAwayReadsOnlyItsRoutingFacts) {
  v1::Referral input = ValidReferral(kCityCouncil);
  input.mutable_victim()->set_vulnerability_notes(kHealthCanary);
  auto police = server_->Client(kPolice);
  auto council = server_->Client(kCityCouncil);
  auto created = police.CreateReferral(input, "minimise-create");
  ASSERT_TRUE(created.ok()) << created.status();
  auto before = council.GetReferral(created->name());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->victim().given_name(), "Sam");
  EXPECT_TRUE(before->has_repeat_victim_count());

  // A note while it still acts on the referral.
  v1::AddCaseUpdateRequest note;
  note.set_parent(created->name());
  note.set_etag(before->etag());
  note.set_request_id("minimise-note");
  note.mutable_update()->set_kind(v1::CaseUpdate::CONTACT_MADE);
  note.mutable_update()->set_text("CANARY-NOTE Spoke to Sam on 07700 900123");
  auto noted = council.AddCaseUpdate(note);
  ASSERT_TRUE(noted.ok()) << noted.status();

  auto current = council.GetReferral(created->name());
  ASSERT_TRUE(current.ok());
  v1::RedirectReferralRequest redirect;
  redirect.set_name(created->name());
  redirect.set_etag(current->etag());
  redirect.set_request_id("minimise-redirect");
  redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
  auto redirected = council.RedirectReferral(redirect);
  ASSERT_TRUE(redirected.ok()) << redirected.status();
  ExpectAuditMatches("RedirectReferral", kCityCouncil, *redirected);

  const std::set<int> routing_facts = {v1::DATA_CLASS_REFERRAL_CORE};
  std::string everything_sent = redirected->SerializeAsString();
  auto after = council.GetReferral(created->name());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(ClassesOf(*after), routing_facts) << after->DebugString();
  EXPECT_EQ(after->state(), v1::Referral::REDIRECTED);
  EXPECT_EQ(after->area(), "leicester");
  EXPECT_TRUE(after->victim().given_name().empty());
  EXPECT_TRUE(after->incident_narrative().empty());
  EXPECT_EQ(after->strands_size(), 0);
  EXPECT_FALSE(after->has_repeat_victim_count());
  ExpectAuditMatches("GetReferral", kCityCouncil, *after);
  everything_sent += after->SerializeAsString();

  v1::ListReferralsRequest list;
  list.set_page_size(100);
  auto listed = council.ListReferrals(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(ClassesOf(listed->referrals(0)), routing_facts);
  ExpectAuditMatches("ListReferrals", kCityCouncil, *listed);
  everything_sent += listed->SerializeAsString();
  // A filter on a class it no longer reads passes the referral over.
  list.mutable_filter()->add_strands("race");
  auto filtered = council.ListReferrals(list);
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_EQ(filtered->referrals_size(), 0);

  // Its own note, now about a victim it no longer handles, is withheld too.
  v1::ListCaseUpdatesRequest updates;
  updates.set_parent(created->name());
  auto notes = council.ListCaseUpdates(updates);
  ASSERT_TRUE(notes.ok()) << notes.status();
  ASSERT_EQ(notes->updates_size(), 1);
  EXPECT_TRUE(notes->updates(0).text().empty());
  ExpectAuditMatches("ListCaseUpdates", kCityCouncil, *notes);
  everything_sent += notes->SerializeAsString();

  for (const std::string canary : {"Sam", "Example", "CANARY-NOTE", "CANARY-HEALTH", "bus stop", "race"}) {
    EXPECT_EQ(everything_sent.find(canary), std::string::npos) << canary;
  }

  // The agency now acting on it, of the same role, reads it whole.
  auto blaby = server_->Client(kBlaby).GetReferral(created->name());
  ASSERT_TRUE(blaby.ok()) << blaby.status();
  EXPECT_EQ(blaby->victim().given_name(), "Sam");
  EXPECT_FALSE(blaby->incident_narrative().empty());
}

}  // namespace
}  // namespace refx::testing
