// Case updates end to end over real mTLS and a real SQLite file: two
// agencies adding to and reading one case record; every refusal (non-party,
// invalid input, stale etag, reused request id, fields the role may not
// write, a party that redirected the referral away); redaction of each
// update for its reader; a consent withdrawal that changes what later reads
// disclose; one audit event per call; and no update text in logs or errors.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_fixture.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = v1::CaseUpdate::Kind;

constexpr char kRutland[] = "rutland-county-council";  // never a party
constexpr char kPrevent[] = "llr-prevent";
constexpr char kCanary[] = "CANARY-5e1d-UPDATE";

class CaseUpdatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  v1::Referral Create(const v1::Referral& r = ValidReferral()) {
    auto created = server_->Client(kPolice).CreateReferral(r, NextId());
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Referral();
  }

  std::string EtagOf(const std::string& agency, const std::string& name) {
    auto got = server_->Client(agency).GetReferral(name);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? got->etag() : "";
  }

  static v1::CaseUpdate Note(Kind kind, const std::string& text) {
    v1::CaseUpdate u;
    u.set_kind(kind);
    u.set_text(text);
    return u;
  }

  absl::StatusOr<v1::CaseUpdate> Add(const std::string& agency, const std::string& parent, const std::string& etag,
                                     const v1::CaseUpdate& update, const std::string& request_id) {
    v1::AddCaseUpdateRequest r;
    r.set_parent(parent);
    r.set_etag(etag);
    r.set_request_id(request_id);
    *r.mutable_update() = update;
    return server_->Client(agency).AddCaseUpdate(r);
  }

  // Adds with the referral's current etag, as `agency` last read it.
  absl::StatusOr<v1::CaseUpdate> AddNow(const std::string& agency, const std::string& parent,
                                        const v1::CaseUpdate& update) {
    return Add(agency, parent, EtagOf(agency, parent), update, NextId());
  }

  absl::StatusOr<v1::ListCaseUpdatesResponse> List(const std::string& agency, const std::string& parent,
                                                   int page_size = 0, const std::string& token = "") {
    v1::ListCaseUpdatesRequest r;
    r.set_parent(parent);
    r.set_page_size(page_size);
    r.set_page_token(token);
    return server_->Client(agency).ListCaseUpdates(r);
  }

  std::string NextId() { return absl::StrCat("upd-", ++ids_); }

  int64_t Count(const std::string& table, const std::string& where) {
    return TestDatabase(server_->config().storage()).Int(absl::StrCat("SELECT count(*) FROM ", table, " WHERE ", where));
  }

  std::unique_ptr<TestServer> server_;
  int ids_ = 0;
};

TEST_F(CaseUpdatesTest, TwoAgenciesAddToOneCaseRecordAndReadItOldestFirst) {
  const v1::Referral referral = Create();
  auto first = Add(kPolice, referral.name(), referral.etag(), Note(v1::CaseUpdate::CONTACT_ATTEMPT, "No answer"),
                   NextId());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::StartsWith(first->name(), referral.name() + "/updates/")) << first->name();
  EXPECT_EQ(first->author_agency(), absl::StrCat("agencies/", kPolice));
  EXPECT_EQ(first->kind(), v1::CaseUpdate::CONTACT_ATTEMPT);
  EXPECT_EQ(first->text(), "No answer");
  EXPECT_TRUE(first->has_create_time());

  // The referral's etag and update_time moved: the etag is the token.
  auto after = server_->Client(kCityCouncil).GetReferral(referral.name());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->etag(), referral.etag());
  EXPECT_GE(after->update_time().seconds(), referral.update_time().seconds());
  EXPECT_EQ(after->state(), v1::Referral::REQUESTED);  // an update is no transition

  auto second = Add(kCityCouncil, referral.name(), after->etag(),
                    Note(v1::CaseUpdate::CONTACT_MADE, "Spoke to the victim"), NextId());
  ASSERT_TRUE(second.ok()) << second.status();

  for (const char* agency : {kPolice, kCityCouncil}) {
    SCOPED_TRACE(agency);
    auto page = List(agency, referral.name());
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->updates_size(), 2);
    EXPECT_EQ(page->updates(0).name(), first->name());
    EXPECT_EQ(page->updates(0).text(), "No answer");
    EXPECT_EQ(page->updates(1).name(), second->name());
    EXPECT_EQ(page->updates(1).author_agency(), absl::StrCat("agencies/", kCityCouncil));
    EXPECT_TRUE(page->next_page_token().empty());
  }
}

