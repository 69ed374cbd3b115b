// The dimensions of the partnership's count tables: each one's labels,
// fixed from the registry and the API before any referral is read, so that
// no row or column depends on the data, and which labels a referral counts
// under given what the caller may read of it (`not shared` otherwise).
#ifndef REFX_CORE_REPORT_DIMENSIONS_H_
#define REFX_CORE_REPORT_DIMENSIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/partnership.h"
#include "core/redaction.h"
#include "refx/v1/referral.pb.h"
#include "refx/v1/reporting_service.pb.h"

namespace refx::core::reporting_dimensions {

// One dimension of a table: its labels, fixed before any referral is read,
// and how a referral's values map onto them.
struct Dimension {
  v1::ReportDimension id = v1::REPORT_DIMENSION_UNSPECIFIED;
  v1::DataClass data_class = v1::DATA_CLASS_REFERRAL_CORE;
  std::vector<std::string> labels;
  std::map<std::string, int, std::less<>> by_text;  // area, strand and agency ids
  std::map<int, int> by_number;                      // enum values
  int unlisted = -1;
  int not_shared = -1;
  int several = -1;            // recipient agency type: more than one
  bool derived = false;        // derived from other referrals (read_derived)
  // Outcome: each referral's outcome as at the period's end (by referral
  // id; absent or 0 = not completed then).
  std::map<std::string, int, std::less<>> outcome_at_end;

  int Add(std::string label) {
    labels.push_back(std::move(label));
    return static_cast<int>(labels.size()) - 1;
  }
};

// The dimension `id` for the registry in force; `own_scope` adds `not
// shared`. INVALID_ARGUMENT for an unknown dimension.
absl::StatusOr<Dimension> MakeDimension(v1::ReportDimension id, const Partnership& registry, bool own_scope);

// The label indices of `referral`'s values in `d` (a strand list gives
// several, each once, an empty one `unlisted`); `not shared` when `view`
// may not read them.
std::vector<int> ValuesOf(const Dimension& d, const v1::Referral& referral, const ReadView& view);

}  // namespace refx::core::reporting_dimensions

#endif  // REFX_CORE_REPORT_DIMENSIONS_H_
