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
#include "core/reporting/disclosure_control.h"
#include "core/reporting/release_period.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kMethod[] = "refx.v1.ReportingService.CountReferrals";
// A value the caller's view of a referral withholds (own-referrals scope).
constexpr char kNotShared[] = "not shared";
// A value no label of the registry or the API names (e.g. an area since
// removed from the registry).
constexpr char kUnlisted[] = "unlisted";

// One dimension of a table: its labels, fixed before any referral is read,
// and how a referral's values map onto them.
struct Dimension {
  v1::ReportDimension id = v1::REPORT_DIMENSION_UNSPECIFIED;
  v1::DataClass data_class = v1::DATA_CLASS_REFERRAL_CORE;
  std::vector<std::string> labels;
  std::map<std::string, int, std::less<>> by_text;  // area and strand ids
  std::map<int, int> by_number;                      // enum values
  int unlisted = -1;
  int not_shared = -1;

  int Add(std::string label) {
    labels.push_back(std::move(label));
    return static_cast<int>(labels.size()) - 1;
  }
};

// `HATE_CRIME` -> `hate crime`; `REPORTING_CHANNEL_THIRD_PARTY_CENTRE` ->
// `third party centre`.
std::string EnumLabel(absl::string_view name, absl::string_view prefix) {
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  std::string label = absl::AsciiStrToLower(name);
  for (char& c : label) c = c == '_' ? ' ' : c;
  return label;
}

void AddEnumLabels(const google::protobuf::EnumDescriptor* type, absl::string_view prefix, Dimension* d) {
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    d->by_number[type->value(i)->number()] = d->Add(EnumLabel(type->value(i)->name(), prefix));
  }
}

absl::StatusOr<Dimension> MakeDimension(v1::ReportDimension id, const Partnership& registry, bool own_scope) {
  Dimension d;
  d.id = id;
  switch (id) {
    case v1::AREA:
      for (const auto& area : registry.config().areas()) d.by_text[area.id()] = d.Add(area.id());
      d.unlisted = d.Add(kUnlisted);
      break;
    case v1::STRAND:
      d.data_class = v1::DATA_CLASS_PROTECTED_CHARACTERISTICS;
      for (const auto& strand : registry.config().strands()) d.by_text[strand.id()] = d.Add(strand.id());
      d.unlisted = d.Add(kUnlisted);
      break;
    case v1::REPORT_TYPE:
      AddEnumLabels(v1::ReportType_descriptor(), "", &d);
      d.unlisted = d.Add(kUnlisted);
      break;
    case v1::REPORTING_CHANNEL:
      AddEnumLabels(v1::ReportingChannel_descriptor(), "REPORTING_CHANNEL_", &d);
      d.unlisted = d.Add(kUnlisted);
      break;
    case v1::ONLINE:
      d.by_number[1] = d.Add("online");
      d.by_number[0] = d.Add("not online");
      break;
    default:
      return absl::InvalidArgumentError("unknown dimension");
  }
  if (own_scope) d.not_shared = d.Add(kNotShared);
  return d;
}

// The label indices of `referral`'s values in `d` (a strand list gives
// several, each once); `not shared` when the caller may not read them.
std::vector<int> ValuesOf(const Dimension& d, const v1::Referral& referral, bool readable) {
  if (!readable) return {d.not_shared};
  auto text = [&](absl::string_view value) {
    auto it = d.by_text.find(value);
    return it == d.by_text.end() ? d.unlisted : it->second;
  };
  auto number = [&](int value) {
    auto it = d.by_number.find(value);
    return it == d.by_number.end() ? d.unlisted : it->second;
  };
  switch (d.id) {
    case v1::AREA: return {text(referral.area())};
    case v1::STRAND: {
      std::set<int> seen;
      for (const v1::Strand& s : referral.strands()) seen.insert(text(s.strand()));
      return {seen.begin(), seen.end()};
    }
    case v1::REPORT_TYPE: return {number(referral.report_type())};
    case v1::REPORTING_CHANNEL: return {number(referral.reporting_channel())};
    case v1::ONLINE: return {number(referral.online() ? 1 : 0)};
    default: return {};
  }
}

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
      violations.push_back({absl::StrCat("dimensions[", i, "]"), "not a dimension (area, strand, report type, "
                                                                 "reporting channel, online)"});
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

}  // namespace