TEST_F(CaseUpdatesTest, ACorrectionSupersedesWithoutOverwriting) {
  const v1::Referral referral = Create();
  auto wrong = AddNow(kPolice, referral.name(), Note(v1::CaseUpdate::SAFETY_PLAN, "Plan agreed on Monday"));
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  v1::CaseUpdate correction = Note(v1::CaseUpdate::CORRECTION, "Plan agreed on Tuesday");
  correction.set_supersedes(wrong->name());
  auto fixed = AddNow(kCityCouncil, referral.name(), correction);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->supersedes(), wrong->name());
  auto page = List(kPolice, referral.name());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->updates_size(), 2);
  EXPECT_EQ(page->updates(0).SerializeAsString(), wrong->SerializeAsString());  // untouched
  EXPECT_EQ(page->updates(1).supersedes(), wrong->name());
}

TEST_F(CaseUpdatesTest, PagesFollowEachOtherAndTokensBelongToTheirReferral) {
  const v1::Referral referral = Create();
  const v1::Referral other = Create();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(AddNow(kPolice, referral.name(), Note(v1::CaseUpdate::CONTACT_ATTEMPT, absl::StrCat("try ", i))).ok());
  }
  auto one = List(kPolice, referral.name(), 2);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->updates_size(), 2);
  ASSERT_FALSE(one->next_page_token().empty());
  auto two = List(kPolice, referral.name(), 2, one->next_page_token());
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->updates_size(), 1);
  EXPECT_EQ(two->updates(0).text(), "try 2");
  EXPECT_TRUE(two->next_page_token().empty());
  auto foreign = List(kPolice, other.name(), 2, one->next_page_token());
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(foreign.status()).at(0).field, "page_token");
}

TEST_F(CaseUpdatesTest, ANonPartyGetsExactlyTheNotFoundOfAMissingReferral) {
  const v1::Referral referral = Create();
  const std::string missing = "referrals/0123456789abcdef0123456789abcdef";
  const v1::CaseUpdate note = Note(v1::CaseUpdate::CONTACT_ATTEMPT, "x");
  auto same = [&](const absl::Status& a, const absl::Status& b) {
    EXPECT_EQ(a.code(), absl::StatusCode::kNotFound) << a;
    EXPECT_EQ(a.code(), b.code());
    EXPECT_EQ(absl::StrReplaceAll(a.message(), {{referral.name(), "X"}}),
              absl::StrReplaceAll(b.message(), {{missing, "X"}}));
    EXPECT_EQ(ErrorReasonOf(a), ErrorReasonOf(b));
  };
  same(Add(kRutland, referral.name(), referral.etag(), note, NextId()).status(),
       Add(kRutland, missing, referral.etag(), note, NextId()).status());
  same(List(kRutland, referral.name()).status(), List(kRutland, missing).status());
  // And nothing was added.
  auto page = List(kPolice, referral.name());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->updates_size(), 0);
}

