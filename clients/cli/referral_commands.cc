// The `refx` commands about referrals as a whole: whoami, create, get and
// list. create and list build their request from flags before connecting.
#include "clients/cli/commands_internal.h"

#include <iostream>
#include <set>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"

namespace refx::cli {
namespace {

using refx::client::ReferralClient;
using refx::v1::Referral;

// `race`, `race:perceived`, `religion_or_belief:actual:Islam`,
// `other_group:perceived:goths`.
absl::StatusOr<refx::v1::Strand> ParseStrand(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(':', 2));
  refx::v1::Strand strand;
  if (parts[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--strand \"", text, "\": no strand id"));
  }
  strand.set_strand(parts[0]);
  if (parts.size() > 1 && !parts[1].empty()) {
    if (parts[1] == "actual") {
      strand.set_basis(refx::v1::Strand::ACTUAL);
    } else if (parts[1] == "perceived") {
      strand.set_basis(refx::v1::Strand::PERCEIVED);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--strand \"", text, "\": the basis must be actual or perceived"));
    }
  }
  if (parts.size() > 2) {
    if (parts[0] == "religion_or_belief") {
      strand.set_targeted_religion(parts[2]);
    } else if (parts[0] == "other_group") {
      strand.set_other_group(parts[2]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--strand \"", parts[0], ":", parts[1],
          ":...\": a third part is only for religion_or_belief (the targeted religion) "
          "and other_group (the group)"));
    }
  }
  return strand;
}

}  // namespace

absl::StatusOr<Referral> BuildReferral(const CommandLine& f) {
  Referral r;
  if (!f.from_file.empty()) {
    REFX_ASSIGN_OR_RETURN(std::string text, ReadInput(f.from_file));
    REFX_RETURN_IF_ERROR(
        ParseYamlToProto(text, f.from_file == "-" ? "<stdin>" : f.from_file, &r));
  }
  const auto& o = f.create_options;
  auto given = [&](const char* name) { return Given(o, name); };
  if (given("--report-type")) {
    r.set_report_type(static_cast<refx::v1::ReportType>(
        *ParseEnumLabel(refx::v1::ReportType_descriptor(), f.report_type)));
  }
  if (given("--strand")) {
    r.clear_strands();
    for (const std::string& s : f.strands) {
      REFX_ASSIGN_OR_RETURN(*r.add_strands(), ParseStrand(s));
    }
  }
  if (given("--perceived-by")) {
    r.set_perceived_by(static_cast<refx::v1::PerceivedBy>(
        *ParseEnumLabel(refx::v1::PerceivedBy_descriptor(), f.perceived_by)));
  }
  if (given("--channel")) {
    r.set_reporting_channel(static_cast<refx::v1::ReportingChannel>(
        *ParseEnumLabel(refx::v1::ReportingChannel_descriptor(), f.channel)));
  }
  if (f.online) r.set_online(true);
  if (given("--platform")) r.set_online_platform(f.platform);
  if (given("--area")) r.set_area(f.area);
  if (given("--occurred")) {
    REFX_ASSIGN_OR_RETURN(*r.mutable_occur_time(), ParseRfc3339(f.occurred, "--occurred"));
  }
  if (given("--narrative")) r.set_incident_narrative(f.narrative);
  if (given("--narrative-file")) {
    REFX_ASSIGN_OR_RETURN(*r.mutable_incident_narrative(), ReadInput(f.narrative_file));
  }
  refx::v1::Victim* v = r.mutable_victim();
  if (given("--victim-given-name")) v->set_given_name(f.given_name);
  if (given("--victim-family-name")) v->set_family_name(f.family_name);
  if (given("--victim-birth-date")) v->set_birth_date(f.birth_date);
  if (given("--victim-phone")) v->set_phone(f.phone);
  if (given("--victim-email")) v->set_email(f.email);
  if (given("--consent")) {
    v->mutable_consent()->set_status(static_cast<refx::v1::Consent::Status>(
        *ParseEnumLabel(refx::v1::Consent::Status_descriptor(), f.consent)));
  }
  if (given("--lawful-basis")) v->mutable_consent()->set_lawful_basis(f.lawful_basis);
  if (given("--recipient")) {
    r.clear_recipient_agencies();
    for (const std::string& id : f.recipients) r.add_recipient_agencies(AgencyName(id));
  }
  if (given("--risk")) {
    r.set_risk_level(static_cast<refx::v1::RiskLevel>(
        *ParseEnumLabel(refx::v1::RiskLevel_descriptor(), f.risk)));
  }
  if (f.prevent_concern) r.set_prevent_concern(true);
  if (given("--priority")) {
    r.set_priority(static_cast<refx::v1::Priority>(
        *ParseEnumLabel(refx::v1::Priority_descriptor(), f.priority)));
  }
  if (given("--crime-reference")) r.set_police_crime_reference(f.crime_reference);
  if (given("--nchi-screened-out")) {
    r.set_nchi_screened_out(static_cast<refx::v1::NchiScreenedOut>(
        *ParseEnumLabel(refx::v1::NchiScreenedOut_descriptor(), f.nchi_screened_out)));
  }
  return r;
}

