// The information-sharing agreement over real mTLS (issue 4), as writes and
// as a file that changes under a running server: writes are refused, not
// ignored, and nothing is stored; a reloaded agreement decides the next call
// and an invalid one is refused. Expectations come from the agreement file as
// loaded at test time (agreement_test_support.h); reads are in
// agreement_enforcement_test.cc.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_details.h"
#include "core/redaction.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/agreement_test_support.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using config::v1::Agreement;
using config::v1::Grant;
using config::v1::RoleRules;
using core::DataClassSet;

// Sets a field of class `c` on `r` (one that ValidReferral leaves unset
// where it can).
void SetFieldOfClass(v1::DataClass c, v1::Referral* r) {
  switch (c) {
    case v1::DATA_CLASS_REFERRAL_CORE: r->set_online(true); break;
    case v1::DATA_CLASS_VICTIM_IDENTITY: r->mutable_victim()->set_birth_date("1990-01-01"); break;
    case v1::DATA_CLASS_VICTIM_CONTACT: r->mutable_victim()->set_phone("07700 900001"); break;
    case v1::DATA_CLASS_PROTECTED_CHARACTERISTICS: r->mutable_strands(0)->set_basis(v1::Strand::ACTUAL); break;
    case v1::DATA_CLASS_HEALTH_AND_DISABILITY: r->mutable_victim()->set_vulnerability_notes("uses a wheelchair"); break;
    case v1::DATA_CLASS_INCIDENT_NARRATIVE: r->set_incident_narrative("Abuse shouted in the street."); break;
    case v1::DATA_CLASS_PRECISE_LOCATION: r->mutable_location()->set_description("outside the library"); break;
    case v1::DATA_CLASS_SUBJECT: r->add_subjects()->set_description("tall, grey coat"); break;
    case v1::DATA_CLASS_CRIME_DATA: r->set_police_crime_reference("LP-2026-000123"); break;
    case v1::DATA_CLASS_SAFEGUARDING_RISK: r->set_risk_level(v1::RISK_LEVEL_MEDIUM); break;
    case v1::DATA_CLASS_PREVENT: r->set_prevent_concern(true); break;
    default: break;
  }
}

// Rows of a table (what is stored), read beside the server.
int64_t CountRows(const config::v1::StorageConfig& storage, const std::string& table) {
  return TestDatabase(storage).Int(absl::StrCat("SELECT count(*) FROM ", table));
}

bool WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  return json;
}