TEST_F(CaseUpdatesTest, InvalidInputIsRefusedWithTheFieldNamed) {
  const v1::Referral referral = Create();
  const v1::Referral other = Create();
  auto theirs = AddNow(kPolice, other.name(), Note(v1::CaseUpdate::CONTACT_ATTEMPT, "other case"));
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  const std::string etag = EtagOf(kPolice, referral.name());

  struct Case {
    const char* what;
    std::string parent;
    v1::CaseUpdate update;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({"missing kind", referral.name(), Note(v1::CaseUpdate::KIND_UNSPECIFIED, "x"), "update.kind"});
  cases.push_back({"correction without supersedes", referral.name(), Note(v1::CaseUpdate::CORRECTION, "x"),
                   "update.supersedes"});
  {
    v1::CaseUpdate u = Note(v1::CaseUpdate::CORRECTION, "x");
    u.set_supersedes(theirs->name());
    cases.push_back({"supersedes another referral's update", referral.name(), u, "update.supersedes"});
  }
  {
    v1::CaseUpdate u = Note(v1::CaseUpdate::CORRECTION, "x");
    u.set_supersedes(absl::StrCat(referral.name(), "/updates/0123456789abcdef0123456789abcdef"));
    cases.push_back({"supersedes a missing update", referral.name(), u, "update.supersedes"});
  }
  {
    v1::CaseUpdate u = Note(v1::CaseUpdate::CONTACT_MADE, "x");
    u.set_supersedes(theirs->name());
    cases.push_back({"supersedes on a non-correction", referral.name(), u, "update.supersedes"});
  }
  cases.push_back({"text too long", referral.name(),
                   Note(v1::CaseUpdate::CONTACT_MADE, std::string(4097, 'a')), "update.text"});
  cases.push_back({"text missing", referral.name(), Note(v1::CaseUpdate::CONTACT_MADE, ""), "update.text"});
  cases.push_back({"bad parent", "referrals/nope", Note(v1::CaseUpdate::CONTACT_MADE, "x"), "parent"});
  cases.push_back({"consent change without consent", referral.name(), Note(v1::CaseUpdate::CONSENT_CHANGE, ""),
                   "update.consent"});
  cases.push_back({"police outcome without reference", referral.name(),
                   Note(v1::CaseUpdate::POLICE_OUTCOME_REFERENCE, ""), "update.police_reference"});
  {
    v1::CaseUpdate u = Note(v1::CaseUpdate::CONSENT_CHANGE, "");
    u.mutable_consent()->set_status(v1::Consent::WITHDRAWN);
    cases.push_back({"withdrawal without lawful basis", referral.name(), u, "update.consent.lawful_basis"});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto got = Add(kPolice, c.parent, etag, c.update, NextId());
    ASSERT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
    std::vector<std::string> fields;
    for (const auto& v : FieldViolationsOf(got.status())) fields.push_back(v.field);
    EXPECT_THAT(fields, ::testing::Contains(c.field));
  }
  auto page = List(kPolice, referral.name());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->updates_size(), 0);
  EXPECT_EQ(EtagOf(kPolice, referral.name()), etag);
}

TEST_F(CaseUpdatesTest, AStaleEtagIsAbortedAndRetriesReturnTheFirstResult) {
  const v1::Referral referral = Create();
  const v1::CaseUpdate note = Note(v1::CaseUpdate::NEEDS_ASSESSMENT, "Needs an interpreter");
  auto first = Add(kPolice, referral.name(), referral.etag(), note, "same-id");
  ASSERT_TRUE(first.ok()) << first.status();

  // The etag it was made from is stale now.
  auto stale = Add(kCityCouncil, referral.name(), referral.etag(), Note(v1::CaseUpdate::CONTACT_MADE, "y"), NextId());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_EQ(ErrorReasonOf(stale.status()), "ETAG_MISMATCH");

  // A retry (stale etag by design) returns the very same bytes, adds nothing.
  auto again = Add(kPolice, referral.name(), referral.etag(), note, "same-id");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  auto page = List(kPolice, referral.name());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->updates_size(), 1);

  // The same id with different content is refused.
  auto other = Add(kPolice, referral.name(), referral.etag(), Note(v1::CaseUpdate::NEEDS_ASSESSMENT, "changed"),
                   "same-id");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument) << other.status();
  EXPECT_EQ(FieldViolationsOf(other.status()).at(0).field, "request_id");

  // Request ids are one namespace with the lifecycle verbs.
  v1::AcceptReferralRequest accept;
  accept.set_name(referral.name());
  accept.set_etag(EtagOf(kCityCouncil, referral.name()));
  accept.set_request_id("accept-id");
  ASSERT_TRUE(server_->Client(kCityCouncil).AcceptReferral(accept).ok());
  auto clash = Add(kCityCouncil, referral.name(), EtagOf(kCityCouncil, referral.name()), note, "accept-id");
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kInvalidArgument) << clash.status();
}

