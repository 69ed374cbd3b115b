#include "clients/cli/commands.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "clients/cli/output.h"
#include "clients/lib/connection_options.h"
#include "clients/lib/referral_client.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"

namespace refx::cli {

// Raw flag values. A CLI::Option* is kept wherever "given" must be told
// apart from "given empty".
struct CommandLine {
  // Global.
  std::string server, ca_file, cert_file, key_file, server_name_override, profile, config,
      acting_user, purpose, timeout;
  std::map<std::string, CLI::Option*> global_options;
  std::string output = "table";

  // Subcommands.
  CLI::App* whoami = nullptr;
  CLI::App* create = nullptr;
  CLI::App* get = nullptr;
  CLI::App* list = nullptr;
  CLI::App* audit = nullptr;
  CLI::App* audit_list = nullptr;
  CLI::App* audit_verify = nullptr;
  CLI::App* audit_checkpoint = nullptr;
  CLI::App* watch = nullptr;
  CLI::App* update = nullptr;
  CLI::App* updates = nullptr;
  // Lifecycle: accept, decline, redirect, start, complete, cancel, reopen.
  std::map<std::string, CLI::App*> lifecycle;

  // create.
  std::string from_file, report_type, perceived_by, channel, platform, area, occurred,
      narrative, narrative_file, given_name, family_name, birth_date, phone, email, consent,
      lawful_basis, risk, crime_reference, request_id, priority;
  std::vector<std::string> strands, recipients;
  bool online = false, prevent_concern = false;
  std::map<std::string, CLI::Option*> create_options;

  // get.
  std::string name;
  std::vector<std::string> fields;

  // lifecycle (NAME in `name`, --request-id in `request_id`).
  std::string etag, reason, reason_text, to, outcome, note;

  // watch.
  int64_t watch_after = -1;
  bool watch_from_start = false, watch_no_resume = false;
  int64_t watch_max_events = 0;
  std::vector<std::string> watch_fields;
  // update (also uses name, etag, request_id, consent, lawful_basis).
  std::string kind, update_text, supersedes, police_reference;

  // audit list, verify, checkpoint.
  std::string audit_agency, audit_referral, audit_action, audit_after, audit_before;
  std::string checkpoint_file, checkpoint_out;

  // list.
  std::vector<std::string> states, areas, list_strands, report_types;
  std::string created_after, created_before, page_token;
  int page_size = 0;
  bool all = false, overdue = false, awaiting = false;
};

namespace {

using refx::client::ConnectionFlags;
using refx::client::ReferralClient;
using refx::v1::Referral;

std::vector<std::string> Labels(const google::protobuf::EnumDescriptor* type) {
  return absl::StrSplit(EnumLabels(type), '|');
}

bool Given(const std::map<std::string, CLI::Option*>& options, const std::string& name) {
  auto it = options.find(name);
  return it != options.end() && it->second->count() > 0;
}

// Prints `status` and maps it to an exit code. Local problems (flags,
// profile file, certificate files) are usage errors whatever their code.
int Fail(const absl::Status& status, OutputFormat format, bool local,
         const std::string& request_id = "") {
  std::cerr << FormatError(status, format, request_id);
  return local ? kExitUsage : ExitCodeFor(status.code());
}

absl::StatusOr<google::protobuf::Timestamp> ParseRfc3339(const std::string& text,
                                                         const std::string& flag) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text, "\" is not an RFC 3339 time (e.g. 2024-05-01T18:30:00Z): ", error));
  }
  google::protobuf::Timestamp ts;
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  ts.set_seconds(absl::ToInt64Seconds(since_epoch));
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(ts.seconds()))));
  return ts;
}

// Reads FILE, or standard input for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::string text;
  REFX_RETURN_IF_ERROR(ReadFileToString(path, &text));
  return text;
}

// Writes a checkpoint to `path` whole (a temporary file renamed over it).
bool WriteCheckpointFile(const std::string& path, const std::string& json) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << json;
    if (!out.flush()) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

// A fresh random UUID version 4 (RFC 4122), from OpenSSL's CSPRNG so two
// agencies' clients never collide.
absl::StatusOr<std::string> NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed; pass --request-id");
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    absl::StrAppendFormat(&hex, "%02x", b[i]);
  }
  return hex;
}