// 1. Writes: each role that may create, for each purpose it is granted,
// sets a field of each class on an otherwise valid referral; success iff
// every class it set is in its write grant; a refusal is PERMISSION_DENIED
// FIELD_NOT_WRITABLE naming the field, and stores nothing.
TEST_F(AgreementEnforcementTest, WriteMatrixMatchesTheAgreementFile) {
  int accepted = 0, refused = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_CREATE)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    const std::string recipient = agency == kPolice ? kCityCouncil : kPolice;
    for (const Grant& grant : role.grants()) {
      const DataClassSet writable = ToSet(grant.write());
      for (const auto& [c, path] : PathOfClass()) {
        SCOPED_TRACE(absl::StrCat(role.role(), " / ", grant.purpose(), " / sets ", v1::DataClass_Name(c)));
        v1::Referral input = ValidReferral(recipient);
        SetFieldOfClass(c, &input);
        const DataClassSet sent = core::ClassesPresent(input);
        const bool allowed = writable.ContainsAll(sent);
        const int64_t stored_before = CountRows(Db(), "referrals");
        auto created = As(agency, grant.purpose()).Create(input, NextId());
        const int64_t stored_after = CountRows(Db(), "referrals");
        if (allowed) {
          EXPECT_TRUE(created.ok()) << created.status();
          EXPECT_EQ(stored_after, stored_before + 1);
          ++accepted;
        } else {
          ASSERT_FALSE(created.ok());
          EXPECT_EQ(created.status().code(), absl::StatusCode::kPermissionDenied) << created.status();
          EXPECT_EQ(ErrorReasonOf(created.status()), "FIELD_NOT_WRITABLE");
          const std::string fields = ErrorMetadataOf(created.status())["fields"];
          EXPECT_FALSE(fields.empty());
          if (!writable.Contains(c)) {
            EXPECT_THAT(fields, ::testing::HasSubstr(Top(path))) << fields;
          }
          for (const std::string& f : std::vector<std::string>(absl::StrSplit(fields, ','))) {
            auto classes = core::ClassesOfPath(v1::Referral::descriptor(), absl::StrReplaceAll(f, {{"[0]", ""}}));
            ASSERT_TRUE(classes.ok()) << f;
            EXPECT_FALSE(writable.ContainsAll(*classes)) << "named a writable field " << f;
          }
          EXPECT_EQ(stored_after, stored_before) << "a refused write stored something";
          ++refused;
        }
      }
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

// 5. Reload: dropping a class from a grant (and bumping the version) takes
// effect on the next read without a restart; WhoAmI names the new label.
// An invalid file is then refused, on reload and at start, and the
// agreement in force (label and decisions) stays.
TEST_F(AgreementEnforcementTest, ReloadChangesTheNextDecisionAndAnInvalidFileIsRefused) {
  auto created = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "RL"), NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  auto before = As(kCityCouncil).Get(created->name());
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(core::ClassesPresent(*before).Contains(v1::DATA_CLASS_VICTIM_CONTACT));

  const std::string path = server_->config().agreement_file();
  Agreement next = agreement_;
  next.set_version(absl::StrCat(agreement_.version(), "-reload-test"));
  RoleRules* council = nullptr;
  for (auto& r : *next.mutable_roles()) {
    if (r.role() == "community_safety") council = &r;
  }
  ASSERT_NE(council, nullptr);
  auto* with = council->mutable_grants(0)->mutable_read_with_consent();
  with->erase(std::remove(with->begin(), with->end(), v1::DATA_CLASS_VICTIM_CONTACT), with->end());
  ASSERT_TRUE(WriteFileAtomically(path, ToJson(next)));

  // Picked up by the server itself within 5 s (it polls every ~2 s).
  const std::string new_label = absl::StrCat(next.id(), "@", next.version());
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::string label;
  while (absl::Now() < deadline) {
    auto me = As(kCityCouncil).WhoAmI();
    ASSERT_TRUE(me.ok());
    label = me->agreement();
    if (label == new_label) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(label, new_label);
  auto after = As(kCityCouncil).Get(created->name());
  ASSERT_TRUE(after.ok()) << after.status();
  DataClassSet want = ToSet(council->grants(0).read_with_consent());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*after)), ClassNames(want));
  EXPECT_FALSE(core::ClassesPresent(*after).Contains(v1::DATA_CLASS_VICTIM_CONTACT));
  EXPECT_EQ(after->victim().phone(), "");
  // A read_mask for the dropped class is now refused as not shared.
  EXPECT_EQ(ErrorReasonOf(As(kCityCouncil).Get(created->name(), {"victim.phone"}).status()), "FIELD_NOT_SHARED");

  // An invalid file: a grant for an unknown purpose.
  Agreement invalid = next;
  invalid.set_version("9999.invalid");
  invalid.mutable_roles(0)->mutable_grants(0)->set_purpose("no_such_purpose");
  ASSERT_TRUE(WriteFileAtomically(path, ToJson(invalid)));
  absl::Status reload = server_->server()->ReloadAgreementIfChanged();
  EXPECT_FALSE(reload.ok());
  EXPECT_THAT(std::string(reload.message()), ::testing::HasSubstr("no_such_purpose"));
  absl::SleepFor(absl::Milliseconds(2500));  // and the server's own poll keeps it refused too
  auto me = As(kCityCouncil).WhoAmI();
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->agreement(), new_label);
  auto still = As(kCityCouncil).Get(created->name());
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*still)), ClassNames(want));

  // Refused at start as well, naming the file and the key.
  server_->Stop();
  auto refused = TestServer::Start(TestServer::Options{[&](config::v1::ServerConfig* c) {
    c->set_agreement_file(path);
  }});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("grants[0].purpose"));
}

// The creator is a party: a Prevent-only role that creates a referral without
// a Prevent concern gets it back (its own), although it would not see such
// referrals of others. Otherwise it would be told NOT_FOUND for a stored
// referral and a retry under a new id would duplicate it.
TEST_F(AgreementEnforcementTest, PreventRoleCreatingANonPreventReferralGetsItsReferralBack) {
  Agreement next = agreement_;
  next.set_version(absl::StrCat(agreement_.version(), "-prevent-writes"));
  for (auto& r : *next.mutable_roles()) {
    if (r.role() != "prevent") continue;
    for (auto& g : *r.mutable_grants()) {
      g.clear_write();
      for (auto c : AllReferralClasses().Members()) g.add_write(c);
    }
  }
  ASSERT_TRUE(WriteFileAtomically(server_->config().agreement_file(), ToJson(next)));
  ASSERT_TRUE(server_->server()->ReloadAgreementIfChanged().ok());
  ASSERT_EQ(server_->server()->agreement()->config().version(), next.version());
  const int64_t before = CountRows(Db(), "referrals");
  auto created = As(kPrevent).Create(ValidReferral(kPolice), NextId());
  EXPECT_TRUE(created.ok()) << created.status() << " (stored: " << CountRows(Db(), "referrals") - before << ")";
}

}  // namespace
}  // namespace refx::testing