TEST_F(CaseUpdatesTest, ContentTheRoleMayNotWriteIsRefusedByName) {
  const v1::Referral referral = Create();
  v1::CaseUpdate outcome;
  outcome.set_kind(v1::CaseUpdate::POLICE_OUTCOME_REFERENCE);
  outcome.set_police_reference("LP-2024-0001");
  // A council (community_safety) may not write police crime data.
  auto got = AddNow(kCityCouncil, referral.name(), outcome);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << got.status();
  EXPECT_EQ(ErrorReasonOf(got.status()), "FIELD_NOT_WRITABLE");
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("update.police_reference"));
  EXPECT_THAT(std::string(got.status().message()), Not(HasSubstr("LP-2024-0001")));
  // The police may.
  EXPECT_TRUE(AddNow(kPolice, referral.name(), outcome).ok());
}

TEST_F(CaseUpdatesTest, EachReaderGetsEachUpdateTrimmedToWhatItMayRead) {
  const v1::Referral referral = Create();
  v1::CaseUpdate outcome;
  outcome.set_kind(v1::CaseUpdate::POLICE_OUTCOME_REFERENCE);
  outcome.set_police_reference("LP-2024-0002");
  outcome.set_text("Charged");
  ASSERT_TRUE(AddNow(kPolice, referral.name(), outcome).ok());
  auto police = List(kPolice, referral.name());
  auto council = List(kCityCouncil, referral.name());
  ASSERT_TRUE(police.ok() && council.ok());
  EXPECT_EQ(police->updates(0).police_reference(), "LP-2024-0002");
  EXPECT_EQ(council->updates(0).police_reference(), "");  // crime data: not shared with councils
  EXPECT_EQ(council->updates(0).kind(), v1::CaseUpdate::POLICE_OUTCOME_REFERENCE);
  // The note of a police outcome is crime data too (its kind's class).
  EXPECT_EQ(police->updates(0).text(), "Charged");
  EXPECT_EQ(council->updates(0).text(), "");

  // A Prevent lead, with no consent, does not read safeguarding notes.
  v1::Referral prevent = ValidReferral(kPrevent);
  prevent.set_prevent_concern(true);
  prevent.mutable_victim()->mutable_consent()->set_status(v1::Consent::REFUSED);
  prevent.mutable_victim()->mutable_consent()->set_lawful_basis("ctsa-2015-s38");
  const v1::Referral p = Create(prevent);
  ASSERT_TRUE(AddNow(kPolice, p.name(), Note(v1::CaseUpdate::RISK_ASSESSMENT, "High risk at home")).ok());
  auto lead = List(kPrevent, p.name());
  ASSERT_TRUE(lead.ok()) << lead.status();
  ASSERT_EQ(lead->updates_size(), 1);
  EXPECT_EQ(lead->updates(0).text(), "");
  EXPECT_EQ(lead->updates(0).kind(), v1::CaseUpdate::RISK_ASSESSMENT);
}

