// The information-sharing agreement, enforced field by field over real mTLS
// (issue 4). Every expectation here is derived from config/agreement.yaml and
// config/partnership.yaml as loaded at test time, never from a hand-written
// matrix: change the agreement and these tests follow it.
//
// Covered: reads (role x purpose x consent state -> exactly the classes the
// agreement lets flow), writes (refused, not ignored, and nothing stored),
// the method gate, purposes, read_mask, canaries in every restricted
// free-text field (responses, list pages, error messages, the server log and
// the audit rows), the non-party probe of 1,000 ids, consent withdrawn,
// Prevent-only records, and agreement reload.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/lib/referral_client.h"
#include "common/status_details.h"
#include "common/yaml_proto.h"
#include "core/redaction.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "refx/config/v1/agreement.pb.h"
#include "refx/config/v1/partnership.pb.h"
#include "refx/v1/audit_service.grpc.pb.h"
#include "refx/v1/referral_service.grpc.pb.h"
#include "tests/testing/raw_api.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/test_database.h"

namespace refx::testing {
namespace {

using config::v1::Agreement;
using config::v1::Grant;
using config::v1::RoleRules;
using core::DataClassSet;
using google::protobuf::util::TimeUtil;

constexpr char kPrevent[] = "llr-prevent";


// The ErrorInfo metadata of a status ("" when absent).
std::map<std::string, std::string> ErrorMetadataOf(const absl::Status& status) {
  std::map<std::string, std::string> out;
  const google::rpc::Status rpc = ToRpcStatus(status);
  for (const auto& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      for (const auto& [k, v] : info.metadata()) out[k] = v;
    }
  }
  return out;
}

// Everything an error carries, for leak scans: message and every detail.
std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(status.message(), "\n", ToRpcStatus(status).DebugString());
}

// ---------------------------------------------------------------------------
// The agreement and partnership, as files.
Agreement LoadAgreementFile(const std::string& path) {
  Agreement a;
  absl::Status s = ReadYamlFileToProto(path, &a);
  EXPECT_TRUE(s.ok()) << s;
  return a;
}

config::v1::Partnership LoadPartnership() {
  config::v1::Partnership p;
  absl::Status s = ReadYamlFileToProto(SourcePath("config/partnership.yaml"), &p);
  EXPECT_TRUE(s.ok()) << s;
  return p;
}

template <typename Repeated>
DataClassSet ToSet(const Repeated& classes) {
  DataClassSet set;
  for (int c : classes) set.Add(static_cast<v1::DataClass>(c));
  return set;
}

bool HasPermission(const RoleRules& role, config::v1::Permission p) {
  for (int x : role.permissions()) {
    if (x == p) return true;
  }
  return false;
}

// The first (non-suspended) agency of `role` in the partnership file.
std::string AgencyOfRole(const config::v1::Partnership& p, const std::string& role) {
  for (const auto& a : p.agencies()) {
    if (a.role() == role && !a.suspended()) return a.id();
  }
  return "";
}

std::string ClassNames(const DataClassSet& s) {
  std::vector<std::string> names;
  for (auto c : s.Members()) names.push_back(v1::DataClass_Name(c));
  return absl::StrJoin(names, ",");
}

// The consent states a reader can meet.
enum class ConsentCase { kGiven, kRefusedAcceptedBasis, kRefusedOtherBasis };
const char* CaseName(ConsentCase c) {
  switch (c) {
    case ConsentCase::kGiven: return "given";
    case ConsentCase::kRefusedAcceptedBasis: return "refused+accepted-basis";
    case ConsentCase::kRefusedOtherBasis: return "refused+basis-not-accepted";
  }
  return "?";
}

// A lawful basis of the agreement that `grant` does not accept ("" if the
// grant accepts them all).
std::string BasisNotAcceptedBy(const Agreement& a, const Grant& grant) {
  for (const auto& b : a.lawful_bases()) {
    if (std::find(grant.lawful_bases().begin(), grant.lawful_bases().end(), b.id()) == grant.lawful_bases().end()) {
      return b.id();
    }
  }
  return "";
}

