// The release ledger's rule against combining tables (ADR 8, case (a)): in
// one period and scope, two cross-tables that share exactly one dimension
// (area x strand and area x channel) both show that dimension's totals;
// where the totals' own table withholds one, each table keeps its range
// wide, but a reader intersecting the two ranges may narrow it. So the
// second such table is refused; the same table again (the same numbers,
// since a period's counts do not change once it has ended) and tables
// sharing no dimension are released.
//
// The ledger is the audit log: each release's event carries the entry as
// text (`releases/<id> counts period=2026-Q3 by=area,strand scope=partnership`),
// parsed here. The refusal depends on the query and the ledger only, never
// on the counts, so it discloses nothing.
#ifndef REFX_CORE_REPORTING_RELEASE_LEDGER_H_
#define REFX_CORE_REPORTING_RELEASE_LEDGER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace refx::core::reporting {

struct LedgerEntry {
  std::string release;  // releases/<id>
  std::string table;    // "counts" or "response-times"
  std::string period;   // its label: 2026-07, 2026-Q3, 2026
  // Lower-case dimension names, in the table's order. A response-times
  // release is one table of recipient agency type by response band.
  std::vector<std::string> dimensions;
  std::string scope;  // "own" or "partnership"
};

// The dimension a response-times release crosses recipient agency types with.
inline constexpr char kResponseBands[] = "response_bands";

// The entry as the audit event carries it, and back. INVALID_ARGUMENT for
// text that is not an entry.
std::string LedgerText(const LedgerEntry& entry);
absl::StatusOr<LedgerEntry> ParseLedgerEntry(absl::string_view text);

// The text every entry of `period` contains (to find them in the log).
std::string PeriodMarker(absl::string_view period);

// The first of `earlier` (entries of the same period and scope) beside which
// `next` may not be released, or nullptr.
const LedgerEntry* ConflictingRelease(const LedgerEntry& next, const std::vector<LedgerEntry>& earlier);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_RELEASE_LEDGER_H_
