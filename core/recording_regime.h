// The recording regime of a referral (docs/data-protection.md, "The
// recording regime"): which rules it was recorded under, decided at create
// from its report type and the sender's role in the agreement, and what that
// allows. Under the Non-Crime Hate Incidents Code of Practice 2023 a
// subject's personal data may be recorded only above the Code's threshold,
// attested by the person recording it and agreed by a supervisor; refx keeps
// it in its own data class (DATA_CLASS_NCHI_SUBJECT), which reaches nobody
// the agreement does not name.
#ifndef REFX_CORE_RECORDING_REGIME_H_
#define REFX_CORE_RECORDING_REGIME_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/status_details.h"
#include "refx/v1/case_update.pb.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

// The regime a referral of `type` is recorded under when its sender's role
// does (`nchi_code_applies`) or does not record under the NCHI Code. A report
// not yet determined by a police force is treated as an incident: the
// stricter rule holds until it is known to be a crime.
v1::RecordingRegime RegimeFor(v1::ReportType type, bool nchi_code_applies);

// Violations of where `referral` puts subject data under `regime`, with
// paths prefixed by `prefix`. `acting_user` is the person creating it, who
// attests (and so cannot also be the supervising officer). A report screened
// out under the Code (`nchi_screened_out`) keeps no subject data at all, and
// only a report under the Code can be screened out. Descriptions never echo
// a value.
std::vector<FieldViolation> RegimeViolations(const v1::Referral& referral, v1::RecordingRegime regime,
                                             const std::string& acting_user, const std::string& prefix);

// Records `regime` on `referral` as applied at `now` under the agreement
// `agreement_label`, and completes its attestation (who, when), if any.
void StampRegime(v1::RecordingRegime regime, absl::Time now, const std::string& agreement_label,
                 const std::string& acting_user, v1::Referral* referral);

// Whether a case update whose text says what a `content_kind` update says
// (its kind, or for a correction the kind it corrects) may be added to a
// referral under `regime`: under the NCHI Code, subject data is recorded
// only at create, with the attestation, so a kind whose `content_class` is
// subject data (a perpetrator action) is refused.
bool RegimeAllowsUpdate(v1::RecordingRegime regime, v1::CaseUpdate::Kind content_kind);

// Whether `regime` restricts subject data as the NCHI Code does: the Code,
// and its successor after the 2026 review until refx knows the successor's
// own rules (the stricter known rule holds).
bool RestrictsSubjectData(v1::RecordingRegime regime);

}  // namespace refx::core

#endif  // REFX_CORE_RECORDING_REGIME_H_