// What the agreement FILE says flows to a reader of `grant` (computed here,
// independently of core::Agreement).
DataClassSet ExpectedReadable(const Grant& grant, ConsentCase c) {
  if (c == ConsentCase::kGiven) return ToSet(grant.read_with_consent());
  if (c == ConsentCase::kRefusedAcceptedBasis) return ToSet(grant.read_without_consent());
  DataClassSet core;
  if (ToSet(grant.read_with_consent()).Contains(v1::DATA_CLASS_REFERRAL_CORE)) core.Add(v1::DATA_CLASS_REFERRAL_CORE);
  return core;
}

// ---------------------------------------------------------------------------
// Canaries: one distinct marker per restricted free-text field, with its
// class. Short enough for every length limit, upper case so that a
// case-insensitive scan finds them anywhere.
struct Canary {
  std::string value;
  v1::DataClass data_class;
};

std::vector<Canary> CanariesFor(const std::string& tag) {
  auto c = [&](const char* field, v1::DataClass dc) { return Canary{absl::StrCat("QZ", field, tag), dc}; };
  return {
      c("GIVEN", v1::DATA_CLASS_VICTIM_IDENTITY),      c("FAMILY", v1::DATA_CLASS_VICTIM_IDENTITY),
      c("ADDRL", v1::DATA_CLASS_VICTIM_CONTACT),       c("TOWN", v1::DATA_CLASS_VICTIM_CONTACT),
      c("APC", v1::DATA_CLASS_VICTIM_CONTACT),         c("PHONE", v1::DATA_CLASS_VICTIM_CONTACT),
      c("EMAIL", v1::DATA_CLASS_VICTIM_CONTACT),       c("SAFE", v1::DATA_CLASS_VICTIM_CONTACT),
      c("VULN", v1::DATA_CLASS_HEALTH_AND_DISABILITY), c("NARR", v1::DATA_CLASS_INCIDENT_NARRATIVE),
      c("LOCD", v1::DATA_CLASS_PRECISE_LOCATION),      c("LPC", v1::DATA_CLASS_PRECISE_LOCATION),
      c("SNAME", v1::DATA_CLASS_SUBJECT),              c("SAGE", v1::DATA_CLASS_SUBJECT),
      c("SADDR", v1::DATA_CLASS_SUBJECT),              c("SDESC", v1::DATA_CLASS_SUBJECT),
      c("SREL", v1::DATA_CLASS_SUBJECT),               c("CRIME", v1::DATA_CLASS_CRIME_DATA),
      c("RELIG", v1::DATA_CLASS_PROTECTED_CHARACTERISTICS),
      c("OGRP", v1::DATA_CLASS_PROTECTED_CHARACTERISTICS),
  };
}

