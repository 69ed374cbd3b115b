#include "core/report_manager.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/referral_manager.h"
#include "core/referral_scan.h"
#include "core/report_dimensions.h"
#include "core/reporting/disclosure_control.h"
#include "core/reporting/release_period.h"
#include "core/reporting/response_times.h"
#include "refx/v1/referral_service.pb.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {
namespace {

using reporting_dimensions::Dimension;
using reporting_dimensions::MakeDimension;
using reporting_dimensions::ValuesOf;

using google::protobuf::util::TimeUtil;

constexpr char kMethod[] = "refx.v1.ReportingService.CountReferrals";
constexpr char kResponseTimesMethod[] = "refx.v1.ReportingService.ReportResponseTimes";
// INVALID_ARGUMENT naming `dimensions` unless one or two distinct, known ones.
absl::Status CheckDimensions(const v1::CountReferralsRequest& request) {
  std::vector<FieldViolation> violations;
  if (request.dimensions_size() < 1 || request.dimensions_size() > 2) {
    violations.push_back({"dimensions", "give one dimension (a one-way table) or two (rows, then columns)"});
  }
  std::set<int> seen;
  for (int i = 0; i < request.dimensions_size(); ++i) {
    const int d = request.dimensions(i);
    if (d == v1::REPORT_DIMENSION_UNSPECIFIED || !v1::ReportDimension_IsValid(d)) {
      violations.push_back({absl::StrCat("dimensions[", i, "]"),
                            "not a dimension (area, strand, report type, reporting channel, online, recipient "
                            "agency type, repeat victim, outcome)"});
    } else if (!seen.insert(d).second) {
      violations.push_back({absl::StrCat("dimensions[", i, "]"), "given twice"});
    }
  }
  if (!v1::ReportScope_IsValid(request.scope())) violations.push_back({"scope", "not a scope"});
  if (violations.empty()) return absl::OkStatus();
  return InvalidArgumentError("invalid report query", violations);
}

void SetCount(const reporting::ReleasedCount& count, v1::ReleasedCount* out) {
  out->set_withheld(count.withheld);
  out->set_value(count.value);
}

// The bytes a release id digests: the query and every released cell.
std::string Canonical(const v1::CountReferralsResponse& release, absl::string_view scope_agency) {
  std::string text = absl::StrCat("refx-release-v1;", release.period(), ";", release.scope(), ";", scope_agency, ";",
                                  release.agreement(), ";", release.unit(), ";");
  for (int d : release.dimensions()) absl::StrAppend(&text, d, ",");
  for (const std::string& label : release.column_labels()) absl::StrAppend(&text, label.size(), ":", label);
  for (const v1::ReleasedRow& row : release.rows()) {
    absl::StrAppend(&text, ";", row.label().size(), ":", row.label());
    for (const v1::ReleasedCount& count : row.counts()) {
      absl::StrAppend(&text, ",", count.withheld() ? "w" : absl::StrCat(count.value()));
    }
  }
  return text;
}

// A one-way table of `counts` under `labels`.
reporting::CountTable OneWay(const std::vector<std::string>& labels, const std::vector<int64_t>& counts) {
  reporting::CountTable t;
  t.row_labels = labels;
  t.column_labels = {"Count"};
  for (int64_t c : counts) t.counts.push_back({c});
  return t;
}

// The sums of `table`'s rows (or of its columns).
std::vector<int64_t> Sums(const reporting::CountTable& table, bool of_rows) {
  std::vector<int64_t> out(of_rows ? table.row_labels.size() : table.column_labels.size(), 0);
  for (size_t r = 0; r < table.row_labels.size(); ++r) {
    for (size_t c = 0; c < table.column_labels.size(); ++c) out[of_rows ? r : c] += table.counts[r][c];
  }
  return out;
}

// A two-way table protected margins first: each total as the one-way table
// of its dimension releases it. Strand columns count mentions and their rows
// referrals (`row_referrals`): the rows' one-way table is then the one a
// release of that dimension shows (ADR 8 (b)).
absl::StatusOr<reporting::ProtectedTable> ProtectTwoWay(const reporting::CountTable& table,
                                                        const std::vector<int64_t>& row_referrals,
                                                        bool columns_count_mentions,
                                                        const reporting::DisclosureRules& rules) {
  REFX_ASSIGN_OR_RETURN(
      const reporting::ProtectedTable row_margins,
      reporting::ProtectCounts(OneWay(table.row_labels, columns_count_mentions ? row_referrals : Sums(table, true)),
                               rules));
  REFX_ASSIGN_OR_RETURN(const reporting::ProtectedTable column_margins,
                        reporting::ProtectCounts(OneWay(table.column_labels, Sums(table, false)), rules));
  if (columns_count_mentions) {
    return reporting::ProtectMentionCrossCounts(table, row_referrals, row_margins, column_margins, rules);
  }
  return reporting::ProtectCrossCounts(table, row_margins, column_margins, rules);
}

// The two response-times tables, released together over the same rows
// (recipient agency type) and attacked together (ADR 8): each row's totals
// are the one-way counts by recipient agency type, and a reader knows that
// a referral completed was answered first, so completions within 7 days
// are at most the answers within 7 days and all completions at most all
// answers.
absl::StatusOr<std::vector<reporting::ProtectedTable>> ProtectResponseTimes(const reporting::CountTable& response,
                                                                            const reporting::CountTable& completion,
                                                                            const reporting::DisclosureRules& rules) {
  REFX_ASSIGN_OR_RETURN(const reporting::ProtectedTable by_type,
                        reporting::ProtectCounts(OneWay(response.row_labels, Sums(response, true)), rules));
  REFX_ASSIGN_OR_RETURN(const reporting::ProtectedTable by_response,
                        reporting::ProtectCounts(OneWay(response.column_labels, Sums(response, false)), rules));
  REFX_ASSIGN_OR_RETURN(const reporting::ProtectedTable by_completion,
                        reporting::ProtectCounts(OneWay(completion.column_labels, Sums(completion, false)), rules));
  static_assert(reporting::kAnsweredBands == 4 && reporting::kCompletedBands == 3, "the inequalities name bands");
  const std::vector<reporting::KnownInequality> known = {
      {.smaller_table = 1, .smaller_columns = {0}, .larger_table = 0, .larger_columns = {0, 1, 2}},
      {.smaller_table = 1, .smaller_columns = {0, 1, 2}, .larger_table = 0, .larger_columns = {0, 1, 2, 3}},
  };
  return reporting::ProtectCrossCountsTogether({response, completion}, by_type, {by_response, by_completion}, known,
                                               rules);
}

// The released rows of `released` (a one-way table: its counts only; a
// two-way table: its counts and totals), then the totals row.
void AddRows(const reporting::ProtectedTable& released, bool two_way,
             google::protobuf::RepeatedPtrField<v1::ReleasedRow>* out) {
  const size_t rows = released.row_labels.size(), columns = released.column_labels.size();
  for (size_t r = 0; r <= rows; ++r) {
    v1::ReleasedRow* row = out->Add();
    row->set_label(r < rows ? released.row_labels[r] : "Total");
    for (size_t c = 0; c < columns; ++c) SetCount(released.cells[r][c], row->add_counts());
    if (two_way) SetCount(released.cells[r][columns], row->add_counts());
  }
}

constexpr char kStrandCrossNote[] =
    "A referral with several strands counts once under each, so a row's strand counts may add up to more than its "
    "total, which counts referrals; the totals row counts strand mentions, its last cell referrals.";

std::string RulesText(const Agreement& agreement, absl::string_view extra) {
  std::string text = reporting::DescribeRules(agreement.disclosure_rules());
  if (!agreement.disclosure_source().empty()) absl::StrAppend(&text, " (", agreement.disclosure_source(), ")");
  if (!extra.empty()) absl::StrAppend(&text, " ", extra);
  return text;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

// A response-times table: the protected counts, then one median per row
// (the totals row's last), each gated on what the released counts show
// (core/reporting/response_times.h).
absl::Status FillTimesTable(const reporting::ProtectedTable& released, int timed_bands,
                            const std::vector<std::vector<absl::Duration>>& times,
                            const reporting::DisclosureRules& rules, v1::ResponseTimesTable* out) {
  for (const std::string& label : released.column_labels) out->add_column_labels(label);
  out->add_column_labels("Total");
  AddRows(released, /*two_way=*/true, out->mutable_rows());
  REFX_ASSIGN_OR_RETURN(auto ranges, reporting::DeducibleRanges(released, rules));
  for (size_t r = 0; r < times.size(); ++r) {
    const std::vector<reporting::DeducibleRange> behind(ranges[r].begin(), ranges[r].begin() + timed_bands);
    const reporting::MedianRelease median = reporting::ReleaseMedian(times[r], behind, rules);
    v1::ReleasedMedian* m = out->add_medians();
    m->set_withheld(median.withheld);
    m->set_hours(median.hours);
  }
  return absl::OkStatus();
}

void AppendCanonical(const v1::ResponseTimesTable& table, std::string* text) {
  for (const std::string& label : table.column_labels()) absl::StrAppend(text, label.size(), ":", label);
  for (const v1::ReleasedRow& row : table.rows()) {
    absl::StrAppend(text, ";", row.label().size(), ":", row.label());
    for (const v1::ReleasedCount& count : row.counts()) {
      absl::StrAppend(text, ",", count.withheld() ? "w" : absl::StrCat(count.value()));
    }
  }
  for (const v1::ReleasedMedian& m : table.medians()) {
    absl::StrAppend(text, ";m", m.withheld() ? "w" : absl::StrCat(m.hours()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReportManager>> ReportManager::Create(Options options) {
  if (options.registry == nullptr || options.store == nullptr || options.auditor == nullptr) {
    return absl::InvalidArgumentError("ReportManager needs a registry, a store and an auditor");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  if (options.scan_page < 1) options.scan_page = 500;
  return std::unique_ptr<ReportManager>(new ReportManager(std::move(options)));
}

absl::StatusOr<ReportManager::ReleaseQuery> ReportManager::CheckRelease(const Caller& caller,
                                                                        absl::string_view period_text,
                                                                        v1::ReportScope scope) const {
  const Agreement& agreement = *caller.agreement;
  absl::StatusOr<reporting::ReleasePeriod> period =
      reporting::ParseReleasePeriod(period_text, agreement.calendar().zone());
  if (!period.ok()) return InvalidArgumentError("invalid report query", {{"period", std::string(period.status().message())}});
  if (period->kind != agreement.release_period()) {
    const char* grid = reporting::PeriodKindName(agreement.release_period());
    return WithErrorInfo(
        FailedPreconditionError(
            absl::StrCat("the agreement releases tables by ", grid, " only; ask for a ", grid),
            {{"RELEASE_GRID", std::string(period_text),
              absl::StrCat("tables of other periods beside these would give away the ", grid,
                           " a withheld count is in")}}),
        "PERIOD_NOT_ON_RELEASE_GRID", {{"release_period", grid}});
  }
  if (options_.clock->Now() < period->end) {
    return WithErrorInfo(
        FailedPreconditionError(absl::StrCat(period->label, " has not ended; tables are released for ended periods"),
                                {{"PERIOD_ENDED", period->label, "the period must have ended"}}),
        "PERIOD_NOT_ENDED", {{"period_end", absl::FormatTime(absl::RFC3339_sec, period->end, absl::UTCTimeZone())}});
  }
  const bool own_scope = scope != v1::PARTNERSHIP;
  if (!own_scope && !agreement.Allows(caller.role, config::v1::REPORT_PARTNERSHIP)) {
    const absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("the agreement does not permit role '", caller.role,
                     "' reports over the whole partnership; ask for the agency's own referrals"));
    return WithErrorInfo(denied, "SCOPE_NOT_PERMITTED",
                         {{"permission", config::v1::Permission_Name(config::v1::REPORT_PARTNERSHIP)}});
  }
  return ReleaseQuery{*std::move(period), own_scope};
}

absl::Status ReportManager::ForEachReferral(
    const Caller& caller, const ReleaseQuery& query,
    const std::function<void(const storage::StoredReferral&, const v1::Referral&, const ReadView&)>& count) const {
  const Agreement& agreement = *caller.agreement;
  ReferralScan scan;
  scan.created_from = query.period.start;
  scan.created_to = query.period.end;
  scan.party_agency = query.own_scope ? caller.agency_id : std::string();
  scan.page = options_.scan_page;
  return ForEachCreatedReferral(options_.store, scan,
                                [&](const storage::StoredReferral& row, const v1::Referral& referral) {
                                  ReadView view{DataClassSet::All(), true};
                                  if (query.own_scope) {
                                    if (!agreement.RecordVisible(caller, referral)) return absl::OkStatus();
                                    view = agreement.ViewOf(caller, referral);
                                  }
                                  count(row, referral, view);
                                  return absl::OkStatus();
                                });
}

absl::Status ReportManager::ForEachEvent(const reporting::ReleasePeriod& period, int32_t kind,
                                         const std::function<absl::Status(const storage::ReferralEvent&)>& fn) const {
  storage::ScanEventsQuery scan;
  scan.from = period.start;
  scan.to = period.end;
  scan.kind = kind;
  scan.limit = options_.scan_page;
  for (;;) {
    REFX_ASSIGN_OR_RETURN(std::vector<storage::ReferralEvent> page, options_.store->ScanEvents(scan));
    for (const storage::ReferralEvent& event : page) REFX_RETURN_IF_ERROR(fn(event));
    if (static_cast<int>(page.size()) < scan.limit) return absl::OkStatus();
    scan.after_sequence = page.back().sequence;
  }
}

absl::StatusOr<v1::CountReferralsResponse> ReportManager::CountReferrals(const Caller& caller,
                                                                         const v1::CountReferralsRequest& request,
                                                                         CallAudit* audit) {
  const Agreement& agreement = *caller.agreement;
  REFX_RETURN_IF_ERROR(CheckDimensions(request));
  REFX_ASSIGN_OR_RETURN(const ReleaseQuery query, CheckRelease(caller, request.period(), request.scope()));
  const reporting::ReleasePeriod& period = query.period;
  const bool own_scope = query.own_scope;

  const std::shared_ptr<const Partnership> registry = options_.registry->Current();
  std::vector<Dimension> dims;
  for (int d : request.dimensions()) {
    REFX_ASSIGN_OR_RETURN(Dimension dim, MakeDimension(static_cast<v1::ReportDimension>(d), *registry, own_scope));
    if (dim.id == v1::OUTCOME) {
      // As at the period's end: the last change in it decides.
      REFX_RETURN_IF_ERROR(ForEachEvent(period, v1::WatchReferralsResponse::REFERRAL_CHANGED,
                                        [&](const storage::ReferralEvent& event) -> absl::Status {
        v1::Referral changed;
        if (!changed.ParseFromString(event.referral_document)) {
          return absl::InternalError("a stored event could not be read");
        }
        dim.outcome_at_end[event.referral_id] = changed.state() == v1::Referral::COMPLETED ? changed.outcome() : 0;
        return absl::OkStatus();
      }));
    }
    dims.push_back(std::move(dim));
  }
  const bool two_way = dims.size() == 2;
  // A strand table has strands as its columns, whichever way it was asked
  // for: its inner counts are mentions, its rows' totals referrals.
  if (two_way && dims[0].id == v1::STRAND) std::swap(dims[0], dims[1]);
  const bool strand_columns = two_way && dims[1].id == v1::STRAND;
  const size_t rows = dims[0].labels.size(), columns = two_way ? dims[1].labels.size() : 1;
  std::vector<std::vector<int64_t>> counts(rows, std::vector<int64_t>(columns, 0));
  std::vector<int64_t> row_referrals(rows, 0);
  REFX_RETURN_IF_ERROR(ForEachReferral(
      caller, query, [&](const storage::StoredReferral&, const v1::Referral& referral, const ReadView& view) {
        const std::vector<int> first = ValuesOf(dims[0], referral, view);
        const std::vector<int> second = two_way ? ValuesOf(dims[1], referral, view) : std::vector<int>{0};
        for (int r : first) {
          ++row_referrals[r];
          for (int c : second) ++counts[r][c];
        }
      }));

  const reporting::DisclosureRules rules = agreement.disclosure_rules();
  reporting::CountTable table;
  table.row_labels = dims[0].labels;
  table.column_labels = two_way ? dims[1].labels : std::vector<std::string>{"Count"};
  table.counts = counts;
  reporting::ProtectedTable released;
  if (!two_way) {
    REFX_ASSIGN_OR_RETURN(released, reporting::ProtectCounts(table, rules));
  } else {
    REFX_ASSIGN_OR_RETURN(released, ProtectTwoWay(table, row_referrals, strand_columns, rules));
  }

  v1::CountReferralsResponse out;
  out.set_period(period.label);
  *out.mutable_period_start() = ToTimestamp(period.start);
  *out.mutable_period_end() = ToTimestamp(period.end);
  for (const Dimension& d : dims) out.add_dimensions(d.id);
  out.set_scope(own_scope ? v1::OWN_REFERRALS : v1::PARTNERSHIP);
  const bool mentions = std::any_of(dims.begin(), dims.end(), [](const Dimension& d) { return d.id == v1::STRAND; });
  out.set_unit(mentions ? "strand mentions" : "referrals");
  for (const std::string& label : table.column_labels) out.add_column_labels(label);
  if (two_way) out.add_column_labels("Total");
  AddRows(released, two_way, out.mutable_rows());
  out.set_rules(RulesText(agreement, !mentions        ? ""
                                     : strand_columns ? kStrandCrossNote
                                                      : "A referral with several strands counts once under each."));
  out.set_agreement(agreement.Label());
  const std::string digest = HexEncode(Sha256(Canonical(out, own_scope ? caller.agency_id : "")));
  out.set_release(absl::StrCat("releases/", digest.substr(0, 32)));
  *out.mutable_release_time() = ToTimestamp(options_.clock->Now());

  // The ledger entry: which release, of which query, went to whom.
  std::vector<std::string> dimension_names;
  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  for (const Dimension& d : dims) {
    dimension_names.push_back(absl::AsciiStrToLower(v1::ReportDimension_Name(d.id)));
    disclosed.classes.Add(d.data_class);
  }
  if (std::any_of(dims.begin(), dims.end(), [](const Dimension& d) { return d.derived; })) {
    disclosed.derived.push_back("repeat_victim_count");
  }
  storage::AuditRecord event = options_.auditor->Build(caller, kMethod, AuditAction::kDisclosure, {}, disclosed,
                                                       absl::StatusCode::kOk);
  const reporting::LedgerEntry entry{out.release(), "counts", period.label, dimension_names,
                                     own_scope ? "own" : "partnership"};
  REFX_RETURN_IF_ERROR(RecordRelease(caller, entry, std::move(event), audit));
  return out;
}

absl::StatusOr<v1::ReportResponseTimesResponse> ReportManager::ReportResponseTimes(
    const Caller& caller, const v1::ReportResponseTimesRequest& request, CallAudit* audit) {
  const Agreement& agreement = *caller.agreement;
  if (!v1::ReportScope_IsValid(request.scope())) {
    return InvalidArgumentError("invalid report query", {{"scope", "not a scope"}});
  }
  REFX_ASSIGN_OR_RETURN(const ReleaseQuery query, CheckRelease(caller, request.period(), request.scope()));
  const reporting::ReleasePeriod& period = query.period;
  const std::shared_ptr<const Partnership> registry = options_.registry->Current();
  REFX_ASSIGN_OR_RETURN(const Dimension by_type, MakeDimension(v1::RECIPIENT_AGENCY_TYPE, *registry, query.own_scope));

  // The cohort: referrals created in the period, as CountReferrals counts
  // them, so the rows' totals are that table's by recipient agency type.
  struct Counted {
    int row = 0;
    reporting::ReferralTimeline timeline;
    bool redirected = false;  // its deadline may since have been reset
  };
  std::map<std::string, Counted, std::less<>> cohort;
  REFX_RETURN_IF_ERROR(ForEachReferral(
      caller, query, [&](const storage::StoredReferral& row, const v1::Referral& referral, const ReadView& view) {
        Counted c;
        c.row = ValuesOf(by_type, referral, view).front();
        c.timeline.create = row.create_time;
        c.timeline.deadline = FromTimestamp(referral.response_deadline());
        c.redirected = referral.redirected_agencies_size() > 0;
        cohort.emplace(row.id, std::move(c));
      }));
  // What happened to them before the period ended: the event log, never
  // their state now, so the release does not change after the period.
  REFX_RETURN_IF_ERROR(ForEachEvent(period, v1::WatchReferralsResponse::REFERRAL_CHANGED,
                                    [&](const storage::ReferralEvent& event) -> absl::Status {
    auto it = cohort.find(event.referral_id);
    if (it == cohort.end()) return absl::OkStatus();
    v1::Referral changed;
    if (!changed.ParseFromString(event.referral_document)) return absl::InternalError("a stored event could not be read");
    reporting::ReferralTimeline& t = it->second.timeline;
    switch (changed.state()) {
      case v1::Referral::ACCEPTED:
      case v1::Referral::DECLINED:
      case v1::Referral::REDIRECTED:
        if (!t.first_response && !t.withdrawn) t.first_response = event.time;
        break;
      case v1::Referral::CANCELLED:
        if (!t.first_response && !t.withdrawn) t.withdrawn = event.time;
        break;
      case v1::Referral::COMPLETED:
        if (!t.completed) t.completed = event.time;
        break;
      default:
        break;
    }
    return absl::OkStatus();
  }));
  // A referral unanswered at the period's end and redirected since has a
  // deadline reset by the redirect: its own is the one it was created with.
  std::set<std::string, std::less<>> reset;
  for (const auto& [id, c] : cohort) {
    if (c.redirected && !c.timeline.first_response && !c.timeline.withdrawn) reset.insert(id);
  }
  if (!reset.empty()) {
    REFX_RETURN_IF_ERROR(ForEachEvent(period, v1::WatchReferralsResponse::REFERRAL_CREATED,
                                      [&](const storage::ReferralEvent& event) -> absl::Status {
      if (!reset.contains(event.referral_id)) return absl::OkStatus();
      v1::Referral created;
      if (!created.ParseFromString(event.referral_document)) {
        return absl::InternalError("a stored event could not be read");
      }
      cohort[event.referral_id].timeline.deadline = FromTimestamp(created.response_deadline());
      return absl::OkStatus();
    }));
  }

  const size_t rows = by_type.labels.size();
  reporting::CountTable response, completion;
  response.row_labels = completion.row_labels = by_type.labels;
  response.column_labels = reporting::FirstResponseBands();
  completion.column_labels = reporting::CompletionBands();
  response.counts.assign(rows, std::vector<int64_t>(response.column_labels.size(), 0));
  completion.counts.assign(rows, std::vector<int64_t>(completion.column_labels.size(), 0));
  std::vector<std::vector<absl::Duration>> to_response(rows + 1), to_completion(rows + 1);
  for (const auto& [id, c] : cohort) {
    const reporting::ReferralTimeline& t = c.timeline;
    const int band = reporting::FirstResponseBand(t, period.end);
    ++response.counts[c.row][band];
    if (band < reporting::kAnsweredBands) {
      to_response[c.row].push_back(*t.first_response - t.create);
      to_response[rows].push_back(*t.first_response - t.create);
    }
    const int done = reporting::CompletionBand(t, period.end);
    ++completion.counts[c.row][done];
    if (done < reporting::kCompletedBands) {
      to_completion[c.row].push_back(*t.completed - t.create);
      to_completion[rows].push_back(*t.completed - t.create);
    }
  }

  const reporting::DisclosureRules rules = agreement.disclosure_rules();
  REFX_ASSIGN_OR_RETURN(const std::vector<reporting::ProtectedTable> released,
                        ProtectResponseTimes(response, completion, rules));
  const reporting::ProtectedTable& released_response = released[0];
  const reporting::ProtectedTable& released_completion = released[1];

  v1::ReportResponseTimesResponse out;
  out.set_period(period.label);
  *out.mutable_period_start() = ToTimestamp(period.start);
  *out.mutable_period_end() = ToTimestamp(period.end);
  out.set_scope(query.own_scope ? v1::OWN_REFERRALS : v1::PARTNERSHIP);
  REFX_RETURN_IF_ERROR(FillTimesTable(released_response, reporting::kAnsweredBands, to_response, rules,
                                      out.mutable_first_response()));
  REFX_RETURN_IF_ERROR(FillTimesTable(released_completion, reporting::kCompletedBands, to_completion, rules,
                                      out.mutable_completion()));
  out.set_rules(RulesText(agreement,
                          "Medians are withheld unless the released counts show at least the threshold of "
                          "referrals behind them."));
  out.set_agreement(agreement.Label());
  std::string canonical = absl::StrCat("refx-release-v1;response-times;", out.period(), ";", out.scope(), ";",
                                       query.own_scope ? caller.agency_id : "", ";", out.agreement(), ";");
  AppendCanonical(out.first_response(), &canonical);
  AppendCanonical(out.completion(), &canonical);
  out.set_release(absl::StrCat("releases/", HexEncode(Sha256(canonical)).substr(0, 32)));
  *out.mutable_release_time() = ToTimestamp(options_.clock->Now());

  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  storage::AuditRecord event = options_.auditor->Build(caller, kResponseTimesMethod, AuditAction::kDisclosure, {},
                                                       disclosed, absl::StatusCode::kOk);
  const reporting::LedgerEntry entry{
      out.release(), "response-times", period.label, {}, query.own_scope ? "own" : "partnership"};
  REFX_RETURN_IF_ERROR(RecordRelease(caller, entry, std::move(event), audit));
  return out;
}

absl::Status ReportManager::RecordRelease(const Caller& caller, const reporting::LedgerEntry& entry,
                                          storage::AuditRecord event, CallAudit* audit) const {
  event.release = reporting::LedgerText(entry);
  const bool own = entry.scope == "own";
  const auto check = [&](const std::vector<storage::LedgerRow>& rows) -> absl::Status {
    std::vector<reporting::LedgerEntry> earlier;
    for (const storage::LedgerRow& row : rows) {
      // An agency's own referrals are its own population.
      if (own && row.agency_id != caller.agency_id) continue;
      absl::StatusOr<reporting::LedgerEntry> parsed = reporting::ParseLedgerEntry(row.release);
      if (!parsed.ok()) return absl::InternalError("the release ledger holds an entry refx cannot read");
      earlier.push_back(*std::move(parsed));
    }
    const reporting::LedgerEntry* conflict = reporting::ConflictingRelease(entry, earlier);
    if (conflict == nullptr) return absl::OkStatus();
    const std::string theirs = conflict->table == "response-times" ? std::string("response times")
                                                                   : absl::StrJoin(conflict->dimensions, " x ");
    return WithErrorInfo(
        FailedPreconditionError(
            absl::StrCat("the ledger holds ", conflict->release, " (", theirs, ") for ", entry.period,
                         ", which shares a dimension with this table: the two could be combined to narrow a "
                         "withheld total. Ask for that table, or for a table sharing no dimension with it"),
            {{"RELEASE_LEDGER", conflict->release,
              "a cross-table of the same period and scope sharing exactly one dimension with this one"}}),
        "RELEASE_WOULD_COMBINE", {{"release", conflict->release}, {"period", entry.period}});
  };
  REFX_RETURN_IF_ERROR(options_.store->RecordRelease(event, reporting::PeriodMarker(entry.period), check));
  audit->recorded = true;  // written: the answer waits for nothing more
  return absl::OkStatus();
}

}  // namespace refx::core