absl::StatusOr<refx::v1::ListReferralsRequest> BuildListRequest(const CommandLine& f) {
  refx::v1::ListReferralsRequest request;
  request.set_page_size(f.page_size);
  request.set_page_token(f.page_token);
  refx::v1::ReferralFilter* filter = request.mutable_filter();
  for (const std::string& s : f.states) {
    filter->add_states(static_cast<Referral::State>(
        *ParseEnumLabel(Referral::State_descriptor(), s)));
  }
  for (const std::string& a : f.areas) filter->add_areas(a);
  for (const std::string& s : f.list_strands) filter->add_strands(s);
  for (const std::string& t : f.report_types) {
    filter->add_report_types(static_cast<refx::v1::ReportType>(
        *ParseEnumLabel(refx::v1::ReportType_descriptor(), t)));
  }
  if (!f.created_after.empty()) {
    REFX_ASSIGN_OR_RETURN(*filter->mutable_create_time_from(),
                          ParseRfc3339(f.created_after, "--created-after"));
  }
  if (!f.created_before.empty()) {
    REFX_ASSIGN_OR_RETURN(*filter->mutable_create_time_to(),
                          ParseRfc3339(f.created_before, "--created-before"));
  }
  filter->set_overdue(f.overdue);
  filter->set_awaiting_my_response(f.awaiting);
  return request;
}

void AddWhoAmI(CLI::App* app, CommandLine* f) {
  f->whoami = app->add_subcommand("whoami", "Show how the server sees your certificate");
  f->whoami->footer(
      "EXAMPLES\n"
      "  refx whoami\n"
      "  refx whoami --cert-file new.pem --key-file new.key   # test a new certificate\n");
}