absl::StatusOr<std::unique_ptr<ReportManager>> ReportManager::Create(Options options) {
  if (options.registry == nullptr || options.store == nullptr || options.auditor == nullptr) {
    return absl::InvalidArgumentError("ReportManager needs a registry, a store and an auditor");
  }
  if (options.clock == nullptr) options.clock = SystemClock::Get();
  if (options.scan_page < 1) options.scan_page = 500;
  return std::unique_ptr<ReportManager>(new ReportManager(std::move(options)));
}

absl::StatusOr<v1::CountReferralsResponse> ReportManager::CountReferrals(const Caller& caller,
                                                                         const v1::CountReferralsRequest& request,
                                                                         CallAudit* audit) {
  const Agreement& agreement = *caller.agreement;
  REFX_RETURN_IF_ERROR(CheckDimensions(request));
  absl::StatusOr<reporting::ReleasePeriod> period =
      reporting::ParseReleasePeriod(request.period(), agreement.calendar().zone());
  if (!period.ok()) return InvalidArgumentError("invalid report query", {{"period", std::string(period.status().message())}});
  if (period->kind != agreement.release_period()) {
    const char* grid = reporting::PeriodKindName(agreement.release_period());
    return WithErrorInfo(
        FailedPreconditionError(
            absl::StrCat("the agreement releases tables by ", grid, " only; ask for a ", grid),
            {{"RELEASE_GRID", request.period(),
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
  const bool own_scope = request.scope() != v1::PARTNERSHIP;
  if (!own_scope && !agreement.Allows(caller.role, config::v1::REPORT_PARTNERSHIP)) {
    const absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("the agreement does not permit role '", caller.role,
                     "' reports over the whole partnership; ask for the agency's own referrals"));
    return WithErrorInfo(denied, "SCOPE_NOT_PERMITTED", {{"permission", config::v1::Permission_Name(config::v1::REPORT_PARTNERSHIP)}});
  }

  const std::shared_ptr<const Partnership> registry = options_.registry->Current();
  std::vector<Dimension> dims;
  for (int d : request.dimensions()) {
    REFX_ASSIGN_OR_RETURN(Dimension dim, MakeDimension(static_cast<v1::ReportDimension>(d), *registry, own_scope));
    dims.push_back(std::move(dim));
  }
  const bool two_way = dims.size() == 2;
  const size_t rows = dims[0].labels.size(), columns = two_way ? dims[1].labels.size() : 1;
  std::vector<std::vector<int64_t>> counts(rows, std::vector<int64_t>(columns, 0));

  storage::ScanReferralsQuery scan;
  scan.created_from = period->start;
  scan.created_to = period->end;
  scan.party_agency = own_scope ? caller.agency_id : std::string();
  scan.limit = options_.scan_page;
  for (;;) {
    REFX_ASSIGN_OR_RETURN(std::vector<storage::StoredReferral> page, options_.store->ScanReferrals(scan));
    for (const storage::StoredReferral& row : page) {
      v1::Referral referral;
      if (!referral.ParseFromString(row.document)) return absl::InternalError("a stored referral could not be read");
      DataClassSet readable = DataClassSet::All();
      if (own_scope) {
        if (!agreement.RecordVisible(caller, referral)) continue;
        readable = agreement.ReadableClasses(caller, referral);
      }
      const std::vector<int> first = ValuesOf(dims[0], referral, readable.Contains(dims[0].data_class));
      const std::vector<int> second =
          two_way ? ValuesOf(dims[1], referral, readable.Contains(dims[1].data_class)) : std::vector<int>{0};
      for (int r : first) {
        for (int c : second) ++counts[r][c];
      }
    }
    if (static_cast<int>(page.size()) < scan.limit) break;
    scan.after = storage::ListCursor{page.back().create_time, page.back().id};
  }

  const reporting::DisclosureRules rules = agreement.disclosure_rules();
  reporting::CountTable table;
  table.row_labels = dims[0].labels;
  table.column_labels = two_way ? dims[1].labels : std::vector<std::string>{"Count"};
  table.counts = counts;
  reporting::ProtectedTable released;
  if (!two_way) {
    REFX_ASSIGN_OR_RETURN(released, reporting::ProtectCounts(table, rules));
  } else {
    // Margins first: each total as the one-way table of its dimension (in
    // this table's unit) releases it.
    reporting::CountTable by_row, by_column;
    by_row.column_labels = by_column.column_labels = {"Count"};
    by_row.row_labels = table.row_labels;
    by_column.row_labels = table.column_labels;
    by_row.counts.assign(rows, {0});
    by_column.counts.assign(columns, {0});
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < columns; ++c) {
        by_row.counts[r][0] += counts[r][c];
        by_column.counts[c][0] += counts[r][c];
      }
    }
    REFX_ASSIGN_OR_RETURN(reporting::ProtectedTable row_margins, reporting::ProtectCounts(by_row, rules));
    REFX_ASSIGN_OR_RETURN(reporting::ProtectedTable column_margins, reporting::ProtectCounts(by_column, rules));
    REFX_ASSIGN_OR_RETURN(released, reporting::ProtectCrossCounts(table, row_margins, column_margins, rules));
  }

  v1::CountReferralsResponse out;
  out.set_period(period->label);
  *out.mutable_period_start() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(period->start));
  *out.mutable_period_end() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(period->end));
  for (const Dimension& d : dims) out.add_dimensions(d.id);
  out.set_scope(own_scope ? v1::OWN_REFERRALS : v1::PARTNERSHIP);
  const bool mentions = std::any_of(dims.begin(), dims.end(), [](const Dimension& d) { return d.id == v1::STRAND; });
  out.set_unit(mentions ? "strand mentions" : "referrals");
  for (const std::string& label : table.column_labels) out.add_column_labels(label);
  if (two_way) out.add_column_labels("Total");
  for (size_t r = 0; r <= rows; ++r) {
    v1::ReleasedRow* row = out.add_rows();
    row->set_label(r < rows ? table.row_labels[r] : "Total");
    for (size_t c = 0; c < columns; ++c) SetCount(released.cells[r][c], row->add_counts());
    if (two_way) SetCount(released.cells[r][columns], row->add_counts());
  }
  std::string rules_text = reporting::DescribeRules(rules);
  if (!agreement.disclosure_source().empty()) absl::StrAppend(&rules_text, " (", agreement.disclosure_source(), ")");
  if (mentions) absl::StrAppend(&rules_text, " A referral with several strands counts once under each.");
  out.set_rules(rules_text);
  out.set_agreement(agreement.Label());
  const std::string digest = HexEncode(Sha256(Canonical(out, own_scope ? caller.agency_id : "")));
  out.set_release(absl::StrCat("releases/", digest.substr(0, 32)));
  *out.mutable_release_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(options_.clock->Now()));

  // The ledger entry: which release, of which query, went to whom.
  std::vector<std::string> dimension_names;
  Disclosure disclosed;
  disclosed.classes.Add(v1::DATA_CLASS_REFERRAL_CORE);
  for (const Dimension& d : dims) {
    dimension_names.push_back(absl::AsciiStrToLower(v1::ReportDimension_Name(d.id)));
    disclosed.classes.Add(d.data_class);
  }
  storage::AuditRecord event = options_.auditor->Build(caller, kMethod, AuditAction::kDisclosure, {}, disclosed,
                                                       absl::StatusCode::kOk);
  event.release = absl::StrCat(out.release(), " counts period=", period->label,
                               " by=", absl::StrJoin(dimension_names, ","),
                               " scope=", own_scope ? "own" : "partnership");
  audit->WriteBeforeAnswer(std::move(event));
  return out;
}

}  // namespace refx::core