// A note's text has the class of what its kind records: a police note on
// perpetrator action naming a suspect is subject data, which the agreement
// does not share with councils or the NHS partnership, though both read
// safeguarding notes; the Prevent lead, which reads subject data, gets it.
TEST_F(CaseUpdatesTest, APerpetratorActionNoteReachesOnlyReadersOfSubjectData) {
  constexpr char kSuspectCanary[] = "CANARY-SUSPECT-7f3a arrested at home";
  constexpr char kHealth[] = "nhs-hate-crime-healthcare-partnership";
  v1::Referral input = ValidReferral(kCityCouncil);
  input.add_recipient_agencies(absl::StrCat("agencies/", kHealth));
  input.add_recipient_agencies(absl::StrCat("agencies/", kPrevent));
  input.set_prevent_concern(true);
  const v1::Referral referral = Create(input);
  auto added = AddNow(kPolice, referral.name(), Note(v1::CaseUpdate::PERPETRATOR_ACTION, kSuspectCanary));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->text(), kSuspectCanary);  // the police author reads subject data
  ASSERT_TRUE(AddNow(kPolice, referral.name(), Note(v1::CaseUpdate::SAFETY_PLAN, "Panic alarm fitted")).ok());

  for (const char* reader : {kCityCouncil, kHealth}) {
    SCOPED_TRACE(reader);
    auto page = List(reader, referral.name());
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->updates_size(), 2);
    EXPECT_EQ(page->updates(0).kind(), v1::CaseUpdate::PERPETRATOR_ACTION);  // a routing fact
    EXPECT_EQ(page->updates(0).text(), "");
    EXPECT_EQ(page->updates(1).text(), "Panic alarm fitted");  // safeguarding: shared
    EXPECT_EQ(page->DebugString().find("CANARY-SUSPECT"), std::string::npos);
    // Watchers get the same trim (a replay from the start of the log).
    int updates_seen = 0;
    absl::Status watched = server_->Client(reader).Watch(
        v1::WatchReferralsRequest(), [&](const v1::WatchReferralsResponse& event) {
          if (event.kind() == v1::WatchReferralsResponse::CASE_UPDATE_ADDED &&
              event.referral().name() == referral.name()) {
            EXPECT_EQ(event.DebugString().find("CANARY-SUSPECT"), std::string::npos);
            ++updates_seen;
          }
          return updates_seen < 2;
        });
    EXPECT_TRUE(watched.ok()) << watched;
    EXPECT_EQ(updates_seen, 2);
  }
  auto prevent = List(kPrevent, referral.name());
  ASSERT_TRUE(prevent.ok()) << prevent.status();
  EXPECT_EQ(prevent->updates(0).text(), kSuspectCanary);

  // A correction of that note is subject data as well.
  v1::CaseUpdate correction = Note(v1::CaseUpdate::CORRECTION, "CANARY-SUSPECT-7f3a released without charge");
  correction.set_supersedes(added->name());
  auto corrected = AddNow(kPolice, referral.name(), correction);
  ASSERT_TRUE(corrected.ok()) << corrected.status();
  EXPECT_EQ(corrected->supersedes_kind(), v1::CaseUpdate::PERPETRATOR_ACTION);
  auto council = List(kCityCouncil, referral.name());
  ASSERT_TRUE(council.ok());
  ASSERT_EQ(council->updates_size(), 3);
  EXPECT_EQ(council->updates(2).text(), "");
  EXPECT_EQ(council->DebugString().find("CANARY-SUSPECT"), std::string::npos);

  // And a council may not write one: it may not write subject data.
  auto refused = AddNow(kCityCouncil, referral.name(), Note(v1::CaseUpdate::PERPETRATOR_ACTION, "seen again"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  // Nor write subject data by "correcting" the police note: a correction
  // needs the class of what it corrects.
  v1::CaseUpdate sneaky = Note(v1::CaseUpdate::CORRECTION, "CANARY-SUSPECT-7f3a lives at 1 High St");
  sneaky.set_supersedes(added->name());
  auto sneaked = AddNow(kCityCouncil, referral.name(), sneaky);
  EXPECT_EQ(sneaked.status().code(), absl::StatusCode::kPermissionDenied) << sneaked.status();
  EXPECT_EQ(ErrorReasonOf(sneaked.status()), "FIELD_NOT_WRITABLE");
}

TEST_F(CaseUpdatesTest, WithdrawingConsentChangesWhatTheNextReadDiscloses) {
  const v1::Referral referral = Create();
  auto before = server_->Client(kCityCouncil).GetReferral(referral.name());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->victim().given_name(), "Sam");
  EXPECT_FALSE(before->incident_narrative().empty());

  v1::CaseUpdate change;
  change.set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  change.mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  change.mutable_consent()->set_lawful_basis("cda-1998-s115");
  auto added = AddNow(kCityCouncil, referral.name(), change);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->consent().status(), v1::Consent::WITHDRAWN);
  EXPECT_TRUE(added->consent().has_record_time());

  auto after = server_->Client(kCityCouncil).GetReferral(referral.name());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->victim().consent().status(), v1::Consent::WITHDRAWN);
  EXPECT_EQ(after->victim().given_name(), "");         // identity: with consent only
  EXPECT_EQ(after->incident_narrative(), "");          // narrative: with consent only
  EXPECT_EQ(after->strands_size(), referral.strands_size());  // still shared under s115
  auto police = server_->Client(kPolice).GetReferral(referral.name());
  ASSERT_TRUE(police.ok());
  EXPECT_EQ(police->victim().given_name(), "Sam");  // police read identity under s115
}

