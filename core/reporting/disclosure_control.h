// Statistical disclosure control of the count tables refx releases to
// oversight groups: a small count can identify a victim ("2 disability hate
// incidents in Rutland in March"), so no released table may let a reader
// learn one, whether it is printed or worked out from the table's totals.
//
// The rules (the agreement's `statistical_disclosure`, LLR default the NHS
// Digital rule for sub-national counts): a zero is shown; a count from 1 to
// `suppress_below - 1` is withheld (primary suppression); every other count,
// totals included, is rounded to the nearest multiple of `round_to`, halves
// up. Then the table is attacked as a reader would attack it: the released
// values are turned into linear constraints (each row and column sums to its
// total, a rounded value is an interval, a withheld count is at least 1,
// since zeros are shown) and solved for the least and greatest value each
// withheld count can take (linear_bounds.h). A primary count is protected
// only if that range leaves the reader at least as many candidate values as
// the band 1..suppress_below-1 holds (and never fewer than two), so the
// release pins it no closer than the rule itself does; while one is not,
// the smallest shown non-zero count in its row or column is withheld too
// (secondary suppression) and the attack is run again.
#ifndef REFX_CORE_REPORTING_DISCLOSURE_CONTROL_H_
#define REFX_CORE_REPORTING_DISCLOSURE_CONTROL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace refx::core::reporting {

struct DisclosureRules {
  // Counts 1 .. suppress_below-1 are withheld (NHS Digital: 8, so 1-7; ONS
  // research outputs: 10).
  int64_t suppress_below = 8;
  // Every shown count is rounded to the nearest multiple (1: exact).
  int64_t round_to = 5;
};

// INVALID_ARGUMENT unless 2 <= suppress_below <= 1000, 1 <= round_to <= 100
// and a count of suppress_below does not round to 0.
absl::Status CheckDisclosureRules(const DisclosureRules& rules);

// The rules in the words printed on every release.
std::string DescribeRules(const DisclosureRules& rules);

// A two-way table of true counts; a one-way table has one column.
struct CountTable {
  std::vector<std::string> row_labels, column_labels;
  std::vector<std::vector<int64_t>> counts;  // [row][column], each >= 0
};

// One released count: a value, or withheld (primary and secondary
// suppression look the same to the reader).
struct ReleasedCount {
  bool withheld = false;
  int64_t value = 0;  // 0 when withheld
  bool operator==(const ReleasedCount&) const = default;
};

struct ProtectedTable {
  std::vector<std::string> row_labels, column_labels;
  // (rows + 1) x (columns + 1): the last column holds the row totals, the
  // last row the column totals, the last cell the grand total.
  std::vector<std::vector<ReleasedCount>> cells;
  // How many counts were withheld by each rule: for tests and for the
  // server's own figures only. Never release them: the number of primary
  // suppressions says how many cells hold 1..suppress_below-1, which the
  // release exists to hide (a reader must not tell the two kinds apart).
  int primary_withheld = 0;
  int secondary_withheld = 0;
  bool inner_withheld_entirely = false;
  // Set by ProtectMentionCrossCounts: the inner counts and the column totals
  // count mentions, the row totals and the grand total count referrals, and
  // `mention_total` is the mentions' grand total as the column margins
  // released it (the reader holds that table too).
  bool columns_count_mentions = false;
  ReleasedCount mention_total;
};

// The table as released under `rules`. INVALID_ARGUMENT for a ragged table,
// a negative count or rules out of range.
absl::StatusOr<ProtectedTable> ProtectCounts(const CountTable& table, const DisclosureRules& rules);

// A two-way table released beside the one-way tables of its two dimensions
// (ADR 8, margins first): its row totals, column totals and grand total are
// taken as those tables released them (`row_margins` has one row per row of
// `table`, `column_margins` one per column; both one-way, same unit), so
// every release shows each total the same way, and only inner counts are
// withheld to protect the primary counts and the margins' withheld totals.
// If no inner count is left to withhold while one is still exposed, every
// inner count is withheld (`inner_withheld_entirely`): the release is then
// its margins, already protected on their own. INVALID_ARGUMENT when the
// margins do not match the table's shape or grand total.
absl::StatusOr<ProtectedTable> ProtectCrossCounts(const CountTable& table, const ProtectedTable& row_margins,
                                                  const ProtectedTable& column_margins,
                                                  const DisclosureRules& rules);

// What a reader knows relates two tables released together over the same
// rows: in every row, the counts in `smaller_columns` of table
// `smaller_table` add up to at most those in `larger_columns` of table
// `larger_table` (response times: a referral completed within 7 days was
// answered within 7 days).
struct KnownInequality {
  size_t smaller_table = 0;
  std::vector<int> smaller_columns;
  size_t larger_table = 0;
  std::vector<int> larger_columns;
};

// Two-way tables released together over the same rows (response times:
// time to first response and to completion per recipient agency type),
// each with the same row margins and its own column margins, protected as
// ProtectCrossCounts protects one but attacked together: a count withheld
// in one must not be narrowed by the other, nor by `known` (an inequality
// the true counts break is left out: it would mislead a reader, not help
// one). INVALID_ARGUMENT as ProtectCrossCounts, or for an inequality naming
// a table or column that is not there.
absl::StatusOr<std::vector<ProtectedTable>> ProtectCrossCountsTogether(
    const std::vector<CountTable>& tables, const ProtectedTable& row_margins,
    const std::vector<ProtectedTable>& column_margins, const std::vector<KnownInequality>& known,
    const DisclosureRules& rules);

// A two-way table whose columns are a multi-valued dimension (strands: a
// referral with several counts once under each, and under at least one),
// so its inner counts are mentions while its rows count referrals (ADR 8
// (b)). Its row totals are the rows' own one-way table in referrals
// (`row_margins`, released from `row_referrals`), the very numbers a
// one-way release of that dimension shows, rather than the rows' mention
// totals, whose difference from those would be the number of extra
// mentions per row, unprotected. Its column totals are the columns' one-way
// table in mentions. The reader's constraints are then inequalities too:
// each inner count is at most its row's referrals, and a row's counts add
// up to at least them. The extra mentions of a row (its counts' sum less
// its referrals) are defended like a withheld count when they number
// 1..suppress_below-1: a reader must be left unable to rule out none, or
// the rule's band of values. INVALID_ARGUMENT when a count exceeds its
// row's referrals or a row's counts add up to fewer than them.
absl::StatusOr<ProtectedTable> ProtectMentionCrossCounts(const CountTable& mentions,
                                                         const std::vector<int64_t>& row_referrals,
                                                         const ProtectedTable& row_margins,
                                                         const ProtectedTable& column_margins,
                                                         const DisclosureRules& rules);

// What a reader of `released` can work out about each cell: the least and
// greatest value consistent with everything released (for a shown count,
// its rounding interval narrowed by the rest). Same shape as `cells`;
// `max` is -1 where nothing caps the cell.
struct DeducibleRange {
  int64_t min = 0;
  int64_t max = 0;
};
absl::StatusOr<std::vector<std::vector<DeducibleRange>>> DeducibleRanges(const ProtectedTable& released,
                                                                         const DisclosureRules& rules);

}  // namespace refx::core::reporting

#endif  // REFX_CORE_REPORTING_DISCLOSURE_CONTROL_H_
