#include "core/recording_regime.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace refx::core {

using google::protobuf::util::TimeUtil;

v1::RecordingRegime RegimeFor(v1::ReportType type, bool nchi_code_applies) {
  if (type == v1::HATE_CRIME) return v1::CRIME_RECORDING;
  return nchi_code_applies ? v1::NCHI_COP_2023 : v1::LOCAL_UK_GDPR;
}

std::vector<FieldViolation> RegimeViolations(const v1::Referral& referral, v1::RecordingRegime regime,
                                             const std::string& acting_user, const std::string& prefix) {
  std::vector<FieldViolation> out;
  const bool nchi = RestrictsSubjectData(regime);
  const bool screened_out = referral.nchi_screened_out() != v1::NCHI_SCREENED_OUT_UNSPECIFIED;
  if (nchi && referral.subjects_size() > 0) {
    out.push_back({absl::StrCat(prefix, ".subjects"),
                   screened_out ? "a report screened out under the NCHI Code of Practice 2023 or its successor "
                                  "keeps no subject data"
                                : "a police incident under the NCHI Code of Practice 2023 or its successor takes "
                                  "subject data only in nchi_subject_record, with a threshold attestation"});
  }
  if (!nchi && referral.has_nchi_subject_record()) {
    out.push_back({absl::StrCat(prefix, ".nchi_subject_record"),
                   "only for a police force's incident under the NCHI Code of Practice 2023 or its successor; "
                   "use subjects"});
  }
  if (!nchi && screened_out) {
    out.push_back({absl::StrCat(prefix, ".nchi_screened_out"),
                   "only for a report a police force screened under the NCHI Code of Practice 2023 or its "
                   "successor (a hate incident or an undetermined report)"});
  }
  if (nchi && screened_out && referral.has_nchi_subject_record()) {
    out.push_back({absl::StrCat(prefix, ".nchi_subject_record"),
                   "a report screened out under the NCHI Code of Practice 2023 or its successor keeps no "
                   "subject data"});
  }
  if (nchi && !screened_out && referral.has_nchi_subject_record()) {
    const std::string at = absl::StrCat(prefix, ".nchi_subject_record.attestation");
    const std::string& supervisor = referral.nchi_subject_record().attestation().supervising_officer();
    if (acting_user.empty()) {
      out.push_back({at, "needs the person attesting: send the x-refx-acting-user header"});
    } else if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(supervisor)) ==
               absl::AsciiStrToLower(absl::StripAsciiWhitespace(acting_user))) {
      out.push_back({at + ".supervising_officer", "must be someone other than the person attesting"});
    }
  }
  return out;
}

void StampRegime(v1::RecordingRegime regime, absl::Time now, const std::string& agreement_label,
                 const std::string& acting_user, v1::Referral* referral) {
  v1::RegimeRecord* record = referral->mutable_recording_regime();
  record->set_regime(regime);
  *record->mutable_apply_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  record->set_agreement(agreement_label);
  if (referral->has_nchi_subject_record()) {
    v1::ThresholdAttestation* attestation = referral->mutable_nchi_subject_record()->mutable_attestation();
    attestation->set_attested_by(acting_user);
    *attestation->mutable_attest_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  }
}

bool RegimeAllowsUpdate(v1::RecordingRegime regime, v1::CaseUpdate::Kind content_kind) {
  if (!RestrictsSubjectData(regime)) return true;
  const auto* value = v1::CaseUpdate::Kind_descriptor()->FindValueByNumber(content_kind);
  return value == nullptr || value->options().GetExtension(v1::content_class) != v1::DATA_CLASS_SUBJECT;
}

bool RestrictsSubjectData(v1::RecordingRegime regime) {
  return regime == v1::NCHI_COP_2023 || regime == v1::POLICE_POST_REVIEW;
}

}  // namespace refx::core