// A referral from the police with a field of EVERY data class set, and a
// canary (tagged `tag`) in every restricted free-text field.
v1::Referral FullReferral(const std::string& recipient, v1::Consent::Status consent, const std::string& basis,
                          const std::string& tag) {
  std::map<std::string, std::string> v;
  for (const Canary& c : CanariesFor(tag)) v[c.value.substr(2, c.value.size() - 2 - tag.size())] = c.value;
  v1::Referral r;
  r.set_report_type(v1::HATE_CRIME);
  r.set_perceived_by(v1::PERCEIVED_BY_VICTIM);
  r.set_reporting_channel(v1::REPORTING_CHANNEL_POLICE);
  r.set_online(true);
  r.set_online_platform("a social network");
  r.set_area("leicester");
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  *r.mutable_occur_time() = TimeUtil::SecondsToTimestamp(now - 86400);
  *r.mutable_report_time() = TimeUtil::SecondsToTimestamp(now - 3600);
  auto* s1 = r.add_strands();
  s1->set_strand("race");
  s1->set_basis(v1::Strand::PERCEIVED);
  auto* s2 = r.add_strands();
  s2->set_strand("religion_or_belief");
  s2->set_basis(v1::Strand::ACTUAL);
  s2->set_targeted_religion(v["RELIG"]);
  auto* s3 = r.add_strands();
  s3->set_strand("other_group");
  s3->set_basis(v1::Strand::PERCEIVED);
  s3->set_other_group(v["OGRP"]);
  r.set_incident_narrative(absl::StrCat("What happened: ", v["NARR"]));
  auto* loc = r.mutable_location();
  loc->set_description(v["LOCD"]);
  loc->set_postcode(v["LPC"]);
  loc->set_latitude(52.6369);
  loc->set_longitude(-1.1398);
  auto* victim = r.mutable_victim();
  victim->set_given_name(v["GIVEN"]);
  victim->set_family_name(v["FAMILY"]);
  victim->set_birth_date("1980-02-03");
  victim->mutable_address()->add_lines(v["ADDRL"]);
  victim->mutable_address()->set_town(v["TOWN"]);
  victim->mutable_address()->set_postcode(v["APC"]);
  victim->set_phone(v["PHONE"]);
  victim->set_email(absl::StrCat(v["EMAIL"], "@example.org"));
  victim->mutable_safe_contact()->add_methods(v1::SafeContactPreferences::SMS);
  victim->mutable_safe_contact()->set_may_leave_message(true);
  victim->mutable_safe_contact()->set_notes(v["SAFE"]);
  victim->set_vulnerability_notes(v["VULN"]);
  victim->mutable_consent()->set_status(consent);
  *victim->mutable_consent()->mutable_record_time() = TimeUtil::SecondsToTimestamp(now - 60);
  victim->mutable_consent()->set_lawful_basis(basis);
  auto* subject = r.add_subjects();
  subject->set_name(v["SNAME"]);
  subject->set_birth_date_or_age(v["SAGE"]);
  subject->set_address(v["SADDR"]);
  subject->set_description(v["SDESC"]);
  subject->set_relationship_to_victim(v["SREL"]);
  r.set_police_crime_reference(v["CRIME"]);
  r.set_risk_level(v1::RISK_LEVEL_HIGH);
  r.set_prevent_concern(true);
  r.add_recipient_agencies(absl::StrCat("agencies/", recipient));
  return r;
}

// Every class a referral can carry.
DataClassSet AllReferralClasses() {
  DataClassSet s;
  for (int c = v1::DATA_CLASS_REFERRAL_CORE; c <= v1::DATA_CLASS_PREVENT; ++c) s.Add(static_cast<v1::DataClass>(c));
  return s;
}

// One field path of each class (for read_mask and write tables), set by
// FullReferral.
const std::map<v1::DataClass, std::string>& PathOfClass() {
  static const auto* m = new std::map<v1::DataClass, std::string>{
      {v1::DATA_CLASS_REFERRAL_CORE, "area"},
      {v1::DATA_CLASS_VICTIM_IDENTITY, "victim.family_name"},
      {v1::DATA_CLASS_VICTIM_CONTACT, "victim.phone"},
      {v1::DATA_CLASS_PROTECTED_CHARACTERISTICS, "strands"},
      {v1::DATA_CLASS_HEALTH_AND_DISABILITY, "victim.vulnerability_notes"},
      {v1::DATA_CLASS_INCIDENT_NARRATIVE, "incident_narrative"},
      {v1::DATA_CLASS_PRECISE_LOCATION, "location"},
      {v1::DATA_CLASS_SUBJECT, "subjects"},
      {v1::DATA_CLASS_CRIME_DATA, "police_crime_reference"},
      {v1::DATA_CLASS_SAFEGUARDING_RISK, "risk_level"},
      {v1::DATA_CLASS_PREVENT, "prevent_concern"},
  };
  return *m;
}

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