TEST_F(CaseUpdatesTest, OnlyTheSenderMayRecordAConsentChangeThatSharesMore) {
  // The police refer a victim who did not consent, under s115.
  v1::Referral input = ValidReferral(kCityCouncil);
  input.mutable_victim()->mutable_consent()->set_status(v1::Consent::REFUSED);
  input.mutable_victim()->mutable_consent()->set_lawful_basis("cda-1998-s115");
  auto created = server_->Client(kPolice).CreateReferral(input, NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  auto before = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->victim().given_name(), "");  // the council reads no identity without consent

  // The council cannot "record" consent to read more.
  v1::CaseUpdate given;
  given.set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  given.mutable_consent()->set_status(v1::Consent::GIVEN);
  auto refused = AddNow(kCityCouncil, created->name(), given);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "CONSENT_WIDENING_NOT_PERMITTED");
  auto still = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->victim().given_name(), "");
  EXPECT_EQ(still->victim().consent().status(), v1::Consent::REFUSED);

  // The sender, which records the victim's consent, may.
  auto recorded = AddNow(kPolice, created->name(), given);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  auto after = server_->Client(kCityCouncil).GetReferral(created->name());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->victim().given_name(), input.victim().given_name());
}

TEST_F(CaseUpdatesTest, APartyThatRedirectedItAwayReadsButNoLongerAdds) {
  const v1::Referral referral = Create();
  v1::RedirectReferralRequest redirect;
  redirect.set_name(referral.name());
  redirect.set_etag(referral.etag());
  redirect.set_request_id(NextId());
  redirect.set_target_agency(absl::StrCat("agencies/", kBlaby));
  ASSERT_TRUE(server_->Client(kCityCouncil).RedirectReferral(redirect).ok());
  auto refused = AddNow(kCityCouncil, referral.name(), Note(v1::CaseUpdate::CONTACT_ATTEMPT, "x"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_EQ(ErrorReasonOf(refused.status()), "NOT_ACTING_PARTY");
  EXPECT_TRUE(List(kCityCouncil, referral.name()).ok());
  EXPECT_TRUE(AddNow(kBlaby, referral.name(), Note(v1::CaseUpdate::CONTACT_ATTEMPT, "x")).ok());
}

TEST_F(CaseUpdatesTest, EveryCallWritesExactlyOneAuditEvent) {
  const v1::Referral referral = Create();
  const std::string add = "method = 'refx.v1.ReferralService.AddCaseUpdate'";
  const std::string list = "method = 'refx.v1.ReferralService.ListCaseUpdates'";
  const std::string etag = EtagOf(kPolice, referral.name());
  auto ok = Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_ATTEMPT, "a"), "audit-1");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(Count("audit_events", add), 1);
  EXPECT_EQ(Count("audit_events", absl::StrCat(add, " AND action = 'ALTERATION' AND outcome = 'OK'")), 1);
  ASSERT_TRUE(Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_ATTEMPT, "a"), "audit-1").ok());
  EXPECT_EQ(Count("audit_events", add), 2);  // the retry
  EXPECT_FALSE(Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, "b"), NextId()).ok());
  EXPECT_EQ(Count("audit_events", add), 3);
  EXPECT_EQ(Count("audit_events", absl::StrCat(add, " AND outcome = 'ABORTED'")), 1);
  EXPECT_FALSE(Add(kRutland, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, "b"), NextId()).ok());
  EXPECT_EQ(Count("audit_events", add), 4);

  ASSERT_TRUE(List(kCityCouncil, referral.name()).ok());
  EXPECT_EQ(Count("audit_events", list), 1);
  EXPECT_EQ(Count("audit_events", absl::StrCat(list, " AND action = 'DISCLOSURE' AND referral_ids = '",
                                               referral.name().substr(10), "'")),
            1);
  ASSERT_TRUE(List(kPolice, referral.name()).ok());  // its own notes only
  EXPECT_EQ(Count("audit_events", absl::StrCat(list, " AND action = 'CONSULTATION'")), 1);
  EXPECT_FALSE(List(kRutland, referral.name()).ok());
  EXPECT_EQ(Count("audit_events", list), 3);
  EXPECT_EQ(Count("case_updates", "1 = 1"), 1);
  // One watch event, written with the update (none for the retry or refusals).
  EXPECT_EQ(Count("referral_events", "kind = 4"), 1);
}

