#include "clients/cli/subject_access_html.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/html_text.h"
#include "clients/cli/output.h"

namespace refx::cli {
namespace {

// Every field the message holds, one row each, as `refx get` lists them:
// what the controller holds, and nothing it does not (a withheld field is
// not set, so it has no row).
std::string FieldTable(const google::protobuf::Message& m) {
  std::string rows;
  for (const auto& [path, value] : FlattenFields(m)) {
    absl::StrAppend(&rows, "<tr><th scope=\"row\">", HtmlEscape(path), "</th><td>", HtmlEscape(value), "</td></tr>");
  }
  if (rows.empty()) return "<p>Nothing readable.</p>";
  return absl::StrCat("<table class=\"fields\"><tbody>", rows, "</tbody></table>");
}

std::string ClassNames(const refx::v1::SubjectDisclosure& d) {
  std::vector<std::string> names;
  for (int c : d.data_classes()) names.push_back(refx::v1::DataClass_Name(static_cast<refx::v1::DataClass>(c)));
  return absl::StrJoin(names, ", ");
}

std::string DisclosureTable(const std::string& caption,
                            const google::protobuf::RepeatedPtrField<refx::v1::SubjectDisclosure>& events) {
  if (events.empty()) return "";
  std::string out = absl::StrCat("<table><caption>", HtmlEscape(caption),
                                 "</caption><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Agency</th>"
                                 "<th scope=\"col\">How</th><th scope=\"col\">Purpose</th>"
                                 "<th scope=\"col\">Classes of data</th></tr></thead><tbody>");
  for (const auto& d : events) {
    absl::StrAppend(&out, "<tr><td>", HtmlEscape(FormatTimestamp(d.time())), "</td><td>", HtmlEscape(d.agency()),
                    "</td><td>", HtmlEscape(d.method()), "</td><td>", HtmlEscape(d.purpose()), "</td><td>",
                    HtmlEscape(ClassNames(d)), "</td></tr>");
  }
  return absl::StrCat(out, "</tbody></table>");
}

// The exemption as a reader of the bundle knows it.
const char* BasisText(refx::v1::RestrictionBasis basis) {
  switch (basis) {
    case refx::v1::DPA_2018_S45_4_A_INQUIRY: return "DPA 2018 s45(4)(a): would obstruct an inquiry, investigation or procedure";
    case refx::v1::DPA_2018_S45_4_B_CRIME:
      return "DPA 2018 s45(4)(b): would prejudice the prevention, detection, investigation or prosecution of crime";
    case refx::v1::DPA_2018_S45_4_C_PUBLIC_SECURITY: return "DPA 2018 s45(4)(c): public security";
    case refx::v1::DPA_2018_S45_4_D_NATIONAL_SECURITY: return "DPA 2018 s45(4)(d): national security";
    case refx::v1::DPA_2018_S45_4_E_RIGHTS_OF_OTHERS: return "DPA 2018 s45(4)(e): the rights and freedoms of others";
    case refx::v1::DPA_2018_SCH2_PARA2_CRIME: return "DPA 2018 Schedule 2 paragraph 2: crime";
    case refx::v1::DPA_2018_SCH2_PARA16_THIRD_PARTY:
      return "DPA 2018 Schedule 2 paragraph 16: information about another person";
    case refx::v1::DPA_2018_SCH3_PARA5_SERIOUS_HARM: return "DPA 2018 Schedule 3 paragraph 5: serious harm";
    default: return "an exemption";
  }
}

std::string WithheldList(const refx::v1::SubjectAccessHolding& holding) {
  if (holding.withheld().empty()) return "";
  std::string items;
  for (const auto& w : holding.withheld()) {
    absl::StrAppend(&items, "<li><code>", HtmlEscape(refx::v1::DataClass_Name(w.data_class())), "</code>: ",
                    HtmlEscape(BasisText(w.basis())), "</li>");
  }
  return absl::StrCat("<div class=\"withheld\"><p>Withheld from this bundle:</p><ul>", items, "</ul></div>");
}

const char* RelationshipText(refx::v1::SubjectAccessHolding::Relationship r) {
  switch (r) {
    case refx::v1::SubjectAccessHolding::SENDER: return "made the referral";
    case refx::v1::SubjectAccessHolding::RECIPIENT: return "received the referral";
    case refx::v1::SubjectAccessHolding::FORMER_RECIPIENT:
      return "received the referral and passed it on (keeps routing facts only)";
    default: return "party";
  }
}

}  // namespace

std::string RenderSubjectAccessHtml(const refx::v1::SubjectAccessBundle& bundle) {
  std::string body;
  absl::StrAppend(&body, "<h1>Subject access bundle</h1><p>Made ", HtmlEscape(FormatTimestamp(bundle.create_time())),
                  " under the information-sharing agreement ", HtmlEscape(bundle.agreement()), ". ",
                  bundle.referrals_size(), bundle.referrals_size() == 1 ? " referral" : " referrals",
                  " about the person; ", bundle.controllers_size(),
                  bundle.controllers_size() == 1 ? " controller holds" : " controllers hold",
                  " data from them. Each controller's part shows exactly what it can read; a field it may not "
                  "read is not shown.</p>");
  if (bundle.controllers().empty()) absl::StrAppend(&body, "<p>No referral about the person was found.</p>");
  for (const auto& controller : bundle.controllers()) {
    const std::string title = controller.display_name().empty() ? controller.agency() : controller.display_name();
    absl::StrAppend(&body, "<section class=\"controller\"><h2>", HtmlEscape(title), "</h2><p class=\"agency\">",
                    HtmlEscape(controller.agency()), "</p>");
    for (const auto& holding : controller.holdings()) {
      absl::StrAppend(&body, "<article class=\"holding\"><h3>", HtmlEscape(holding.referral().name()), "</h3><p>",
                      HtmlEscape(RelationshipText(holding.relationship())), "</p>", WithheldList(holding),
                      FieldTable(holding.referral()));
      for (const auto& update : holding.case_updates()) {
        absl::StrAppend(&body, "<h4>Case update ", HtmlEscape(update.name()), "</h4>", FieldTable(update));
      }
      absl::StrAppend(&body, DisclosureTable("Disclosed to other agencies", holding.disclosures()),
                      DisclosureTable("Received by this agency", holding.receipts()), "</article>");
    }
    absl::StrAppend(&body, "</section>");
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Subject access bundle</title><style>"
      "body{font-family:sans-serif;margin:2em auto;max-width:50em;color:#111;line-height:1.4}"
      "h1{font-size:1.5em}h2{font-size:1.2em;border-top:2px solid #0072B2;padding-top:.5em}"
      "h3{font-size:1em;font-family:monospace}table{border-collapse:collapse;margin:.5em 0 1em;width:100%}"
      "th,td{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top;font-size:.9em}"
      "table.fields th{width:35%;font-weight:normal;font-family:monospace}caption{text-align:left;"
      "font-weight:bold}.agency{font-family:monospace;color:#333}"
      ".withheld{border-left:4px solid #D55E00;padding-left:.6em}"
      "</style></head><body>",
      body, "</body></html>\n");
}

}  // namespace refx::cli
