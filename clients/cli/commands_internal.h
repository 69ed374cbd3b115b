// Internal to the `refx` subcommands; main.cc sees only commands.h.
//
// The subcommands are grouped by what they act on, one file each:
//   referral_commands.cc        whoami, create, get, list
//   lifecycle_commands.cc       accept ... reopen, update, updates
//   subject_notification_commands.cc  subject-notify, subject-notifications
//   audit_watch_commands.cc     audit list/verify/checkpoint, watch
//   command_helpers.cc          what every group uses (errors, times, names)
// Each group registers its flags (Add*), builds its request from them before
// any connection is made (Build*), and runs it against the server (Run*).
// commands.cc wires the groups together.
#ifndef REFX_CLIENTS_CLI_COMMANDS_INTERNAL_H_
#define REFX_CLIENTS_CLI_COMMANDS_INTERNAL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/cli/output.h"
#include "clients/lib/referral_client.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

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
  CLI::App* audit_subject = nullptr;
  CLI::App* audit_bundle = nullptr;
  CLI::App* watch = nullptr;
  CLI::App* report = nullptr;
  CLI::App* report_counts = nullptr;
  CLI::App* report_response_times = nullptr;
  CLI::App* report_tensions = nullptr;
  CLI::App* report_acknowledge = nullptr;
  CLI::App* report_summary = nullptr;
  CLI::App* retention = nullptr;
  CLI::App* retention_preview = nullptr;
  CLI::App* retention_hold = nullptr;
  CLI::App* retention_release = nullptr;
  CLI::App* retention_holds = nullptr;
  CLI::App* sar = nullptr;
  CLI::App* sar_open = nullptr;
  CLI::App* sar_show = nullptr;
  CLI::App* sar_list = nullptr;
  CLI::App* sar_step = nullptr;
  CLI::App* sar_erase = nullptr;
  CLI::App* sar_rectified = nullptr;
  CLI::App* update = nullptr;
  CLI::App* updates = nullptr;
  CLI::App* subject_notify = nullptr;
  CLI::App* subject_notifications = nullptr;
  // Lifecycle: accept, decline, redirect, start, complete, cancel, reopen.
  std::map<std::string, CLI::App*> lifecycle;

  // report counts, response-times, tensions.
  std::string report_period, report_by, report_scope = "own", report_summary_scope = "partnership";
  std::string report_first_week, report_last_week, report_html;
  std::string tension_alert, tension_note;  // report acknowledge
  std::string subject_file;                 // audit subject, audit bundle
  std::string bundle_html, bundle_json;     // audit bundle: files to write
  int retention_within_days = 0;            // retention preview
  std::string hold_reason;                  // retention hold (NAME in `name`)
  // sar open, sar step (NAME in `name`, --note in `note`, --etag in `etag`).
  std::string sar_kind, sar_reference, sar_date, sar_action, sar_ground;
  std::string sar_referral;              // sar erase
  std::string sar_correction;            // sar rectified
  std::vector<std::string> sar_classes;  // sar erase
  bool report_csv = false;
  bool report_follow = false;  // report tensions --follow
  int report_max_alerts = 0;   // report tensions --follow: exit after this many (0: never)

  // create.
  std::string from_file, report_type, perceived_by, channel, platform, area, occurred,
      narrative, narrative_file, given_name, family_name, birth_date, phone, email, consent,
      lawful_basis, risk, crime_reference, request_id, priority,
      nchi_screened_out;
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
  // subject-notify (also uses name, note, request_id).
  std::string notify_status, notify_reason, notify_when;
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

// --- Shared by every group (command_helpers.cc) ---

bool Given(const std::map<std::string, CLI::Option*>& options, const std::string& name);

// Prints `status` and maps it to an exit code. Local problems (flags,
// profile file, certificate files) are usage errors whatever their code.
int Fail(const absl::Status& status, OutputFormat format, bool local,
         const std::string& request_id = "");

absl::StatusOr<google::protobuf::Timestamp> ParseRfc3339(const std::string& text,
                                                         const std::string& flag);

// Reads FILE, or standard input for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path);

// A fresh random UUID version 4 (RFC 4122), from OpenSSL's CSPRNG so two
// agencies' clients never collide.
absl::StatusOr<std::string> NewRequestId();

std::string AgencyName(const std::string& id);
absl::StatusOr<std::string> ReferralName(const std::string& name_or_id);

// Adds an enum-valued option whose choices come from the proto enum, so the
// help text and the wire values cannot drift apart.
CLI::Option* AddEnumOption(CLI::App* app, const std::string& name, std::string* target,
                           const google::protobuf::EnumDescriptor* type,
                           const std::string& help);