// The top-level field name of a path ("victim" for "victim.phone").
std::string Top(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }

// Rows of a table (what is stored), read beside the server.
int64_t CountRows(const config::v1::StorageConfig& storage, const std::string& table) {
  return TestDatabase(storage).Int(absl::StrCat("SELECT count(*) FROM ", table));
}

// Every audit row as text (all columns), for leak scans.
std::string AuditRowsText(const config::v1::StorageConfig& storage) {
  std::string out;
  for (const auto& row : TestDatabase(storage).Rows("SELECT * FROM audit_events ORDER BY sequence")) {
    for (const auto& column : row) absl::StrAppend(&out, column, "|");
    out += "\n";
  }
  return out;
}

int Count(const std::string& haystack, const std::string& needle) {
  std::string h = haystack, n = needle;
  for (char& ch : h) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  for (char& ch : n) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  int count = 0;
  for (size_t pos = h.find(n); pos != std::string::npos; pos = h.find(n, pos + 1)) ++count;
  return count;
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

// ---------------------------------------------------------------------------
class AgreementEnforcementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    agreement_ = LoadAgreementFile(server_->config().agreement_file());
    partnership_ = LoadPartnership();
  }

  // One channel per agency for the whole test.
  Api As(const std::string& agency, const std::string& purpose = "", const std::string& acting = "isa-tester") {
    auto it = channels_.find(agency);
    if (it == channels_.end()) it = channels_.emplace(agency, server_->Channel(server_->pki().Agency(agency))).first;
    return Api(it->second, acting, purpose);
  }
  const config::v1::StorageConfig& Db() const { return server_->config().storage(); }
  std::string NextId() { return absl::StrCat("isa-", ++request_counter_); }

  const RoleRules* Role(const std::string& name) const {
    for (const auto& r : agreement_.roles()) {
      if (r.role() == name) return &r;
    }
    return nullptr;
  }

  std::unique_ptr<TestServer> server_;
  Agreement agreement_;
  config::v1::Partnership partnership_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  int request_counter_ = 0;
};

// Sanity of the oracle: the full referral carries every class, and the
// agreement the server runs is the one the tests read.
TEST_F(AgreementEnforcementTest, FixtureCarriesEveryClassAndTheServerRunsTheFileAgreement) {
  v1::Referral full = FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "SANITY");
  EXPECT_EQ(ClassNames(core::ClassesPresent(full)), ClassNames(AllReferralClasses()));
  auto me = As(kPolice).WhoAmI();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->agreement(), absl::StrCat(agreement_.id(), "@", agreement_.version()));
  EXPECT_EQ(me->purpose(), Role("police")->default_purpose());
}

// 1. Reads: every role that may read x every purpose it is granted x consent
// given / refused with an accepted basis / refused with a basis the grant
// does not accept -> exactly the classes the file says, on Get and List.
TEST_F(AgreementEnforcementTest, ReadMatrixMatchesTheAgreementFile) {
  int cells = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    ASSERT_FALSE(agency.empty()) << "no agency has role " << role.role();
    // Police read as the sender (no agency can address itself); every other
    // role as the recipient.
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    for (const Grant& grant : role.grants()) {
      for (ConsentCase c : {ConsentCase::kGiven, ConsentCase::kRefusedAcceptedBasis, ConsentCase::kRefusedOtherBasis}) {
        SCOPED_TRACE(absl::StrCat(role.role(), " / ", grant.purpose(), " / ", CaseName(c)));
        std::string basis;
        if (c == ConsentCase::kRefusedAcceptedBasis) {
          ASSERT_GT(grant.lawful_bases_size(), 0);
          basis = grant.lawful_bases(0);
        } else if (c == ConsentCase::kRefusedOtherBasis) {
          basis = BasisNotAcceptedBy(agreement_, grant);
          ASSERT_FALSE(basis.empty()) << "grant accepts every basis; case cannot be built";
        }
        const v1::Referral input = FullReferral(
            recipient, c == ConsentCase::kGiven ? v1::Consent::GIVEN : v1::Consent::REFUSED, basis, "M");
        auto created = As(kPolice, "investigation").Create(input, NextId());
        ASSERT_TRUE(created.ok()) << created.status();

        const DataClassSet expected = ExpectedReadable(grant, c);
        Api reader = As(agency, grant.purpose());
        auto got = reader.Get(created->name());
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(expected));
        EXPECT_EQ(got->name(), created->name());

        v1::ListReferralsRequest list;
        list.set_page_size(1);  // newest first: the one just created
        auto page = reader.List(list);
        ASSERT_TRUE(page.ok()) << page.status();
        ASSERT_EQ(page->referrals_size(), 1);
        EXPECT_EQ(page->referrals(0).name(), created->name());
        EXPECT_EQ(ClassNames(core::ClassesPresent(page->referrals(0))), ClassNames(expected));
        ++cells;
      }
    }
  }
  // police x2 purposes, community_safety, health, prevent: 5 grants x 3.
  EXPECT_GE(cells, 15);
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