std::string AgencyName(const std::string& id) {
  return absl::StartsWith(id, "agencies/") ? id : absl::StrCat("agencies/", id);
}

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

// The referral to create: --from-file first, then each given flag on top.
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

absl::StatusOr<std::string> ReferralName(const std::string& name_or_id) {
  if (absl::StartsWith(name_or_id, "referrals/") && name_or_id.size() > 10 &&
      name_or_id.find('/', 10) == std::string::npos) {
    return name_or_id;
  }
  if (name_or_id.empty() || absl::StrContains(name_or_id, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name_or_id, "\" is not a referral name (referrals/ID) or id"));
  }
  return absl::StrCat("referrals/", name_or_id);
}

// Adds an enum-valued option whose choices come from the proto enum, so the
// help text and the wire values cannot drift apart.
CLI::Option* AddEnumOption(CLI::App* app, const std::string& name, std::string* target,
                           const google::protobuf::EnumDescriptor* type,
                           const std::string& help) {
  return app->add_option(name, *target, help)->check(CLI::IsMember(Labels(type)));
}

CLI::Option* AddEnumList(CLI::App* app, const std::string& name,
                         std::vector<std::string>* target,
                         const google::protobuf::EnumDescriptor* type,
                         const std::string& help) {
  return app->add_option(name, *target, help)
      ->check(CLI::IsMember(Labels(type)))
      ->allow_extra_args(false);
}