CLI::Option* AddEnumList(CLI::App* app, const std::string& name,
                         std::vector<std::string>* target,
                         const google::protobuf::EnumDescriptor* type,
                         const std::string& help);

// --- whoami, create, get, list (referral_commands.cc) ---

void AddWhoAmI(CLI::App* app, CommandLine* f);
void AddCreate(CLI::App* app, CommandLine* f);
void AddGet(CLI::App* app, CommandLine* f);
void AddList(CLI::App* app, CommandLine* f);

// The referral to create: --from-file first, then each given flag on top.
absl::StatusOr<refx::v1::Referral> BuildReferral(const CommandLine& f);
absl::StatusOr<refx::v1::ListReferralsRequest> BuildListRequest(const CommandLine& f);

int RunWhoAmI(refx::client::ReferralClient& client, OutputFormat format);
int RunCreate(refx::client::ReferralClient& client, const refx::v1::Referral& referral,
              const std::string& request_id, OutputFormat format);
int RunGet(refx::client::ReferralClient& client, const CommandLine& f, const std::string& name,
           OutputFormat format);
int RunList(refx::client::ReferralClient& client, const CommandLine& f,
            refx::v1::ListReferralsRequest list_request, OutputFormat format);

// --- accept ... reopen, update, updates (lifecycle_commands.cc) ---

void AddLifecycle(CLI::App* app, CommandLine* f);
void AddCaseUpdates(CLI::App* app, CommandLine* f);

// The AddCaseUpdateRequest the `update` flags describe (etag and request id
// are filled in by RunUpdate).
absl::StatusOr<refx::v1::AddCaseUpdateRequest> BuildCaseUpdate(const CommandLine& f, const std::string& name);

// Runs the lifecycle verb `sub`; without --etag it reads the current etag
// first, and without --request-id (an empty `request_id`) it makes one.
int RunLifecycleCommand(refx::client::ReferralClient& client, const std::string& sub, const CommandLine& f,
                        const std::string& name, std::string request_id, OutputFormat format);
int RunUpdate(refx::client::ReferralClient& client, const CommandLine& f, const std::string& name,
              std::string request_id, refx::v1::AddCaseUpdateRequest update_request, OutputFormat format);
int RunUpdates(refx::client::ReferralClient& client, const CommandLine& f, const std::string& name,
               OutputFormat format);

// --- subject-notify, subject-notifications (subject_notification_commands.cc) ---

void AddSubjectNotifications(CLI::App* app, CommandLine* f);
// The request the `subject-notify` flags describe (its request id is filled
// in by RunSubjectNotify).
absl::StatusOr<refx::v1::RecordSubjectNotificationRequest> BuildSubjectNotification(const CommandLine& f,
                                                                                    const std::string& name);
int RunSubjectNotify(refx::client::ReferralClient& client, std::string request_id,
                     refx::v1::RecordSubjectNotificationRequest request, OutputFormat format);
int RunSubjectNotifications(refx::client::ReferralClient& client, const std::string& name, OutputFormat format);

// --- audit list, verify, checkpoint, and watch (audit_watch_commands.cc) ---

void AddAudit(CLI::App* app, CommandLine* f);
void AddRetention(CLI::App* app, CommandLine* f);
int RunRetention(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);

// --- sar open, show, list, step (subject_request_commands.cc) ---

void AddSubjectRequests(CLI::App* app, CommandLine* f);
int RunSubjectRequests(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
void AddWatch(CLI::App* app, CommandLine* f);

// --- report counts, response-times, tensions (report_commands.cc) ---

void AddReport(CLI::App* app, CommandLine* f);
absl::StatusOr<refx::v1::CountReferralsRequest> BuildCountRequest(const CommandLine& f);
int RunReportCounts(refx::client::ReferralClient& client, const CommandLine& f,
                    const refx::v1::CountReferralsRequest& request, OutputFormat format);
int RunReportResponseTimes(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunReportTensions(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunReportAcknowledge(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunReportSummary(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);

absl::StatusOr<refx::v1::ListAuditEventsRequest> BuildAuditListRequest(const CommandLine& f);
absl::StatusOr<refx::v1::WatchReferralsRequest> BuildWatchRequest(const CommandLine& f);

int RunWatch(refx::client::ReferralClient& client, const CommandLine& f,
             const refx::v1::WatchReferralsRequest& watch_request, OutputFormat format);
// `audit verify` and `audit checkpoint`: both verify; checkpoint also saves
// the signed head.
int RunAuditVerify(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunAuditSubject(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunAuditBundle(refx::client::ReferralClient& client, const CommandLine& f, OutputFormat format);
int RunAuditList(refx::client::ReferralClient& client, const CommandLine& f,
                 refx::v1::ListAuditEventsRequest audit_request, OutputFormat format);

}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_COMMANDS_INTERNAL_H_