// Roles without REFERRAL_READ (from the file): Get, List and Create are
// refused by the method gate; WhoAmI, which needs no permission, works.
TEST_F(AgreementEnforcementTest, RolesWithoutReadPermissionAreRefusedEveryReferralMethod) {
  auto created = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "NP"), NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  int agencies = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (HasPermission(role, config::v1::REFERRAL_READ)) continue;
    for (const auto& a : partnership_.agencies()) {
      if (a.role() != role.role() || a.suspended()) continue;
      SCOPED_TRACE(a.id());
      Api api = As(a.id());
      std::vector<absl::Status> refusals = {api.Get(created->name()).status(),
                                            api.List(v1::ListReferralsRequest()).status(),
                                            api.Create(ValidReferral(kCityCouncil), NextId()).status()};
      for (const absl::Status& s : refusals) {
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
        EXPECT_EQ(ErrorReasonOf(s), "METHOD_NOT_PERMITTED") << s;
      }
      EXPECT_TRUE(api.WhoAmI().ok());
      ++agencies;
    }
  }
  EXPECT_EQ(agencies, 4);  // two oversight groups, the administrator, the DPO
}

// A purpose the role is not granted (or no such purpose) is refused.
TEST_F(AgreementEnforcementTest, PurposeNotGrantedIsPermissionDenied) {
  auto created = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::GIVEN, "", "PU"), NextId());
  ASSERT_TRUE(created.ok()) << created.status();
  int checked = 0;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    std::set<std::string> granted;
    for (const auto& g : role.grants()) granted.insert(g.purpose());
    std::vector<std::string> purposes = {"no-such-purpose"};
    for (const auto& p : agreement_.purposes()) {
      if (!granted.count(p.id())) purposes.push_back(p.id());
    }
    for (const std::string& purpose : purposes) {
      SCOPED_TRACE(absl::StrCat(role.role(), " / ", purpose));
      Api api = As(agency, purpose);
      for (const absl::Status& s : {api.Get(created->name()).status(), api.List(v1::ListReferralsRequest()).status()}) {
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
        EXPECT_EQ(ErrorReasonOf(s), "PURPOSE_NOT_GRANTED") << s;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
}

// read_mask: a permitted path returns only it (and the name); a path of a
// class the role can never read for the purpose is FIELD_NOT_SHARED, for
// every such class of every reading role; an unknown path is
// INVALID_ARGUMENT.
TEST_F(AgreementEnforcementTest, ReadMaskPermittedNotSharedAndUnknown) {
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    auto created = As(kPolice).Create(FullReferral(recipient, v1::Consent::GIVEN, "", "RM"), NextId());
    ASSERT_TRUE(created.ok()) << created.status();
    for (const Grant& grant : role.grants()) {
      const DataClassSet readable = ToSet(grant.read_with_consent());
      Api api = As(agency, grant.purpose());
      for (const auto& [c, path] : PathOfClass()) {
        SCOPED_TRACE(absl::StrCat(role.role(), " / ", grant.purpose(), " / ", path));
        auto got = api.Get(created->name(), {path});
        v1::ListReferralsRequest list;
        list.set_page_size(1);
        list.mutable_read_mask()->add_paths(path);
        auto page = api.List(list);
        if (readable.Contains(c)) {
          ASSERT_TRUE(got.ok()) << got.status();
          DataClassSet want = {v1::DATA_CLASS_REFERRAL_CORE};
          want.Add(c);
          EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(want));
          // Exactly the name and the path.
          EXPECT_EQ(got->name(), created->name());
          std::vector<const google::protobuf::FieldDescriptor*> fields;
          got->GetReflection()->ListFields(*got, &fields);
          std::set<std::string> top;
          for (auto* f : fields) top.insert(f->name());
          EXPECT_EQ(top, (std::set<std::string>{"name", Top(path)}));
          ASSERT_TRUE(page.ok()) << page.status();
          ASSERT_EQ(page->referrals_size(), 1);
          EXPECT_EQ(page->referrals(0).SerializeAsString(), got->SerializeAsString());
        } else {
          for (const absl::Status& s : {got.status(), page.status()}) {
            EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
            EXPECT_EQ(ErrorReasonOf(s), "FIELD_NOT_SHARED") << s;
            EXPECT_THAT(ErrorMetadataOf(s)["fields"], ::testing::HasSubstr(path));
          }
        }
      }
      for (const char* bad : {"no_such_field", "victim.nope", "victim..phone"}) {
        auto got = api.Get(created->name(), {bad});
        EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << bad << ": " << got.status();
        EXPECT_THAT(FieldViolationsOf(got.status()), ::testing::Not(::testing::IsEmpty()));
      }
    }
  }
}

