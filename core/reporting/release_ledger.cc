#include "core/reporting/release_ledger.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace refx::core::reporting {
namespace {

// The dimensions of `entry` as its table is read: a response-times release
// is recipient agency type by response band.
std::vector<std::string> TableDimensions(const LedgerEntry& entry) {
  if (entry.table == "response-times") return {"recipient_agency_type", kResponseBands};
  return entry.dimensions;
}

}  // namespace

std::string PeriodMarker(absl::string_view period) { return absl::StrCat(" period=", period, " "); }

std::string LedgerText(const LedgerEntry& entry) {
  std::string text = absl::StrCat(entry.release, " ", entry.table, PeriodMarker(entry.period));
  if (entry.table != "response-times") absl::StrAppend(&text, "by=", absl::StrJoin(entry.dimensions, ","), " ");
  absl::StrAppend(&text, "scope=", entry.scope);
  return text;
}

absl::StatusOr<LedgerEntry> ParseLedgerEntry(absl::string_view text) {
  const std::vector<absl::string_view> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
  LedgerEntry entry;
  if (words.size() < 4 || !absl::StartsWith(words[0], "releases/")) {
    return absl::InvalidArgumentError("not a release ledger entry");
  }
  entry.release = std::string(words[0]);
  entry.table = std::string(words[1]);
  if (entry.table != "counts" && entry.table != "response-times") {
    return absl::InvalidArgumentError("a ledger entry of an unknown table");
  }
  for (size_t i = 2; i < words.size(); ++i) {
    const std::pair<absl::string_view, absl::string_view> field = absl::StrSplit(words[i], absl::MaxSplits('=', 1));
    if (field.first == "period") {
      entry.period = std::string(field.second);
    } else if (field.first == "by") {
      entry.dimensions = absl::StrSplit(field.second, ',', absl::SkipEmpty());
    } else if (field.first == "scope") {
      entry.scope = std::string(field.second);
    }
  }
  if (entry.period.empty() || entry.scope.empty() || (entry.table == "counts" && entry.dimensions.empty())) {
    return absl::InvalidArgumentError("a ledger entry without its period, scope or dimensions");
  }
  return entry;
}

const LedgerEntry* ConflictingRelease(const LedgerEntry& next, const std::vector<LedgerEntry>& earlier) {
  std::vector<std::string> mine = TableDimensions(next);
  // A one-way table is a margin: shown the same way by every release.
  if (mine.size() < 2) return nullptr;
  std::sort(mine.begin(), mine.end());
  for (const LedgerEntry& entry : earlier) {
    if (entry.period != next.period || entry.scope != next.scope) continue;
    std::vector<std::string> theirs = TableDimensions(entry);
    if (theirs.size() < 2) continue;
    std::sort(theirs.begin(), theirs.end());
    std::vector<std::string> shared;
    std::set_intersection(mine.begin(), mine.end(), theirs.begin(), theirs.end(), std::back_inserter(shared));
    if (shared.size() == 1) return &entry;
  }
  return nullptr;
}

}  // namespace refx::core::reporting
