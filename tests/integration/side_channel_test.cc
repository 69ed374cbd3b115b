// Side channels, tried as a partner agency with a valid certificate would:
// nothing the agreement withholds from a caller can be learnt from what
// refx returns, counts, filters, orders, puts in a token or an etag, and the
// audit event of every answer records exactly what its bytes disclose.
// Real mTLS, a real SQLite file, the LLR agreement.
//
// This file covers the shape of requests and answers: filters, pages, page
// tokens, etags and output-only fields. What each answer discloses, and its
// audit event, is in side_channel_disclosure_test.cc.
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "core/redaction.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/side_channel_test_support.h"
#include "tests/testing/output_only_forgery.h"

namespace refx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

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

// 6. Output-only fields cannot be written: every field the schema marks
// OUTPUT_ONLY, set on create to a value of the sender's choosing, is ignored.
TEST_F(SideChannelTest, EveryOutputOnlyFieldSetOnCreateHasNoEffect) {
  int checked = 0;
  for (const auto* field : OutputOnlyReferralFields()) {
    SCOPED_TRACE(field->name());
    ++checked;
    // A value no server would assign: an agency that is no party, a far-off
    // time, a final state, a large count.
    v1::Referral forged = ValidReferral(kCityCouncil);
    if (!ForgeOutputOnlyField(field, absl::StrCat("agencies/", kBlaby), &forged)) {
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
