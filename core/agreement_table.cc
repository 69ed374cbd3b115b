#include "core/agreement_table.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "refx/v1/case_update.pb.h"
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
  header.push_back("derived");
  std::string out = absl::StrCat("Agreement `", agreement.id(), "` version ", agreement.version(),
                                 ". R: read with consent; R*: also without consent, under a lawful basis "
                                 "the grant names; W: write. derived: R where values derived from other "
                                 "agencies' referrals (the repeat-victim count) reach the role (`read_derived`), "
                                 "where it may also read their class.\n\n");
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
      for (size_t i = 0; i <= classes.size(); ++i) out += " - |";
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
      absl::StrAppend(&out, grant.read_derived() ? " R |" : " - |");
      out += "\n";
    }
  }
  // Case-update text says what its kind records, and has that class (the
  // schema's content_class): who reads a note follows from the table above.
  absl::StrAppend(&out, "\nThe text of a case update has the class of what its kind records "
                        "(`content_class` in `proto/refx/v1/case_update.proto`):\n\n| kind | class of the text |\n|---|---|\n");
  const auto* kinds = v1::CaseUpdate::Kind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    const auto* kind = kinds->value(i);
    if (kind->number() == 0) continue;
    const std::string& from = kind->options().GetExtension(v1::content_class_from);
    const int c = kind->options().GetExtension(v1::content_class);
    const std::string cls =
        !from.empty() ? absl::StrCat("that of the kind it corrects (`", from, "`)")
        : c != 0 ? absl::AsciiStrToLower(absl::StripPrefix(v1::DataClass_Name(static_cast<v1::DataClass>(c)), "DATA_CLASS_"))
                 : "safeguarding_risk";
    absl::StrAppend(&out, "| ", absl::AsciiStrToLower(kind->name()), " | ", cls, " |\n");
  }
  return out;
}

}  // namespace refx::core