// 4. Consent withdrawn: a council reader gets only the routing facts when the
// recorded basis is not one its grant accepts, and exactly the
// read_without_consent classes when it is. (Validation requires a recorded
// basis whenever consent is not given, so "no basis" can only reach a reader
// as "a basis this grant does not accept".)
TEST_F(AgreementEnforcementTest, ConsentWithdrawnRedactsAndAnAcceptedBasisLetsItsClassesFlow) {
  const RoleRules* council = Role("community_safety");
  ASSERT_NE(council, nullptr);
  const Grant& grant = council->grants(0);
  ASSERT_EQ(grant.purpose(), council->default_purpose());

  auto withdrawn = As(kPolice).Create(
      FullReferral(kCityCouncil, v1::Consent::WITHDRAWN, BasisNotAcceptedBy(agreement_, grant), "CW"), NextId());
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  auto got = As(kCityCouncil).Get(withdrawn->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), "DATA_CLASS_REFERRAL_CORE");
  EXPECT_EQ(got->victim().consent().status(), v1::Consent::WITHDRAWN);
  EXPECT_EQ(got->victim().given_name(), "");

  auto based = As(kPolice).Create(FullReferral(kCityCouncil, v1::Consent::WITHDRAWN, grant.lawful_bases(0), "CB"),
                                  NextId());
  ASSERT_TRUE(based.ok()) << based.status();
  got = As(kCityCouncil).Get(based->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(ToSet(grant.read_without_consent())));

  // The police, the sender, see what their own grant allows under the same
  // recorded basis.
  const Grant& police = Role("police")->grants(0);
  const std::string basis = BasisNotAcceptedBy(agreement_, grant);
  const bool police_accepts = std::find(police.lawful_bases().begin(), police.lawful_bases().end(), basis) !=
                              police.lawful_bases().end();
  got = As(kPolice).Get(withdrawn->name());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)),
            ClassNames(ExpectedReadable(police, police_accepts ? ConsentCase::kRefusedAcceptedBasis
                                                               : ConsentCase::kRefusedOtherBasis)));
}

