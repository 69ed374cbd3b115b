// The `refx` commands for oversight and integration: audit list, verify and
// checkpoint, subject search and subject access bundle (data protection
// officers), and watch (a live feed of events).
#include "clients/cli/commands_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/subject_access_html.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "google/protobuf/util/json_util.h"

namespace refx::cli {
namespace {

using refx::client::ReferralClient;

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

}  // namespace

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
  f->audit_subject = f->audit->add_subcommand(
      "subject", "Subject access: every referral about a person, across the partnership (SUBJECT_ACCESS)");
  f->audit_subject->add_option("--subject-file", f->subject_file,
                               "YAML or JSON with the person's identifiers (given_name, family_name, birth_date, "
                               "phone, email), or - for stdin")
      ->required();
  f->audit_subject->footer(
      "Finds the referrals whose victim matches a phone number, an e-mail address, or a name with a birth\n"
      "date, however each agency wrote them (the repeat-victim tokens' normalisation; never a plaintext\n"
      "search), and lists each one's sender, recipients, creation time and state: the controllers that\n"
      "hold something about the person. The identifiers are read from a file so they stay out of shell\n"
      "history and the process list; the server neither stores nor logs them, and audits the search\n"
      "naming the referrals found.\n\n"
      "EXAMPLE\n"
      "  printf 'phone: 07700 900123\\nemail: sam@example.org\\n' | refx audit subject --subject-file - --profile dpo\n");
  f->audit_bundle = f->audit->add_subcommand(
      "bundle", "Subject access bundle: what each controller holds about a person, as JSON and HTML (SUBJECT_ACCESS)");
  f->audit_bundle->add_option("--subject-file", f->subject_file,
                              "YAML or JSON with the person's identifiers (as for `refx audit subject`), or - for stdin")
      ->required();
  f->audit_bundle->add_option("--html", f->bundle_html, "Write the bundle here as one readable HTML file (mode 0600)");
  f->audit_bundle->add_option("--json", f->bundle_json, "Write the bundle here as JSON (mode 0600)");
  f->audit_bundle->footer(
      "Finds the person's referrals as `refx audit subject` does, then shows, for each controller (agency),\n"
      "every referral and case update about them exactly as that agency can read it under the agreement\n"
      "(an agency that passed a referral on: its routing facts only), to whom the data was disclosed and\n"
      "what each agency received, from the audit log. The files hold personal data: they are written\n"
      "readable by you alone. `--output json` prints the bundle on stdout instead of a summary. Audited\n"
      "as a disclosure to you of everything the bundle carries.\n\n"
      "To withhold data from the person (e.g. the investigating officer advises that disclosure would\n"
      "prejudice the investigation), add restrictions to the same file; each is marked in the bundle with\n"
      "its exemption and recorded in the audit log:\n"
      "  restrictions:\n"
      "    - referral: referrals/0f3c...\n"
      "      data_classes: [DATA_CLASS_INCIDENT_NARRATIVE, DATA_CLASS_SUBJECT]\n"
      "      basis: DPA_2018_S45_4_B_CRIME      # or _A_INQUIRY, _C_PUBLIC_SECURITY, _D_NATIONAL_SECURITY,\n"
      "                                         # _E_RIGHTS_OF_OTHERS, DPA_2018_SCH2_PARA2_CRIME, ...\n"
      "      controller: agencies/leicestershire-police   # optional: one controller's part only\n\n"
      "EXAMPLES\n"
      "  refx audit bundle --subject-file person.yaml --html sar-2026-041.html --json sar-2026-041.json "
      "--profile dpo\n"
      "  printf 'phone: 07700 900123\\n' | refx audit bundle --subject-file - --output json --profile dpo\n");
  for (CLI::App* sub :
       {f->audit, f->audit_list, f->audit_verify, f->audit_checkpoint, f->audit_subject, f->audit_bundle}) {
    sub->fallthrough();
  }
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

absl::StatusOr<refx::v1::WatchReferralsRequest> BuildWatchRequest(const CommandLine& f) {
  refx::v1::WatchReferralsRequest watch_request;
  if (f.watch_after >= 0 && f.watch_from_start) {
    return absl::InvalidArgumentError("--after and --from-start cannot be combined");
  }
  if (f.watch_after >= 0) {
    watch_request.set_after_sequence(f.watch_after);
  } else if (!f.watch_from_start) {
    watch_request.set_start_at_head(true);
  }
  for (const auto& field : f.watch_fields) watch_request.mutable_read_mask()->add_paths(field);
  return watch_request;
}

int RunWatch(ReferralClient& client, const CommandLine& f, const refx::v1::WatchReferralsRequest& watch_request,
             OutputFormat format) {
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
          ? client.Watch(watch_request, print)
          : client.WatchWithResume(watch_request, print, nullptr,
                                   [](const absl::Status& why, int64_t resume_after) {
                                     std::cerr << "stream ended (" << absl::StatusCodeToString(why.code())
                                               << "); reconnecting after sequence " << resume_after << "\n";
                                   });
  if (!ended.ok()) return Fail(ended, format, false);
  return kExitOk;
}

namespace {

// The person's identifiers from `path` (YAML or JSON; - for stdin), kept
// out of the command line so they are in no shell history or process list.
template <typename Request>
absl::Status ReadSubjectFile(const std::string& path, Request* request) {
  REFX_ASSIGN_OR_RETURN(std::string text, ReadInput(path));
  return ParseYamlToProto(text, path == "-" ? "<stdin>" : path, request);
}

}  // namespace

int RunAuditSubject(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  refx::v1::FindSubjectReferralsRequest request;
  if (absl::Status read = ReadSubjectFile(f.subject_file, &request); !read.ok()) {
    return Fail(read, format, /*local=*/true);
  }
  auto found = client.FindSubjectReferrals(request);
  if (!found.ok()) return Fail(found.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*found);
    return kExitOk;
  }
  std::cout << found->referrals_size() << (found->referrals_size() == 1 ? " referral" : " referrals")
            << " about the person\n";
  for (const auto& r : found->referrals()) {
    std::cout << Sanitize(r.referral()) << "  from " << Sanitize(r.sender_agency()) << " to "
              << Sanitize(absl::StrJoin(r.recipient_agencies(), ", ")) << "  created "
              << FormatTimestamp(r.create_time()) << "  " << refx::v1::Referral::State_Name(r.state())
              << "  matched on " << Sanitize(absl::StrJoin(r.matched_on(), ", ")) << "\n";
  }
  return kExitOk;
}

