#include "core/report_dimensions.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/referral_manager.h"

namespace refx::core::reporting_dimensions {
namespace {

// A value the caller's view of a referral withholds (own-referrals scope).
constexpr char kNotShared[] = "not shared";
// A value no label of the registry or the API names (e.g. an area since
// removed from the registry).
constexpr char kUnlisted[] = "unlisted";

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

}  // namespace

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
    case v1::RECIPIENT_AGENCY_TYPE: {
      // Labels are the types, fixed; agencies map onto them.
      std::map<int, int> by_type;
      const auto* types = config::v1::AgencyType_descriptor();
      for (int i = 0; i < types->value_count(); ++i) {
        if (types->value(i)->number() == 0) continue;
        by_type[types->value(i)->number()] = d.Add(EnumLabel(types->value(i)->name(), ""));
      }
      for (const auto& agency : registry.config().agencies()) {
        auto it = by_type.find(agency.type());
        if (it != by_type.end()) d.by_text[agency.id()] = it->second;
      }
      d.several = d.Add("several types");
      d.unlisted = d.Add(kUnlisted);
      break;
    }
    case v1::OUTCOME:
      AddEnumLabels(v1::Outcome_descriptor(), "OUTCOME_", &d);
      d.by_number[0] = d.Add("not completed");
      d.unlisted = d.Add(kUnlisted);
      break;
    case v1::REPEAT_VICTIM:
      d.data_class = v1::DATA_CLASS_SAFEGUARDING_RISK;
      d.derived = true;
      d.by_number[1] = d.Add("repeat victim");
      d.by_number[0] = d.Add("no earlier referral");
      d.unlisted = d.Add("not matched");
      break;
    default:
      return absl::InvalidArgumentError("unknown dimension");
  }
  if (own_scope) d.not_shared = d.Add(kNotShared);
  return d;
}

std::vector<int> ValuesOf(const Dimension& d, const v1::Referral& referral, const ReadView& view) {
  if (!view.classes.Contains(d.data_class) || (d.derived && !view.derived)) return {d.not_shared};
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
      // Every referral counts under at least one label, so a table's rows
      // of referrals never exceed its strand mentions.
      if (seen.empty()) return {d.unlisted};
      return {seen.begin(), seen.end()};
    }
    case v1::REPORT_TYPE: return {number(referral.report_type())};
    case v1::REPORTING_CHANNEL: return {number(referral.reporting_channel())};
    case v1::ONLINE: return {number(referral.online() ? 1 : 0)};
    case v1::RECIPIENT_AGENCY_TYPE: {
      // The recipients at creation: each redirect appended one.
      const int original = referral.recipient_agencies_size() - referral.redirected_agencies_size();
      std::set<int> types;
      for (int i = 0; i < original; ++i) types.insert(text(AgencyIdFromName(referral.recipient_agencies(i))));
      if (types.empty()) return {d.unlisted};
      return {types.size() == 1 ? *types.begin() : d.several};
    }
    case v1::OUTCOME: {
      auto it = d.outcome_at_end.find(ReferralIdFromName(referral.name()));
      return {number(it == d.outcome_at_end.end() ? 0 : it->second)};
    }
    case v1::REPEAT_VICTIM:
      if (!referral.has_repeat_victim_count()) return {d.unlisted};
      return {number(referral.repeat_victim_count() > 0 ? 1 : 0)};
    default: return {};
  }
}


}  // namespace refx::core::reporting_dimensions
