#include "core/referral_validation.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {
namespace {

class Checker {
 public:
  explicit Checker(std::string prefix) : prefix_(std::move(prefix)) {}

  void Add(absl::string_view field, absl::string_view description) {
    violations_.push_back({absl::StrCat(prefix_, ".", field), std::string(description)});
  }
  void Required(absl::string_view field, bool present) {
    if (!present) Add(field, "required");
  }
  void MaxBytes(absl::string_view field, const std::string& value, size_t max) {
    if (value.size() > max) Add(field, absl::StrCat("longer than ", max, " bytes"));
  }
  template <typename Enum>
  void KnownEnum(absl::string_view field, int value, bool (*is_valid)(int), bool required) {
    if (!is_valid(value)) {
      Add(field, "unknown value");
    } else if (required && value == 0) {
      Add(field, "required");
    }
  }
  void NotInFuture(absl::string_view field, const google::protobuf::Timestamp& ts, absl::Time now) {
    if (ts.seconds() == 0 && ts.nanos() == 0) return;
    if (!IsValidTimestamp(ts)) {
      Add(field, "not a valid timestamp (0001-01-01 to 9999-12-31)");
      return;
    }
    // Five minutes of clock skew between agencies' systems is tolerated.
    if (absl::FromUnixSeconds(ts.seconds()) > now + absl::Minutes(5)) Add(field, "is in the future");
  }
  std::vector<FieldViolation> Take() { return std::move(violations_); }

 private:
  std::string prefix_;
  std::vector<FieldViolation> violations_;
};

bool IsIsoDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  absl::CivilDay day;
  return absl::ParseCivilTime(s, &day) && absl::FormatCivilTime(day) == s;
}

void CheckSubjects(const std::string& field, const google::protobuf::RepeatedPtrField<v1::Subject>& subjects,
                   Checker* c) {
  if (subjects.size() > kMaxSubjects) c->Add(field, absl::StrCat("at most ", kMaxSubjects, " subjects"));
  for (int i = 0; i < subjects.size() && i < kMaxSubjects; ++i) {
    const auto& s = subjects.Get(i);
    const std::string at = absl::StrCat(field, "[", i, "]");
    c->MaxBytes(at + ".name", s.name(), kMaxShortTextBytes);
    c->MaxBytes(at + ".birth_date_or_age", s.birth_date_or_age(), 64);
    c->MaxBytes(at + ".address", s.address(), kMaxShortTextBytes);
    c->MaxBytes(at + ".description", s.description(), kMaxNoteBytes);
    c->MaxBytes(at + ".relationship_to_victim", s.relationship_to_victim(), kMaxShortTextBytes);
  }
}

}  // namespace

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  using google::protobuf::util::TimeUtil;
  return ts.seconds() >= TimeUtil::kTimestampMinSeconds && ts.seconds() <= TimeUtil::kTimestampMaxSeconds &&
         ts.nanos() >= 0 && ts.nanos() <= 999999999;
}

std::vector<FieldViolation> ValidateRequestId(const std::string& request_id) {
  std::vector<FieldViolation> out;
  if (request_id.empty()) {
    out.push_back({"request_id", "required: a client-chosen id that makes retries safe (e.g. a UUID)"});
    return out;
  }
  bool ok = request_id.size() <= 64;
  for (char c : request_id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == ':' || c == '-');
  }
  if (!ok) out.push_back({"request_id", "must be 1-64 characters of [A-Za-z0-9._:-]"});
  return out;
}

