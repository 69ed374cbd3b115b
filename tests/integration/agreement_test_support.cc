// The helpers of agreement_test_support.h. The oracle here reads the
// agreement file itself, never core::Agreement, so that a bug in the server's
// reading of the file cannot hide in the expectations too.
#include "tests/integration/agreement_test_support.h"

#include <algorithm>
#include <cstdint>
#include <fstream>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_details.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace refx::testing {

using config::v1::Agreement;
using config::v1::Grant;
using config::v1::RoleRules;
using core::DataClassSet;
using google::protobuf::util::TimeUtil;

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

Agreement LoadAgreementFile(const std::string& path) {
  Agreement a;
  absl::Status s = ReadYamlFileToProto(path, &a);
  EXPECT_TRUE(s.ok()) << s;
  return a;
}

void ReloadAgreementWith(TestServer& server, const std::string& version_suffix,
                         const std::function<void(config::v1::Agreement&)>& change) {
  Agreement next = LoadAgreementFile(server.config().agreement_file());
  next.set_version(absl::StrCat(next.version(), version_suffix));
  change(next);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(next, &json, options).ok());
  {
    std::ofstream out(server.config().agreement_file(), std::ios::binary | std::ios::trunc);
    out << json;
    ASSERT_TRUE(out.good());
  }
  absl::Status reloaded = server.server()->ReloadAgreementIfChanged();
  ASSERT_TRUE(reloaded.ok()) << reloaded;
}

void GrantPoliceTheSubjectCompartment(TestServer& server, const std::string& version_suffix) {
  ReloadAgreementWith(server, version_suffix, [](Agreement& next) {
    for (auto& role : *next.mutable_roles()) {
      if (role.role() != "police") continue;
      for (auto& grant : *role.mutable_grants()) {
        if (grant.purpose() == "investigation") grant.add_read_with_consent(v1::DATA_CLASS_NCHI_SUBJECT);
      }
    }
  });
}

config::v1::Partnership LoadPartnership() {
  config::v1::Partnership p;
  absl::Status s = ReadYamlFileToProto(SourcePath("config/partnership.yaml"), &p);
  EXPECT_TRUE(s.ok()) << s;
  return p;
}

bool HasPermission(const RoleRules& role, config::v1::Permission p) {
  for (int x : role.permissions()) {
    if (x == p) return true;
  }
  return false;
}

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

const char* CaseName(ConsentCase c) {
  switch (c) {
    case ConsentCase::kGiven: return "given";
    case ConsentCase::kRefusedAcceptedBasis: return "refused+accepted-basis";
    case ConsentCase::kRefusedOtherBasis: return "refused+basis-not-accepted";
  }
  return "?";
}

std::string BasisNotAcceptedBy(const Agreement& a, const Grant& grant) {
  for (const auto& b : a.lawful_bases()) {
    if (std::find(grant.lawful_bases().begin(), grant.lawful_bases().end(), b.id()) == grant.lawful_bases().end()) {
      return b.id();
    }
  }
  return "";
}

DataClassSet ExpectedReadable(const Grant& grant, ConsentCase c) {
  if (c == ConsentCase::kGiven) return ToSet(grant.read_with_consent());
  if (c == ConsentCase::kRefusedAcceptedBasis) return ToSet(grant.read_without_consent());
  DataClassSet core;
  if (ToSet(grant.read_with_consent()).Contains(v1::DATA_CLASS_REFERRAL_CORE)) core.Add(v1::DATA_CLASS_REFERRAL_CORE);
  return core;
}

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

DataClassSet AllReferralClasses() {
  DataClassSet s;
  for (int c = v1::DATA_CLASS_REFERRAL_CORE; c <= v1::DATA_CLASS_PREVENT; ++c) s.Add(static_cast<v1::DataClass>(c));
  return s;
}

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

std::string Top(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }

}  // namespace refx::testing