// 4. The Prevent role sees a Prevent-relevant referral addressed to it, and
// gets NOT_FOUND (identical to an absent one) for one without a concern,
// which its list also omits.
TEST_F(AgreementEnforcementTest, PreventRoleSeesOnlyPreventRelevantReferrals) {
  const RoleRules* prevent = Role("prevent");
  ASSERT_NE(prevent, nullptr);
  ASSERT_TRUE(prevent->prevent_relevant_only());
  v1::Referral with = FullReferral(kPrevent, v1::Consent::GIVEN, "", "PV");
  v1::Referral without = with;
  without.set_prevent_concern(false);
  auto a = As(kPolice).Create(with, NextId());
  auto b = As(kPolice).Create(without, NextId());
  ASSERT_TRUE(a.ok() && b.ok());
  auto got = As(kPrevent).Get(a->name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->prevent_concern());
  EXPECT_EQ(ClassNames(core::ClassesPresent(*got)), ClassNames(ToSet(prevent->grants(0).read_with_consent())));
  auto hidden = As(kPrevent).Get(b->name());
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hidden.status().message(), absl::StrCat("referral ", b->name(), " not found"));
  auto page = As(kPrevent).List(v1::ListReferralsRequest());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->referrals_size(), 1);
  EXPECT_EQ(page->referrals(0).name(), a->name());
}

// 3. A party that is not a party to any referral asks for 1,000 names, real
// ones of others' referrals and random absent ones: every answer is
// NOT_FOUND with the same message (apart from the name) and the same
// details.
TEST_F(AgreementEnforcementTest, NonPartyProbingAThousandIdsLearnsNothing) {
  std::vector<std::string> real;
  for (int i = 0; i < 10; ++i) {
    const char* to = i % 2 ? kCityCouncil : kPrevent;
    auto r = As(kPolice).Create(FullReferral(to, v1::Consent::GIVEN, "", "NF"), NextId());
    ASSERT_TRUE(r.ok()) << r.status();
    real.push_back(r->name());
  }
  std::mt19937_64 rng(20260401);
  Api blaby = As(kBlaby);
  std::string first_details;
  int real_asked = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string name;
    if (i % 4 == 0) {
      name = real[(i / 4) % real.size()];
      ++real_asked;
    } else {
      char hex[33];
      std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                    static_cast<unsigned long long>(rng()));
      name = absl::StrCat("referrals/", hex);
    }
    auto got = blaby.Get(name);
    ASSERT_EQ(got.status().code(), absl::StatusCode::kNotFound) << name << ": " << got.status();
    EXPECT_EQ(absl::StrReplaceAll(got.status().message(), {{name, "<NAME>"}}), "referral <NAME> not found");
    google::rpc::Status rpc = ToRpcStatus(got.status());
    rpc.clear_message();
    const std::string details = rpc.SerializeAsString();
    if (i == 0) first_details = details;
    EXPECT_EQ(details, first_details) << name;
  }
  EXPECT_EQ(real_asked, 250);
  auto page = blaby.List(v1::ListReferralsRequest());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->referrals_size(), 0);
}

