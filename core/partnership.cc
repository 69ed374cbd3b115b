#include "core/partnership.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace refx::core {
namespace {

bool IsIdOf(absl::string_view id, absl::string_view allowed_punct, size_t max_len) {
  if (id.empty() || id.size() > max_len) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || allowed_punct.find(c) != absl::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

constexpr absl::string_view kAgencyPrefix = "agencies/";

}  // namespace

bool IsValidAgencyId(absl::string_view id) { return IsIdOf(id, "-", 63); }

std::string AgencyName(absl::string_view agency_id) { return absl::StrCat(kAgencyPrefix, agency_id); }

std::string AgencyIdFromName(absl::string_view name) {
  if (!absl::StartsWith(name, kAgencyPrefix)) return "";
  absl::string_view id = name.substr(kAgencyPrefix.size());
  return IsValidAgencyId(id) ? std::string(id) : "";
}

Partnership::Partnership(config::v1::Partnership config) : config_(std::move(config)) {
  for (int i = 0; i < config_.agencies_size(); ++i) agencies_.emplace(config_.agencies(i).id(), i);
  for (int i = 0; i < config_.areas_size(); ++i) areas_.emplace(config_.areas(i).id(), i);
  for (int i = 0; i < config_.strands_size(); ++i) strands_.emplace(config_.strands(i).id(), i);
}

absl::StatusOr<std::shared_ptr<const Partnership>> Partnership::Create(config::v1::Partnership config,
                                                                       absl::string_view source) {
  auto bad = [&](absl::string_view where, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": ", problem));
  };
  if (!IsIdOf(config.id(), "-", 63)) return bad("id", "required, [a-z0-9-]+");
  if (!IsIdOf(config.trust_domain(), "-.", 253)) return bad("trust_domain", "required, a DNS-like name");
  std::set<std::string> seen;
  for (int i = 0; i < config.areas_size(); ++i) {
    const auto& a = config.areas(i);
    const std::string where = absl::StrCat("areas[", i, "].id");
    if (!IsIdOf(a.id(), "-", 63)) return bad(where, "required, [a-z0-9-]+");
    if (!seen.insert("area:" + a.id()).second) return bad(where, absl::StrCat("duplicate area '", a.id(), "'"));
  }
  for (int i = 0; i < config.strands_size(); ++i) {
    const auto& s = config.strands(i);
    const std::string where = absl::StrCat("strands[", i, "].id");
    if (!IsIdOf(s.id(), "_", 63)) return bad(where, "required, [a-z0-9_]+");
    if (!seen.insert("strand:" + s.id()).second) return bad(where, absl::StrCat("duplicate strand '", s.id(), "'"));
  }
  if (config.agencies_size() == 0) return bad("agencies", "at least one agency is required");
  for (int i = 0; i < config.agencies_size(); ++i) {
    const auto& a = config.agencies(i);
    const std::string where = absl::StrCat("agencies[", i, "]");
    if (!IsValidAgencyId(a.id())) return bad(where + ".id", "required, [a-z0-9-]+, at most 63 characters");
    if (!seen.insert("agency:" + a.id()).second) return bad(where + ".id", absl::StrCat("duplicate agency '", a.id(), "'"));
    if (a.display_name().empty()) return bad(where + ".display_name", "required");
    if (a.type() == config::v1::AGENCY_TYPE_UNSPECIFIED) return bad(where + ".type", "required");
    if (a.role().empty()) return bad(where + ".role", "required");
    for (const std::string& area : a.areas()) {
      if (!seen.count("area:" + area)) return bad(where + ".areas", absl::StrCat("unknown area '", area, "'"));
    }
  }
  return std::shared_ptr<const Partnership>(new Partnership(std::move(config)));
}

absl::StatusOr<std::shared_ptr<const Partnership>> Partnership::Load(const std::string& path) {
  config::v1::Partnership config;
  REFX_RETURN_IF_ERROR(ReadYamlFileToProto(path, &config));
  return Create(std::move(config), path);
}

const config::v1::Agency* Partnership::FindAgency(absl::string_view id) const {
  auto it = agencies_.find(id);
  return it == agencies_.end() ? nullptr : &config_.agencies(it->second);
}

const config::v1::Area* Partnership::FindArea(absl::string_view id) const {
  auto it = areas_.find(id);
  return it == areas_.end() ? nullptr : &config_.areas(it->second);
}

const config::v1::StrandDefinition* Partnership::FindStrand(absl::string_view id) const {
  auto it = strands_.find(id);
  return it == strands_.end() ? nullptr : &config_.strands(it->second);
}

std::string Partnership::SpiffeIdOf(absl::string_view agency_id) const {
  return absl::StrCat("spiffe://", trust_domain(), "/agency/", agency_id);
}

std::string Partnership::AgencyIdFromSpiffeId(absl::string_view spiffe_id) const {
  const std::string prefix = absl::StrCat("spiffe://", trust_domain(), "/agency/");
  if (!absl::StartsWith(spiffe_id, prefix)) return "";
  absl::string_view id = spiffe_id.substr(prefix.size());
  return IsValidAgencyId(id) ? std::string(id) : "";
}

}  // namespace refx::core