TEST_F(CaseUpdatesTest, UpdateTextNeverReachesLogsErrorsOrTheAuditLog) {
  const v1::Referral referral = Create();
  const std::string text = absl::StrCat("Victim said ", kCanary, " again");
  std::vector<absl::Status> errors;
  ::testing::internal::CaptureStderr();
  const std::string etag = EtagOf(kPolice, referral.name());
  ASSERT_TRUE(Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, text), "canary-1").ok());
  errors.push_back(Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, text), NextId()).status());
  errors.push_back(
      Add(kPolice, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, text + "!"), "canary-1").status());
  errors.push_back(Add(kPolice, referral.name(), etag,
                       Note(v1::CaseUpdate::CONTACT_MADE, text + std::string(5000, 'x')), NextId())
                       .status());
  v1::CaseUpdate bad_ref;
  bad_ref.set_kind(v1::CaseUpdate::POLICE_OUTCOME_REFERENCE);
  bad_ref.set_police_reference(kCanary);
  errors.push_back(AddNow(kCityCouncil, referral.name(), bad_ref).status());
  v1::CaseUpdate bad_basis;
  bad_basis.set_kind(v1::CaseUpdate::CONSENT_CHANGE);
  bad_basis.mutable_consent()->set_status(v1::Consent::WITHDRAWN);
  bad_basis.mutable_consent()->set_lawful_basis(kCanary);
  errors.push_back(AddNow(kPolice, referral.name(), bad_basis).status());
  errors.push_back(Add(kRutland, referral.name(), etag, Note(v1::CaseUpdate::CONTACT_MADE, text), NextId()).status());
  ASSERT_TRUE(List(kCityCouncil, referral.name()).ok());
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(logged, HasSubstr("AddCaseUpdate"));  // logging was on
  EXPECT_THAT(logged, Not(HasSubstr(kCanary)));
  for (const absl::Status& e : errors) {
    EXPECT_FALSE(e.ok());
    EXPECT_THAT(e.ToString(), Not(HasSubstr(kCanary))) << e;
    for (const auto& v : FieldViolationsOf(e)) EXPECT_THAT(v.description, Not(HasSubstr(kCanary)));
  }
  EXPECT_EQ(Count("audit_events", absl::StrCat("referral_ids || data_classes || method || purpose LIKE '%",
                                               kCanary, "%'")),
            0);
  // The canary was really stored (one update, read back whole), and only
  // sealed (encryption at rest): no row holds it in plaintext.
  auto listed = List(kPolice, referral.name());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->updates_size(), 1);
  EXPECT_EQ(listed->updates(0).text(), text);
  EXPECT_EQ(Count("case_updates", "1 = 1"), 1);
  const std::string holds_canary = SuiteBackendIsPostgres()
                                       ? absl::StrCat("position('", kCanary, "'::bytea in document) > 0")
                                       : absl::StrCat("instr(document, '", kCanary, "') > 0");
  EXPECT_EQ(Count("case_updates", holds_canary), 0);
}

}  // namespace
}  // namespace refx::testing
