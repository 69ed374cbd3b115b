#include "core/agreement_table.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "refx/v1/data_class.pb.h"

namespace refx::core {
namespace {

template <typename Repeated>
bool Has(const Repeated& classes, int c) {
  for (int x : classes) {
    if (x == c) return true;
  }
  return false;
}

}  // namespace

std::string AgreementTableMarkdown(const config::v1::Agreement& agreement) {
  std::vector<int> classes;
  const auto* e = v1::DataClass_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() != v1::DATA_CLASS_UNSPECIFIED) classes.push_back(e->value(i)->number());
  }
  std::vector<std::string> header = {"role", "purpose"};
  for (int c : classes) {
    header.push_back(absl::AsciiStrToLower(absl::StripPrefix(v1::DataClass_Name(static_cast<v1::DataClass>(c)),
                                                            "DATA_CLASS_")));
  }
  std::string out = absl::StrCat("Agreement `", agreement.id(), "` version ", agreement.version(),
                                 ". R: read with consent; R*: also without consent, under a lawful basis "
                                 "the grant names; W: write.\n\n");
  absl::StrAppend(&out, "| ", absl::StrJoin(header, " | "), " |\n|");
  for (size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& role : agreement.roles()) {
    if (role.grants().empty()) {
      std::vector<std::string> permissions;
      for (int p : role.permissions()) {
        permissions.push_back(config::v1::Permission_Name(static_cast<config::v1::Permission>(p)));
      }
      absl::StrAppend(&out, "| ", role.role(), " | (none: ",
                      permissions.empty() ? "no referral access" : absl::StrJoin(permissions, ", "), ") |");
      for (size_t i = 0; i < classes.size(); ++i) out += " - |";
      out += "\n";
      continue;
    }
    for (const auto& grant : role.grants()) {
      absl::StrAppend(&out, "| ", role.role(), role.prevent_relevant_only() ? " (Prevent-relevant only)" : "", " | ",
                      grant.purpose(), grant.purpose() == role.default_purpose() ? " (default)" : "", " |");
      for (int c : classes) {
        std::string cell;
        if (Has(grant.read_without_consent(), c)) {
          cell = "R*";
        } else if (Has(grant.read_with_consent(), c)) {
          cell = "R";
        }
        if (Has(grant.write(), c)) cell += cell.empty() ? "W" : " W";
        absl::StrAppend(&out, " ", cell.empty() ? "-" : cell, " |");
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace refx::core