void AddCreate(CLI::App* app, CommandLine* f) {
  CLI::App* c = app->add_subcommand("create", "Create a referral from your agency");
  f->create = c;
  auto& o = f->create_options;
  o["--from-file"] = c->add_option("--from-file", f->from_file,
                                   "YAML or JSON refx.v1.Referral; - reads stdin. Flags "
                                   "below override its fields");
  o["--report-type"] = AddEnumOption(c, "--report-type", &f->report_type,
                                     refx::v1::ReportType_descriptor(), "Report type");
  o["--strand"] = c->add_option(
      "--strand", f->strands,
      "Hate strand, repeatable: STRAND[:actual|:perceived][:DETAIL], DETAIL being the "
      "targeted religion (religion_or_belief) or the group (other_group)")
      ->allow_extra_args(false);
  o["--perceived-by"] = AddEnumOption(c, "--perceived-by", &f->perceived_by,
                                      refx::v1::PerceivedBy_descriptor(),
                                      "Who perceived the hostility");
  o["--channel"] = AddEnumOption(c, "--channel", &f->channel,
                                 refx::v1::ReportingChannel_descriptor(),
                                 "How the report reached your agency");
  o["--online"] = c->add_flag("--online", f->online, "The hate happened online");
  o["--platform"] = c->add_option("--platform", f->platform, "Online platform");
  o["--area"] = c->add_option("--area", f->area, "Partnership area id, e.g. charnwood");
  o["--occurred"] = c->add_option("--occurred", f->occurred,
                                  "When it happened, RFC 3339 (2024-05-01T18:30:00Z)");
  CLI::Option* narrative =
      c->add_option("--narrative", f->narrative, "What happened, in the reporter's words");
  CLI::Option* narrative_file = c->add_option(
      "--narrative-file", f->narrative_file, "Read the narrative from FILE (- for stdin)");
  narrative->excludes(narrative_file);
  o["--narrative"] = narrative;
  o["--narrative-file"] = narrative_file;
  o["--victim-given-name"] = c->add_option("--victim-given-name", f->given_name, "Victim's given name(s)");
  o["--victim-family-name"] = c->add_option("--victim-family-name", f->family_name, "Victim's family name");
  o["--victim-birth-date"] =
      c->add_option("--victim-birth-date", f->birth_date, "Victim's date of birth, YYYY-MM-DD");
  o["--victim-phone"] = c->add_option("--victim-phone", f->phone, "Victim's phone number");
  o["--victim-email"] = c->add_option("--victim-email", f->email, "Victim's email address");
  o["--consent"] = AddEnumOption(c, "--consent", &f->consent,
                                 refx::v1::Consent::Status_descriptor(),
                                 "Victim's consent to share");
  o["--lawful-basis"] = c->add_option("--lawful-basis", f->lawful_basis,
                                      "Lawful basis when sharing without consent");
  o["--recipient"] = c->add_option("--recipient", f->recipients,
                                   "Recipient agency id or agencies/ID, repeatable")
      ->allow_extra_args(false);
  o["--risk"] = AddEnumOption(c, "--risk", &f->risk, refx::v1::RiskLevel_descriptor(),
                              "Assessed risk to the victim");
  o["--prevent-concern"] =
      c->add_flag("--prevent-concern", f->prevent_concern, "There is a Prevent concern");
  o["--crime-reference"] =
      c->add_option("--crime-reference", f->crime_reference, "Police crime reference");
  o["--nchi-screened-out"] = AddEnumOption(
      c, "--nchi-screened-out", &f->nchi_screened_out, refx::v1::NchiScreenedOut_descriptor(),
      "Police only, for an incident under the NCHI Code of Practice 2023: the report was screened out "
      "and is not recorded as an NCHI; it then keeps no subject data");
  o["--priority"] = AddEnumOption(c, "--priority", &f->priority, refx::v1::Priority_descriptor(),
                                  "How soon the recipient must respond (default routine); the "
                                  "agreement sets the period of each");
  c->add_option("--request-id", f->request_id,
                "Idempotency key; default a fresh UUID. Reuse the one printed on failure "
                "to retry without creating a duplicate");
  c->footer(
      "EXAMPLES\n"
      "  refx create --from-file referral.yaml\n"
      "  refx create --report-type hate-crime --strand race:perceived \\\n"
      "      --strand religion_or_belief:actual:Islam --perceived-by victim \\\n"
      "      --channel police --area charnwood --occurred 2024-05-01T18:30:00Z \\\n"
      "      --narrative-file statement.txt --victim-given-name Sam --consent given \\\n"
      "      --recipient charnwood-borough-council --risk medium --priority urgent\n"
      "  refx create --from-file draft.yaml --recipient leicester-city-council --request-id \\\n"
      "      0b6f3c1e-2f44-4a8e-9c1d-5a7e2b9d0c11   # retry after a timeout\n");
}

void AddGet(CLI::App* app, CommandLine* f) {
  f->get = app->add_subcommand("get", "Show one referral");
  f->get->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  f->get->add_option("--field", f->fields,
                     "Only this field (e.g. victim.phone), repeatable; refused if not shared with you")
      ->allow_extra_args(false);
  f->get->footer(
      "EXAMPLES\n"
      "  refx get referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
      "  refx get 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --output json\n");
}

