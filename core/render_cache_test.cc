#include "core/render_cache.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/yaml_proto.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

std::shared_ptr<const RenderedReferral> Rendered(const std::string& name) {
  auto r = std::make_shared<RenderedReferral>();
  r->visible = true;
  r->bytes = name;
  return r;
}

// Offered twice, as the cache keeps a render only once its key missed before.
void Keep(RenderCache& cache, const std::string& key, const std::string& document,
          std::shared_ptr<const RenderedReferral> rendered) {
  cache.Insert(key, document, rendered);
  cache.Insert(key, document, rendered);
}

TEST(RenderCacheTest, ARenderIsKeptOnlyTheSecondTimeItsKeyIsOffered) {
  RenderCache cache(8);
  auto rendered = Rendered("referrals/a");
  cache.Insert("k", "document", rendered);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find("k", "document"), nullptr);
  cache.Insert("k", "document", rendered);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("k", "document"), rendered);
  // A walk through more keys than the cache holds, each offered once, keeps
  // nothing and leaves what is kept in place.
  for (int i = 0; i < 100; ++i) cache.Insert(absl::StrCat("walk-", i), "document", Rendered("referrals/w"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("k", "document"), rendered);
}

TEST(RenderCacheTest, AnEntryAnswersOnlyForTheDocumentItWasRenderedFrom) {
  RenderCache cache(8);
  EXPECT_EQ(cache.Find("k", "document v1"), nullptr);
  auto rendered = Rendered("referrals/a");
  Keep(cache, "k", "document v1", rendered);
  EXPECT_EQ(cache.Find("k", "document v1"), rendered);
  // The referral changed (a longer, a shorter, an equally long document).
  EXPECT_EQ(cache.Find("k", "document v1 and a case update"), nullptr);
  EXPECT_EQ(cache.Find("k", "document"), nullptr);
  EXPECT_EQ(cache.Find("k", "document v2"), nullptr);
  EXPECT_EQ(cache.Find("other key", "document v1"), nullptr);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 5);

  // Rendered again from the new document: its key is held, so it is kept
  // at once, and only that one answers now.
  auto again = Rendered("referrals/a");
  cache.Insert("k", "document v2", again);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("k", "document v1"), nullptr);
  EXPECT_EQ(cache.Find("k", "document v2"), again);
}

TEST(RenderCacheTest, TheLeastRecentlyUsedEntryLeavesFirst) {
  RenderCache cache(2);
  Keep(cache, "a", "doc a", Rendered("referrals/a"));
  Keep(cache, "b", "doc b", Rendered("referrals/b"));
  ASSERT_NE(cache.Find("a", "doc a"), nullptr);  // a is now the more recent
  Keep(cache, "c", "doc c", Rendered("referrals/c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find("a", "doc a"), nullptr);
  EXPECT_EQ(cache.Find("b", "doc b"), nullptr);
  EXPECT_NE(cache.Find("c", "doc c"), nullptr);
}

TEST(RenderCacheTest, NoCapacityKeepsNothing) {
  RenderCache cache(0);
  Keep(cache, "a", "doc a", Rendered("referrals/a"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find("a", "doc a"), nullptr);
}

TEST(ListRenderKeyTest, EverythingARenderDependsOnBesidesTheDocumentIsInTheKey) {
  auto partnership = Partnership::Load(std::string(REFX_SOURCE_DIR) + "/config/partnership.yaml");
  ASSERT_TRUE(partnership.ok()) << partnership.status();
  config::v1::Agreement config;
  ASSERT_TRUE(ReadYamlFileToProto(std::string(REFX_SOURCE_DIR) + "/config/agreement.yaml", &config).ok());
  auto agreement = Agreement::Create(config, "agreement.yaml", **partnership);
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  // The same file loaded again (a reload) is another snapshot.
  auto reloaded = Agreement::Create(config, "agreement.yaml", **partnership);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();

  Caller base;
  base.agency_id = "leicester-city-council";
  base.role = "local_authority";
  base.purpose = "victim_support";
  base.agreement = *agreement;
  const std::vector<std::string> mask = {"state", "victim"};
  const std::string key = ListRenderKey(ListView(base, mask), "0123");

  std::set<std::string> keys = {key};
  Caller other = base;
  other.agency_id = "blaby-district-council";
  keys.insert(ListRenderKey(ListView(other, mask), "0123"));
  other = base;
  other.role = "police";
  keys.insert(ListRenderKey(ListView(other, mask), "0123"));
  other = base;
  other.purpose = "investigation";
  keys.insert(ListRenderKey(ListView(other, mask), "0123"));
  other = base;
  other.agreement = *reloaded;
  keys.insert(ListRenderKey(ListView(other, mask), "0123"));
  keys.insert(ListRenderKey(ListView(base, {"state"}), "0123"));
  keys.insert(ListRenderKey(ListView(base, {}), "0123"));
  keys.insert(ListRenderKey(ListView(base, mask), "0124"));
  EXPECT_EQ(keys.size(), 8u) << "two different views share a key";

  // A mask keeps the union of its paths: order and repeats do not matter.
  EXPECT_EQ(ListRenderKey(ListView(base, {"victim", "state", "victim"}), "0123"), key);
  // Nor does anything a render does not read (the acting user, the
  // certificate).
  other = base;
  other.acting_user = "someone else";
  other.certificate_serial = "0A";
  EXPECT_EQ(ListRenderKey(ListView(other, mask), "0123"), key);

  // The role's view (the watch's shared views) is the list's without the
  // agency: another agency of the role shares it, a reload does not.
  other = base;
  other.agency_id = "blaby-district-council";
  EXPECT_EQ(RoleView(other, mask), RoleView(base, {"victim", "state"}));
  other.agreement = *reloaded;
  EXPECT_NE(RoleView(other, mask), RoleView(base, mask));
  EXPECT_NE(RoleView(base, {"state"}), RoleView(base, mask));
}

TEST(ReferralPageTest, ItsBytesAreThoseOfTheListReferralsResponseItStandsFor) {
  for (const std::string token : {"", "a-sealed-token"}) {
    for (int count : {0, 1, 3}) {
      v1::ListReferralsResponse expected;
      ReferralPage page;
      for (int i = 0; i < count; ++i) {
        v1::Referral r;
        r.set_name(absl::StrCat("referrals/", i));
        r.set_incident_narrative(std::string(200 * i, 'n'));  // lengths over one varint byte too
        r.mutable_victim()->set_given_name("Sam");
        *expected.add_referrals() = r;
        auto rendered = std::make_shared<RenderedReferral>();
        rendered->visible = true;
        rendered->bytes = r.SerializeAsString();
        page.referrals.push_back(rendered);
      }
      expected.set_next_page_token(token);
      page.next_page_token = token;
      EXPECT_EQ(page.Serialize(), expected.SerializeAsString()) << count << " referrals, token '" << token << "'";
      v1::ListReferralsResponse parsed;
      ASSERT_TRUE(parsed.ParseFromString(page.Serialize()));
      EXPECT_EQ(parsed.referrals_size(), count);
      EXPECT_EQ(parsed.next_page_token(), token);
    }
  }
}

}  // namespace
}  // namespace refx::core