void AddGlobalOptions(CLI::App* app, CommandLine* f) {
  auto add = [&](const std::string& name, std::string* target, const std::string& help) {
    CLI::Option* o = app->add_option(name, *target, help)->group("Connection");
    f->global_options[name] = o;
  };
  add("--server", &f->server, "Server address host:port (env REFX_SERVER; default localhost:50051)");
  add("--ca-file", &f->ca_file, "PEM CA bundle that issued the server certificate (env REFX_CA_FILE)");
  add("--cert-file", &f->cert_file, "Your agency's PEM certificate (env REFX_CERT_FILE)");
  add("--key-file", &f->key_file, "Private key of --cert-file (env REFX_KEY_FILE)");
  add("--server-name-override", &f->server_name_override,
      "Host name expected in the server certificate");
  add("--profile", &f->profile, "Profile in the profile file (env REFX_PROFILE)");
  add("--config", &f->config,
      "Profile file (env REFX_CONFIG; default $HOME/.config/refx/config.yaml)");
  add("--acting-user", &f->acting_user,
      "The person acting, recorded in the audit log (env REFX_ACTING_USER)");
  add("--purpose", &f->purpose,
      "Purpose of the call under the sharing agreement, e.g. safeguarding (env REFX_PURPOSE)");
  add("--timeout", &f->timeout, "Deadline of each call, e.g. 10s, 1m (env REFX_TIMEOUT)");
  app->add_option("-o,--output", f->output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
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

void AddAudit(CLI::App* app, CommandLine* f) {
  f->audit = app->add_subcommand("audit", "Read and verify the audit log (data protection officers)");
  f->audit->require_subcommand(1);
  CLI::App* l = f->audit->add_subcommand("list", "List audit events, oldest first");
  f->audit_list = l;
  l->add_option("--agency", f->audit_agency, "Only this agency (id or agencies/ID)");
  l->add_option("--referral", f->audit_referral, "Only events about this referral (id or referrals/ID)");
  l->add_option("--action", f->audit_action,
                "Only this s62 action: COLLECTION, CONSULTATION, DISCLOSURE, ALTERATION, COMBINATION, ERASURE, NONE");
  l->add_option("--after", f->audit_after, "At or after this time, RFC 3339");
  l->add_option("--before", f->audit_before, "Before this time, RFC 3339");
  l->add_option("--page-size", f->page_size, "Events per page (server default 100, max 1000)")
      ->check(CLI::Range(0, 1000));
  l->add_option("--page-token", f->page_token, "Continue from a previous page");
  l->add_flag("--all", f->all, "Follow every page");
  l->footer(
      "EXAMPLES\n"
      "  refx audit list --referral 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
      "  refx audit list --agency blaby-district-council --action DISCLOSURE --all -o json\n");
  f->audit_verify = f->audit->add_subcommand("verify", "Prove the audit chain intact, or name the first bad event");
  f->audit_verify->add_option("--checkpoint", f->checkpoint_file,
                              "Also hold the log to a checkpoint saved earlier (refx audit checkpoint)")
      ->check(CLI::ExistingFile);
  f->audit_verify->footer(
      "Exit code 0 if intact; 1 if the chain is broken (the event is named), its head is not signed by\n"
      "the server's audit signing key, or events a checkpoint records are missing (a truncated log or an\n"
      "older copy of the database restored).\n\n"
      "EXAMPLES\n"
      "  refx audit verify --profile dpo\n"
      "  refx audit verify --profile dpo --checkpoint audit-2026-12-01.json\n");
  f->audit_checkpoint = f->audit->add_subcommand(
      "checkpoint", "Verify the chain and save its signed head to a file, kept apart from the server");
  f->audit_checkpoint->add_option("--out", f->checkpoint_out, "The checkpoint file to write (JSON)")->required();
  f->audit_checkpoint->footer(
      "A checkpoint is the chain's head as the server signed it. Keep it where whoever can change the\n"
      "database cannot (a DPO's records). Later, `refx audit verify --checkpoint FILE` (or, offline,\n"
      "`refx-admin audit verify --checkpoint FILE`) proves no event up to it was lost since.\n\n"
      "EXAMPLES\n"
      "  refx audit checkpoint --profile dpo --out audit-$(date +%F).json\n");
  for (CLI::App* sub : {f->audit, f->audit_list, f->audit_verify, f->audit_checkpoint}) sub->fallthrough();
}

void AddWatch(CLI::App* app, CommandLine* f) {
  CLI::App* w = app->add_subcommand(
      "watch", "Print events on referrals your agency is a party to as they happen (new work, changes, updates)");
  f->watch = w;
  w->add_option("--after", f->watch_after,
                "Resume after this sequence (the first column of the last line you saw)")
      ->check(CLI::NonNegativeNumber);
  w->add_flag("--from-start", f->watch_from_start, "Replay your agency's whole history first");
  w->add_option("--field", f->watch_fields, "Only this referral field in each event, repeatable")
      ->allow_extra_args(false);
  w->add_option("--max-events", f->watch_max_events, "Exit after this many events (0: never)")
      ->check(CLI::NonNegativeNumber);
  w->add_flag("--no-resume", f->watch_no_resume,
              "Exit when the stream ends instead of reconnecting from the last sequence");
  w->footer(
      "Starts from now unless --after or --from-start is given. Each line (or, with -o json,\n"
      "each JSON object on its own line) carries the event's sequence; when the server\n"
      "restarts or the stream is cut, refx reconnects and continues after the last one, so\n"
      "nothing is missed or repeated. Notes about reconnecting go to stderr.\n\n"
      "EXAMPLES\n"
      "  refx watch\n"
      "  refx watch --after 1234 -o json | my-case-system-import\n"
      "  refx watch --from-start --max-events 100 --field state --field recipient_agencies\n");
  w->fallthrough();
}

void AddLifecycle(CLI::App* app, CommandLine* f) {
  struct Spec {
    const char* name;
    const char* help;
    const char* examples;
  };
  const Spec specs[] = {
      {"accept", "Accept a referral addressed to your agency",
       "  refx accept 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
       "  refx accept referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --etag 3b9f0c1d2e4a5b6c7d8e\n"},
      {"decline", "Decline a referral addressed to your agency, with a coded reason",
       "  refx decline 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason out-of-area\n"
       "  refx decline 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason other --text \"victim moved away\"\n"},
      {"redirect", "Pass a referral addressed to your agency to another agency",
       "  refx redirect 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --to blaby-district-council\n"},
      {"start", "Start work on a referral your agency accepted",
       "  refx start 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"},
      {"complete", "Complete a referral your agency accepted, with a coded outcome",
       "  refx complete 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --outcome supported\n"
       "  refx complete 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --outcome other --note \"referred to GP\"\n"},
      {"cancel", "Withdraw a referral your agency sent",
       "  refx cancel 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason \"sent to the wrong agency\"\n"},
      {"reopen", "Re-open a completed hate-crime referral (police)",
       "  refx reopen 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason \"new evidence\"\n"},
  };
  for (const Spec& spec : specs) {
    const std::string name = spec.name;
    CLI::App* c = app->add_subcommand(name, spec.help);
    f->lifecycle[name] = c;
    c->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
    c->add_option("--etag", f->etag,
                  "The referral's etag as you last read it (refx get); if omitted, refx reads the referral "
                  "first and uses its current etag");
    c->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
    if (name == "decline") {
      AddEnumOption(c, "--reason", &f->reason, refx::v1::DeclineReason_descriptor(), "Why (coded)")->required();
      c->add_option("--text", f->reason_text, "Explanation; required with --reason other");
    } else if (name == "cancel") {
      c->add_option("--reason", f->reason, "Why the referral is withdrawn")->required();
    } else if (name == "reopen") {
      c->add_option("--reason", f->reason, "Why it is re-opened");
    } else if (name == "redirect") {
      c->add_option("--to", f->to, "The agency to pass it to (agency id)")->required();
    } else if (name == "complete") {
      AddEnumOption(c, "--outcome", &f->outcome, refx::v1::Outcome_descriptor(), "The outcome (coded)")->required();
      c->add_option("--note", f->note, "Optional note (no personal details)");
    }
    c->footer(absl::StrCat("Without --etag, refx reads the referral first and sends its current etag. Pass the\n"
                           "--etag you read (refx get) to be refused (ABORTED) if the referral changed since.\n\n"
                           "EXAMPLES\n",
                           spec.examples));
    c->fallthrough();
  }
}

void AddCaseUpdates(CLI::App* app, CommandLine* f) {
  CLI::App* u = app->add_subcommand("update", "Add a case update to a referral (append-only)");
  f->update = u;
  u->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  AddEnumOption(u, "--kind", &f->kind, refx::v1::CaseUpdate::Kind_descriptor(), "What the update records")
      ->required();
  u->add_option("--text", f->update_text,
                "The case note, at most 4 KiB; required except with --kind consent-change or "
                "police-outcome-reference");
  u->add_option("--supersedes", f->supersedes,
                "With --kind correction: the update it corrects (referrals/ID/updates/UID, or UID)");
  AddEnumOption(u, "--consent", &f->consent, refx::v1::Consent::Status_descriptor(),
                "With --kind consent-change: the victim's consent now");
  u->add_option("--lawful-basis", f->lawful_basis,
                "With --consent other than given: the agreement's lawful basis id (e.g. cda-1998-s115)");
  u->add_option("--police-reference", f->police_reference,
                "With --kind police-outcome-reference: the police outcome or crime reference");
  u->add_option("--etag", f->etag,
                "The referral's etag as you last read it (refx get); if omitted, refx reads the referral "
                "first and uses its current etag");
  u->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
  u->footer(
      "Updates are never changed or deleted: to put one right, add a correction that supersedes it.\n"
      "Without --etag, refx reads the referral first and sends its current etag; pass the --etag you\n"
      "read (refx get) to be refused (ABORTED) if the referral changed since.\n\n"
      "EXAMPLES\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind contact-attempt --text \"No answer; left no message\"\n"
      "  refx update referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind correction \\\n"
      "      --supersedes 9a1b2c3d4e5f60718293a4b5c6d7e8f9 --text \"Safety plan agreed Tuesday, not Monday\"\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind consent-change --consent withdrawn \\\n"
      "      --lawful-basis cda-1998-s115\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind police-outcome-reference \\\n"
      "      --police-reference LP-24-118823 --etag 3b9f0c1d2e4a5b6c7d8e\n");
  u->fallthrough();

  CLI::App* l = app->add_subcommand("updates", "List a referral's case updates, oldest first");
  f->updates = l;
  l->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  l->add_option("--page-size", f->page_size, "Updates per page (server default 50, max 500)")
      ->check(CLI::Range(0, 500));
  l->add_option("--page-token", f->page_token, "Continue from a previous page");
  l->add_flag("--all", f->all, "Follow every page");
  l->footer(
      "Each update shows only what the sharing agreement lets your agency read.\n\n"
      "EXAMPLES\n"
      "  refx updates 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
      "  refx updates referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --all --output json\n");
  l->fallthrough();
}

// The AddCaseUpdateRequest the `update` flags describe (etag and request id
// are filled in by the caller).
absl::StatusOr<refx::v1::AddCaseUpdateRequest> BuildCaseUpdate(const CommandLine& f, const std::string& name) {
  refx::v1::AddCaseUpdateRequest r;
  r.set_parent(name);
  refx::v1::CaseUpdate* u = r.mutable_update();
  u->set_kind(static_cast<refx::v1::CaseUpdate::Kind>(
      ParseEnumLabel(refx::v1::CaseUpdate::Kind_descriptor(), f.kind).value_or(0)));
  u->set_text(f.update_text);
  if (!f.supersedes.empty()) {
    u->set_supersedes(absl::StrContains(f.supersedes, "/") ? f.supersedes
                                                            : absl::StrCat(name, "/updates/", f.supersedes));
  }
  if (!f.consent.empty() || !f.lawful_basis.empty()) {
    if (f.consent.empty()) return absl::InvalidArgumentError("--lawful-basis needs --consent");
    u->mutable_consent()->set_status(static_cast<refx::v1::Consent::Status>(
        ParseEnumLabel(refx::v1::Consent::Status_descriptor(), f.consent).value_or(0)));
    u->mutable_consent()->set_lawful_basis(f.lawful_basis);
  }
  u->set_police_reference(f.police_reference);
  return r;
}

// Sends the lifecycle request `sub` names; `etag` is the etag to send.
absl::StatusOr<Referral> RunLifecycle(ReferralClient& client, const std::string& sub, const CommandLine& f,
                                      const std::string& name, const std::string& etag,
                                      const std::string& request_id) {
  auto fill = [&](auto* r) {
    r->set_name(name);
    r->set_etag(etag);
    r->set_request_id(request_id);
  };
  if (sub == "accept") {
    refx::v1::AcceptReferralRequest r;
    fill(&r);
    return client.AcceptReferral(r);
  }
  if (sub == "decline") {
    refx::v1::DeclineReferralRequest r;
    fill(&r);
    r.set_reason(static_cast<refx::v1::DeclineReason>(
        ParseEnumLabel(refx::v1::DeclineReason_descriptor(), f.reason).value_or(0)));
    r.set_reason_text(f.reason_text);
    return client.DeclineReferral(r);
  }
  if (sub == "redirect") {
    refx::v1::RedirectReferralRequest r;
    fill(&r);
    r.set_target_agency(AgencyName(f.to));
    return client.RedirectReferral(r);
  }
  if (sub == "start") {
    refx::v1::StartReferralRequest r;
    fill(&r);
    return client.StartReferral(r);
  }
  if (sub == "complete") {
    refx::v1::CompleteReferralRequest r;
    fill(&r);
    r.set_outcome(static_cast<refx::v1::Outcome>(
        ParseEnumLabel(refx::v1::Outcome_descriptor(), f.outcome).value_or(0)));
    r.set_note(f.note);
    return client.CompleteReferral(r);
  }
  if (sub == "cancel") {
    refx::v1::CancelReferralRequest r;
    fill(&r);
    r.set_reason(f.reason);
    return client.CancelReferral(r);
  }
  refx::v1::ReopenReferralRequest r;
  fill(&r);
  r.set_reason(f.reason);
  return client.ReopenReferral(r);
}

absl::StatusOr<refx::v1::ListAuditEventsRequest> BuildAuditListRequest(const CommandLine& f) {
  refx::v1::ListAuditEventsRequest r;
  r.set_page_size(f.page_size);
  r.set_page_token(f.page_token);
  if (!f.audit_agency.empty()) r.set_agency(AgencyName(f.audit_agency));
  if (!f.audit_referral.empty()) {
    REFX_ASSIGN_OR_RETURN(std::string name, ReferralName(f.audit_referral));
    r.set_referral(name);
  }
  r.set_action(f.audit_action);
  if (!f.audit_after.empty()) {
    REFX_ASSIGN_OR_RETURN(*r.mutable_time_from(), ParseRfc3339(f.audit_after, "--after"));
  }
  if (!f.audit_before.empty()) {
    REFX_ASSIGN_OR_RETURN(*r.mutable_time_to(), ParseRfc3339(f.audit_before, "--before"));
  }
  return r;
}

}  // namespace

Commands::Commands(CLI::App* app) : app_(app), flags_(std::make_unique<CommandLine>()) {
  CommandLine* f = flags_.get();
  app->fallthrough();  // Global options may follow the subcommand.
  app->require_subcommand(1);
  AddGlobalOptions(app, f);
  app->footer(absl::StrCat(
      "Connection settings come from flags, then REFX_* environment variables, then the\n"
      "selected profile of the profile file (YAML: default_profile, profiles: {NAME: {server,\n"
      "ca_file, cert_file, key_file, server_name_override, acting_user, timeout}}).\n\n"
      "EXAMPLES\n"
      "  refx whoami --profile test\n"
      "  refx get 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 -o json\n\n",
      ExitCodesHelp()));

  f->whoami = app->add_subcommand("whoami", "Show how the server sees your certificate");
  f->whoami->footer(
      "EXAMPLES\n"
      "  refx whoami\n"
      "  refx whoami --cert-file new.pem --key-file new.key   # test a new certificate\n");

  AddCreate(app, f);

  f->get = app->add_subcommand("get", "Show one referral");
  f->get->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  f->get->add_option("--field", f->fields,
                     "Only this field (e.g. victim.phone), repeatable; refused if not shared with you")
      ->allow_extra_args(false);
  f->get->footer(
      "EXAMPLES\n"
      "  refx get referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
      "  refx get 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --output json\n");

  AddList(app, f);
  AddAudit(app, f);
  AddLifecycle(app, f);
  AddWatch(app, f);
  AddCaseUpdates(app, f);
  for (CLI::App* sub : {f->whoami, f->create, f->get, f->list}) sub->fallthrough();
}

Commands::~Commands() = default;

int Commands::Run(const std::map<std::string, std::string>& env, const std::string& home) {
  const CommandLine& f = *flags_;
  const OutputFormat format = f.output == "json" ? OutputFormat::kJson : OutputFormat::kTable;

  ConnectionFlags flags;
  auto set = [&](const char* flag, const std::string& value, std::optional<std::string>* out) {
    if (Given(f.global_options, flag)) *out = value;
  };
  set("--server", f.server, &flags.server);
  set("--ca-file", f.ca_file, &flags.ca_file);
  set("--cert-file", f.cert_file, &flags.cert_file);
  set("--key-file", f.key_file, &flags.key_file);
  set("--server-name-override", f.server_name_override, &flags.server_name_override);
  set("--profile", f.profile, &flags.profile);
  set("--config", f.config, &flags.config);
  set("--acting-user", f.acting_user, &flags.acting_user);
  set("--purpose", f.purpose, &flags.purpose);
  set("--timeout", f.timeout, &flags.timeout);

  // Build the request before connecting, so flag mistakes cost no round trip.
  Referral referral;
  refx::v1::ListReferralsRequest list_request;
  std::string name;
  std::string request_id = f.request_id;
  if (f.create->parsed()) {
    auto built = BuildReferral(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    referral = *std::move(built);
    if (request_id.empty()) {
      auto id = NewRequestId();
      if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
      request_id = *id;
    }
  } else if (f.get->parsed() || f.update->parsed() || f.updates->parsed() || std::any_of(f.lifecycle.begin(), f.lifecycle.end(),
                                            [](const auto& l) { return l.second->parsed(); })) {
    auto n = ReferralName(f.name);
    if (!n.ok()) return Fail(n.status(), format, /*local=*/true);
    name = *n;
  } else if (f.list->parsed()) {
    auto built = BuildListRequest(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    list_request = *std::move(built);
  }
  refx::v1::AddCaseUpdateRequest update_request;
  if (f.update->parsed()) {
    auto built = BuildCaseUpdate(f, name);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    update_request = *std::move(built);
  }
  refx::v1::ListAuditEventsRequest audit_request;
  if (f.audit_list->parsed()) {
    auto built = BuildAuditListRequest(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    audit_request = *std::move(built);
  }

  refx::v1::WatchReferralsRequest watch_request;
  if (f.watch->parsed()) {
    if (f.watch_after >= 0 && f.watch_from_start) {
      return Fail(absl::InvalidArgumentError("--after and --from-start cannot be combined"), format, true);
    }
    if (f.watch_after >= 0) {
      watch_request.set_after_sequence(f.watch_after);
    } else if (!f.watch_from_start) {
      watch_request.set_start_at_head(true);
    }
    for (const auto& field : f.watch_fields) watch_request.mutable_read_mask()->add_paths(field);
  }

  auto options = refx::client::ResolveConnectionOptions(flags, env, home);
  if (!options.ok()) return Fail(options.status(), format, /*local=*/true);
  auto client = ReferralClient::Connect(*options);
  if (!client.ok()) return Fail(client.status(), format, /*local=*/true);

  if (f.whoami->parsed()) {
    auto me = client->WhoAmI();
    if (!me.ok()) return Fail(me.status(), format, false);
    std::cout << (format == OutputFormat::kJson ? RenderJson(*me) : RenderKeyValues(*me));
    return kExitOk;
  }
  if (f.create->parsed()) {
    auto created = client->CreateReferral(referral, request_id);
    if (!created.ok()) return Fail(created.status(), format, false, request_id);
    std::cout << (format == OutputFormat::kJson ? RenderJson(*created)
                                                : RenderKeyValues(*created));
    return kExitOk;
  }
  if (f.get->parsed()) {
    auto got = client->GetReferral(name, f.fields);
    if (!got.ok()) return Fail(got.status(), format, false);
    std::cout << (format == OutputFormat::kJson ? RenderJson(*got) : RenderKeyValues(*got));
    return kExitOk;
  }

  for (const auto& [sub, command] : f.lifecycle) {
    if (!command->parsed()) continue;
    std::string etag = f.etag;
    if (etag.empty()) {
      auto current = client->GetReferral(name, {"etag"});
      if (!current.ok()) return Fail(current.status(), format, false);
      etag = current->etag();
    }
    if (request_id.empty()) {
      auto id = NewRequestId();
      if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
      request_id = *id;
    }
    auto changed = RunLifecycle(*client, sub, f, name, etag, request_id);
    if (!changed.ok()) return Fail(changed.status(), format, false, request_id);
    std::cout << (format == OutputFormat::kJson ? RenderJson(*changed) : RenderKeyValues(*changed));
    return kExitOk;
  }

  if (f.watch->parsed()) {
    int64_t events = 0;
    auto print = [&](const refx::v1::WatchReferralsResponse& message) {
      if (message.kind() == refx::v1::WatchReferralsResponse::SUBSCRIBED) {
        std::cerr << "watching from sequence " << message.sequence() << "\n";
        return true;
      }
      std::cout << (format == OutputFormat::kJson ? RenderJsonLine(message) : RenderWatchEvent(message))
                << std::flush;
      return f.watch_max_events == 0 || ++events < f.watch_max_events;
    };
    absl::Status ended =
        f.watch_no_resume
            ? client->Watch(watch_request, print)
            : client->WatchWithResume(watch_request, print, nullptr,
                                      [](const absl::Status& why, int64_t resume_after) {
                                        std::cerr << "stream ended (" << absl::StatusCodeToString(why.code())
                                                  << "); reconnecting after sequence " << resume_after << "\n";
                                      });
    if (!ended.ok()) return Fail(ended, format, false);
    return kExitOk;
  }
  if (f.update->parsed()) {
    std::string etag = f.etag;
    if (etag.empty()) {
      auto current = client->GetReferral(name, {"etag"});
      if (!current.ok()) return Fail(current.status(), format, false);
      etag = current->etag();
    }
    if (request_id.empty()) {
      auto id = NewRequestId();
      if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
      request_id = *id;
    }
    update_request.set_etag(etag);
    update_request.set_request_id(request_id);
    auto added = client->AddCaseUpdate(update_request);
    if (!added.ok()) return Fail(added.status(), format, false, request_id);
    std::cout << (format == OutputFormat::kJson ? RenderJson(*added) : RenderKeyValues(*added));
    return kExitOk;
  }
  if (f.updates->parsed()) {
    refx::v1::ListCaseUpdatesRequest request;
    request.set_parent(name);
    request.set_page_size(f.page_size);
    request.set_page_token(f.page_token);
    refx::v1::ListCaseUpdatesResponse all;
    std::set<std::string> seen_tokens;
    while (true) {
      auto page = client->ListCaseUpdates(request);
      if (!page.ok()) return Fail(page.status(), format, false);
      for (auto& u : *page->mutable_updates()) *all.add_updates() = std::move(u);
      all.set_next_page_token(page->next_page_token());
      if (!f.all || page->next_page_token().empty()) break;
      if (!seen_tokens.insert(page->next_page_token()).second) {
        return Fail(absl::InternalError("the server repeated a page token"), format, false);
      }
      request.set_page_token(page->next_page_token());
    }
    if (f.all) all.clear_next_page_token();
    std::cout << (format == OutputFormat::kJson ? RenderJson(all) : RenderCaseUpdateTable(all));
    if (!all.next_page_token().empty()) {
      std::cerr << "refx: more updates: add --page-token " << all.next_page_token() << " (or --all)\n";
    }
    return kExitOk;
  }

  if (f.audit_verify->parsed() || f.audit_checkpoint->parsed()) {
    refx::v1::VerifyAuditChainRequest verify;
    if (!f.checkpoint_file.empty()) {
      auto text = ReadInput(f.checkpoint_file);
      if (!text.ok()) return Fail(text.status(), format, true);
      if (!google::protobuf::util::JsonStringToMessage(*text, verify.mutable_checkpoint()).ok()) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(f.checkpoint_file, " is not a checkpoint file")), format,
                    true);
      }
    }
    auto verdict = client->VerifyAuditChain(verify);
    if (!verdict.ok()) return Fail(verdict.status(), format, false);
    if (f.audit_checkpoint->parsed() && verdict->intact()) {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.add_whitespace = true;
      if (!google::protobuf::util::MessageToJsonString(verdict->head(), &json, options).ok() ||
          !WriteCheckpointFile(f.checkpoint_out, json)) {
        return Fail(absl::UnavailableError(absl::StrCat("cannot write ", f.checkpoint_out)), format, true);
      }
      std::cerr << "checkpoint of event " << verdict->head().sequence() << " (key "
                << verdict->head().key_id().substr(0, 16) << ") written to " << f.checkpoint_out << "\n";
    }
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(*verdict);
    } else if (verdict->intact()) {
      std::cout << "audit chain intact: " << verdict->events_checked() << " events verified\n";
    } else {
      std::cout << "audit chain BROKEN at event " << verdict->first_bad_sequence() << ": " << Sanitize(verdict->problem())
                << " (" << verdict->events_checked() << " events before it verified)\n";
    }
    return verdict->intact() ? kExitOk : 1;
  }
  if (f.audit_list->parsed()) {
    refx::v1::ListAuditEventsResponse events;
    for (int pages = 0;; ++pages) {
      auto page = client->ListAuditEvents(audit_request);
      if (!page.ok()) return Fail(page.status(), format, false);
      for (auto& e : *page->mutable_events()) *events.add_events() = std::move(e);
      events.set_next_page_token(page->next_page_token());
      if (!f.all || page->next_page_token().empty() || pages > 100000) break;
      audit_request.set_page_token(page->next_page_token());
    }
    if (f.all) events.clear_next_page_token();
    std::cout << (format == OutputFormat::kJson ? RenderJson(events) : RenderAuditTable(events));
    if (!events.next_page_token().empty()) {
      std::cerr << "refx: more events: add --page-token " << events.next_page_token() << " (or --all)\n";
    }
    return kExitOk;
  }

  // list.
  refx::v1::ListReferralsResponse all;
  std::set<std::string> seen_tokens;
  int pages = 0;
  while (true) {
    auto page = client->ListReferrals(list_request);
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