void AddList(CLI::App* app, CommandLine* f) {
  CLI::App* l = app->add_subcommand("list", "List referrals your agency is a party to");
  f->list = l;
  AddEnumList(l, "--state", &f->states, Referral::State_descriptor(),
              "Only these states, repeatable");
  l->add_option("--area", f->areas, "Only these area ids, repeatable")->allow_extra_args(false);
  l->add_option("--strand", f->list_strands, "Only referrals with these strands, repeatable")
      ->allow_extra_args(false);
  AddEnumList(l, "--report-type", &f->report_types, refx::v1::ReportType_descriptor(),
              "Only these report types, repeatable");
  l->add_option("--created-after", f->created_after, "Created at or after, RFC 3339");
  l->add_option("--created-before", f->created_before, "Created before, RFC 3339");
  l->add_option("--page-size", f->page_size, "Referrals per page (server default 50, max 500)")
      ->check(CLI::Range(0, 500));
  l->add_option("--page-token", f->page_token, "Continue from a previous page");
  l->add_flag("--overdue", f->overdue,
              "Only referrals still awaiting a response (requested, redirected) past their "
              "response deadline, by the server's clock");
  l->add_flag("--awaiting", f->awaiting,
              "Only referrals awaiting a response from your agency (you are a current "
              "recipient and have not accepted, declined or redirected it)");
  l->add_flag("--all", f->all, "Follow every page");
  l->footer(
      "The DUE column is the response deadline, marked OVERDUE once passed while a\n"
      "response is still awaited.\n"
      "\n"
      "EXAMPLES\n"
      "  refx list\n"
      "  refx list --state requested --area charnwood --all\n"
      "  refx list --awaiting --overdue --all      # what your agency owes, late\n"
      "  refx list --overdue -o json               # everything late you are a party to\n"
      "  refx list --report-type hate-crime --created-after 2024-01-01T00:00:00Z -o json\n");
}

int RunWhoAmI(ReferralClient& client, OutputFormat format) {
  auto me = client.WhoAmI();
  if (!me.ok()) return Fail(me.status(), format, false);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*me) : RenderKeyValues(*me));
  return kExitOk;
}

int RunCreate(ReferralClient& client, const Referral& referral, const std::string& request_id,
              OutputFormat format) {
  auto created = client.CreateReferral(referral, request_id);
  if (!created.ok()) return Fail(created.status(), format, false, request_id);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*created)
                                              : RenderKeyValues(*created));
  return kExitOk;
}

int RunGet(ReferralClient& client, const CommandLine& f, const std::string& name, OutputFormat format) {
  auto got = client.GetReferral(name, f.fields);
  if (!got.ok()) return Fail(got.status(), format, false);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*got) : RenderKeyValues(*got));
  return kExitOk;
}

int RunList(ReferralClient& client, const CommandLine& f, refx::v1::ListReferralsRequest list_request,
            OutputFormat format) {
  refx::v1::ListReferralsResponse all;
  std::set<std::string> seen_tokens;
  int pages = 0;
  while (true) {
    auto page = client.ListReferrals(list_request);
    if (!page.ok()) return Fail(page.status(), format, false);
    ++pages;
    for (Referral& r : *page->mutable_referrals()) *all.add_referrals() = std::move(r);
    all.set_next_page_token(page->next_page_token());
    if (!f.all || page->next_page_token().empty()) break;
    if (!seen_tokens.insert(page->next_page_token()).second) {
      // A server bug must not turn into an endless loop.
      return Fail(absl::InternalError("the server repeated a page token"), format, false);
    }
    std::cerr << "refx: page " << pages << ": " << all.referrals_size()
              << " referrals so far\n";
    list_request.set_page_token(page->next_page_token());
  }
  if (f.all) all.clear_next_page_token();
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(all);
    return kExitOk;
  }
  if (all.referrals_size() == 0) {
    std::cerr << "refx: no referrals found\n";
  } else {
    std::cout << RenderReferralTable({all.referrals().begin(), all.referrals().end()});
  }
  if (!all.next_page_token().empty()) {
    std::cerr << "refx: more referrals: add --page-token " << all.next_page_token()
              << " (or --all)\n";
  }
  return kExitOk;
}

}  // namespace refx::cli