namespace {

// Writes `text` to `path`, readable and writable by the user alone whatever
// the umask (the bundle holds personal data). The text goes to a new file
// beside it (mkstemp: mode 0600, never an existing file or a symlink's
// target), is flushed to disk and then renamed over `path`: a failed write
// leaves no partial bundle behind, and a symlink planted at `path` is
// replaced, not followed.
absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  const absl::Status failed = absl::UnavailableError(absl::StrCat("could not write ", path));
  std::string temporary = path + ".XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) return failed;
  bool ok = ::fchmod(fd, 0600) == 0;
  for (size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(temporary.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(temporary.c_str());
  return ok ? absl::OkStatus() : failed;
}

}  // namespace

int RunAuditBundle(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  refx::v1::ExportSubjectAccessBundleRequest request;
  if (absl::Status read = ReadSubjectFile(f.subject_file, &request); !read.ok()) {
    return Fail(read, format, /*local=*/true);
  }
  auto bundle = client.ExportSubjectAccessBundle(request);
  if (!bundle.ok()) return Fail(bundle.status(), format, false);
  if (!f.bundle_json.empty()) {
    if (absl::Status written = WritePrivateFile(f.bundle_json, RenderJson(*bundle)); !written.ok()) {
      return Fail(written, format, true);
    }
  }
  if (!f.bundle_html.empty()) {
    if (absl::Status written = WritePrivateFile(f.bundle_html, RenderSubjectAccessHtml(*bundle)); !written.ok()) {
      return Fail(written, format, true);
    }
  }
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*bundle);
    return kExitOk;
  }
  std::cout << bundle->referrals_size() << (bundle->referrals_size() == 1 ? " referral" : " referrals")
            << " about the person, held by " << bundle->controllers_size()
            << (bundle->controllers_size() == 1 ? " controller" : " controllers") << "\n";
  for (const auto& controller : bundle->controllers()) {
    int updates = 0, disclosures = 0;
    for (const auto& holding : controller.holdings()) {
      updates += holding.case_updates_size();
      disclosures += holding.disclosures_size();
    }
    std::cout << "  " << Sanitize(controller.agency()) << "  " << controller.holdings_size()
              << (controller.holdings_size() == 1 ? " referral, " : " referrals, ") << updates << " case updates, "
              << disclosures << " disclosures to others\n";
  }
  if (!bundle->subject_request().empty()) {
    std::cout << "answers " << Sanitize(bundle->subject_request())
              << ": its recorded restrictions applied (see `refx sar show`)\n";
  }
  for (const std::string& file : {f.bundle_json, f.bundle_html}) {
    if (!file.empty()) std::cout << "wrote " << Sanitize(file) << "\n";
  }
  return kExitOk;
}

int RunAuditVerify(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  refx::v1::VerifyAuditChainRequest verify;
  if (!f.checkpoint_file.empty()) {
    auto text = ReadInput(f.checkpoint_file);
    if (!text.ok()) return Fail(text.status(), format, true);
    if (!google::protobuf::util::JsonStringToMessage(*text, verify.mutable_checkpoint()).ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(f.checkpoint_file, " is not a checkpoint file")), format,
                  true);
    }
  }
  auto verdict = client.VerifyAuditChain(verify);
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

int RunAuditList(ReferralClient& client, const CommandLine& f, refx::v1::ListAuditEventsRequest audit_request,
                 OutputFormat format) {
  refx::v1::ListAuditEventsResponse events;
  for (int pages = 0;; ++pages) {
    auto page = client.ListAuditEvents(audit_request);
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

}  // namespace refx::cli