// 2. Canaries: for every reading role, no canary of a class it may not see
// appears in Get responses, List pages, error messages (forced errors too),
// the server's log (stderr captured in-process) or the audit rows. The
// canaries of classes it may see do appear in Get (positive control).
TEST_F(AgreementEnforcementTest, CanariesOfUnsharedClassesNeverLeak) {
  // Capture the server's stderr (its log) for the whole test.
  const std::string log_path = server_->directory() + "/stderr.log";
  fflush(stderr);
  const int saved = dup(2);
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, 2);
  close(fd);

  struct Seen {
    std::string role;
    DataClassSet allowed;  // the most any referral of the run let flow
    std::vector<Canary> canaries;
    std::string responses, errors;
  };
  std::vector<Seen> seen;
  for (const RoleRules& role : agreement_.roles()) {
    if (!HasPermission(role, config::v1::REFERRAL_READ)) continue;
    const std::string agency = AgencyOfRole(partnership_, role.role());
    const std::string recipient = agency == kPolice ? kCityCouncil : agency;
    for (const Grant& grant : role.grants()) {
      for (ConsentCase c : {ConsentCase::kGiven, ConsentCase::kRefusedAcceptedBasis, ConsentCase::kRefusedOtherBasis}) {
        const std::string tag = absl::StrCat("T", seen.size(), "X");
        std::string basis = c == ConsentCase::kGiven                 ? ""
                            : c == ConsentCase::kRefusedAcceptedBasis ? grant.lawful_bases(0)
                                                                     : BasisNotAcceptedBy(agreement_, grant);
        auto created = As(kPolice, "", "ZQACTORPOLICE")
                           .Create(FullReferral(recipient, c == ConsentCase::kGiven ? v1::Consent::GIVEN
                                                                                    : v1::Consent::REFUSED,
                                                basis, tag),
                                   NextId());
        ASSERT_TRUE(created.ok()) << created.status();
        Seen s{absl::StrCat(role.role(), "/", grant.purpose(), "/", CaseName(c)), ExpectedReadable(grant, c),
               CanariesFor(tag), "", ""};
        Api api = As(agency, grant.purpose());
        auto got = api.Get(created->name());
        ASSERT_TRUE(got.ok()) << got.status();
        s.responses += got->DebugString();
        v1::ListReferralsRequest list;
        list.set_page_size(5);
        auto page = api.List(list);
        ASSERT_TRUE(page.ok());
        s.responses += page->DebugString();
        // Forced errors, each with the referral's name in them.
        for (const auto& [cls, path] : PathOfClass()) {
          auto e = api.Get(created->name(), {path});
          if (!e.ok()) s.errors += ErrorText(e.status());
        }
        s.errors += ErrorText(api.Get(created->name(), {"victim.given_name.x"}).status());
        s.errors += ErrorText(api.Get(absl::StrCat(created->name(), "0")).status());
        s.errors += ErrorText(As(kBlaby).Get(created->name()).status());
        v1::ListReferralsRequest bad;
        bad.mutable_filter()->add_areas("QZNOAREA");
        s.errors += ErrorText(api.List(bad).status());
        // Positive control: what may be seen is seen.
        for (const Canary& cn : s.canaries) {
          if (s.allowed.Contains(cn.data_class)) {
            EXPECT_GE(Count(s.responses, cn.value), 1) << s.role << " " << cn.value;
          }
        }
        seen.push_back(std::move(s));
      }
    }
  }
  server_->Stop();  // flush the log and the database
  fflush(stderr);
  dup2(saved, 2);
  close(saved);

  std::string log;
  ASSERT_TRUE(ReadFileToString(log_path, &log).ok());
  EXPECT_THAT(log, ::testing::HasSubstr("GetReferral"));  // the capture worked
  const std::string audit = AuditRowsText(Db());
  EXPECT_GT(Count(audit, "GetReferral"), 0);
  int checked = 0;
  for (const Seen& s : seen) {
    for (const Canary& c : s.canaries) {
      // The log and the audit rows must hold no canary at all.
      EXPECT_EQ(Count(log, c.value), 0) << "server log leaks " << c.value;
      EXPECT_EQ(Count(audit, c.value), 0) << "audit rows leak " << c.value;
      EXPECT_EQ(Count(s.errors, c.value), 0) << s.role << ": an error message leaks " << c.value;
      if (s.allowed.Contains(c.data_class)) continue;
      EXPECT_EQ(Count(s.responses, c.value), 0) << s.role << " was shown " << c.value;
      ++checked;
    }
  }
  EXPECT_EQ(Count(log, "ZQACTORPOLICE"), 0);
  EXPECT_EQ(Count(audit, "ZQACTORPOLICE"), 0);
  EXPECT_GT(checked, 100);
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