std::vector<FieldViolation> ValidateNewReferral(const v1::Referral& r, const Caller& caller,
                                                const Partnership& partnership, absl::Time now,
                                                const std::string& prefix) {
  Checker c(prefix);
  c.KnownEnum<v1::ReportType>("report_type", r.report_type(), v1::ReportType_IsValid, true);
  c.KnownEnum<v1::PerceivedBy>("perceived_by", r.perceived_by(), v1::PerceivedBy_IsValid, true);
  c.KnownEnum<v1::ReportingChannel>("reporting_channel", r.reporting_channel(),
                                    v1::ReportingChannel_IsValid, true);
  c.KnownEnum<v1::RiskLevel>("risk_level", r.risk_level(), v1::RiskLevel_IsValid, false);
  c.KnownEnum<v1::Priority>("priority", r.priority(), v1::Priority_IsValid, false);
  c.KnownEnum<v1::NchiScreenedOut>("nchi_screened_out", r.nchi_screened_out(), v1::NchiScreenedOut_IsValid, false);

  if (r.strands_size() == 0) c.Add("strands", "at least one strand is required");
  if (r.strands_size() > kMaxStrands) c.Add("strands", absl::StrCat("at most ", kMaxStrands, " strands"));
  std::set<std::string> strands_seen;
  for (int i = 0; i < r.strands_size() && i < kMaxStrands; ++i) {
    const auto& s = r.strands(i);
    const std::string at = absl::StrCat("strands[", i, "]");
    const config::v1::StrandDefinition* def = partnership.FindStrand(s.strand());
    if (s.strand().empty()) {
      c.Add(at + ".strand", "required");
    } else if (def == nullptr) {
      c.Add(at + ".strand", "unknown strand; see the partnership's strand list");
    } else if (!strands_seen.insert(s.strand()).second) {
      c.Add(at + ".strand", "strand listed twice");
    }
    c.KnownEnum<v1::Strand::Basis>(at + ".basis", s.basis(), v1::Strand::Basis_IsValid, true);
    c.MaxBytes(at + ".targeted_religion", s.targeted_religion(), kMaxShortTextBytes);
    c.MaxBytes(at + ".other_group", s.other_group(), kMaxShortTextBytes);
    if (def != nullptr && def->requires_targeted_religion() && s.targeted_religion().empty()) {
      c.Add(at + ".targeted_religion", "required for this strand");
    }
    if (def != nullptr && def->requires_group_description() && s.other_group().empty()) {
      c.Add(at + ".other_group", "required for this strand");
    }
  }

  c.MaxBytes("online_platform", r.online_platform(), kMaxShortTextBytes);
  if (!r.online() && !r.online_platform().empty()) c.Add("online_platform", "set only when online is true");

  if (r.area().empty()) {
    c.Add("area", "required");
  } else if (partnership.FindArea(r.area()) == nullptr) {
    c.Add("area", "unknown area; see the partnership's area list");
  }
  c.NotInFuture("occur_time", r.occur_time(), now);
  c.NotInFuture("report_time", r.report_time(), now);

  c.Required("incident_narrative", !r.incident_narrative().empty());
  c.MaxBytes("incident_narrative", r.incident_narrative(), kMaxNarrativeBytes);

  if (r.has_location()) {
    const auto& l = r.location();
    c.MaxBytes("location.description", l.description(), kMaxShortTextBytes);
    c.MaxBytes("location.postcode", l.postcode(), 16);
    // Written so that NaN fails too.
    if (!(l.latitude() >= -90 && l.latitude() <= 90)) c.Add("location.latitude", "must be within [-90, 90]");
    if (!(l.longitude() >= -180 && l.longitude() <= 180)) {
      c.Add("location.longitude", "must be within [-180, 180]");
    }
  }

  if (!r.has_victim()) {
    c.Add("victim", "required");
  } else {
    const auto& v = r.victim();
    c.Required("victim.given_name", !v.given_name().empty());
    c.MaxBytes("victim.given_name", v.given_name(), kMaxShortTextBytes);
    c.MaxBytes("victim.family_name", v.family_name(), kMaxShortTextBytes);
    if (!v.birth_date().empty() && !IsIsoDate(v.birth_date())) c.Add("victim.birth_date", "must be a date YYYY-MM-DD");
    c.MaxBytes("victim.phone", v.phone(), 40);
    c.MaxBytes("victim.email", v.email(), 254);
    if (v.address().lines_size() > 6) c.Add("victim.address.lines", "at most 6 lines");
    for (int i = 0; i < v.address().lines_size(); ++i) {
      c.MaxBytes(absl::StrCat("victim.address.lines[", i, "]"), v.address().lines(i), kMaxShortTextBytes);
    }
    c.MaxBytes("victim.address.town", v.address().town(), kMaxShortTextBytes);
    c.MaxBytes("victim.address.postcode", v.address().postcode(), 16);
    c.MaxBytes("victim.safe_contact.notes", v.safe_contact().notes(), kMaxNoteBytes);
    for (int i = 0; i < v.safe_contact().methods_size(); ++i) {
      if (!v1::SafeContactPreferences::Method_IsValid(v.safe_contact().methods(i))) {
        c.Add(absl::StrCat("victim.safe_contact.methods[", i, "]"), "unknown value");
      }
    }
    c.MaxBytes("victim.vulnerability_notes", v.vulnerability_notes(), kMaxNoteBytes);
    c.KnownEnum<v1::Consent::Status>("victim.consent.status", v.consent().status(),
                                     v1::Consent::Status_IsValid, true);
    c.MaxBytes("victim.consent.lawful_basis", v.consent().lawful_basis(), kMaxShortTextBytes);
    // Without consent, sharing needs a recorded lawful basis (UK GDPR Art 6/9,
    // DPA 2018 Sch 1, Crime and Disorder Act 1998 s115).
    const auto status = v.consent().status();
    if (status != v1::Consent::GIVEN && status != v1::Consent::STATUS_UNSPECIFIED &&
        v.consent().lawful_basis().empty()) {
      c.Add("victim.consent.lawful_basis", "required when consent is not given");
    }
    c.NotInFuture("victim.consent.record_time", v.consent().record_time(), now);
  }

  CheckSubjects("subjects", r.subjects(), &c);
  // Which regime allows subject data where is the agreement's (RegimeViolations);
  // here only its form.
  if (r.has_nchi_subject_record()) {
    const auto& record = r.nchi_subject_record();
    CheckSubjects("nchi_subject_record.subjects", record.subjects(), &c);
    c.Required("nchi_subject_record.subjects", record.subjects_size() > 0);
    c.Required("nchi_subject_record.attestation", record.has_attestation());
    const auto& attestation = record.attestation();
    c.KnownEnum<v1::ThresholdAttestation::Limb>("nchi_subject_record.attestation.limb", attestation.limb(),
                                                v1::ThresholdAttestation::Limb_IsValid, true);
    c.Required("nchi_subject_record.attestation.rationale", !attestation.rationale().empty());
    c.MaxBytes("nchi_subject_record.attestation.rationale", attestation.rationale(), kMaxNoteBytes);
    c.Required("nchi_subject_record.attestation.supervising_officer", !attestation.supervising_officer().empty());
    c.MaxBytes("nchi_subject_record.attestation.supervising_officer", attestation.supervising_officer(),
               kMaxShortTextBytes);
  }
  c.MaxBytes("police_crime_reference", r.police_crime_reference(), 64);

  if (r.recipient_agencies_size() == 0) c.Add("recipient_agencies", "at least one recipient is required");
  // How many is a limit of the server's (ReferralManager::Options), checked
  // before validation.
  std::set<std::string> recipients_seen;
  for (int i = 0; i < r.recipient_agencies_size(); ++i) {
    const std::string at = absl::StrCat("recipient_agencies[", i, "]");
    const std::string id = AgencyIdFromName(r.recipient_agencies(i));
    const config::v1::Agency* agency = id.empty() ? nullptr : partnership.FindAgency(id);
    if (id.empty()) {
      c.Add(at, "must be agencies/{agency_id}");
    } else if (agency == nullptr) {
      c.Add(at, "not an agency of this partnership");
    } else if (agency->suspended()) {
      c.Add(at, "this agency is suspended from the partnership");
    } else if (id == caller.agency_id) {
      c.Add(at, "the sender cannot be a recipient");
    } else if (!recipients_seen.insert(id).second) {
      c.Add(at, "recipient listed twice");
    }
  }
  return c.Take();
}

}  // namespace refx::core
