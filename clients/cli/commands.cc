// Commands: registers the global connection options and every subcommand
// group's flags, then runs the parsed subcommand. Requests are built from
// flags before connecting, so flag mistakes cost no round trip; the groups
// themselves live in the files commands_internal.h lists.
#include "clients/cli/commands.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "clients/cli/commands_internal.h"
#include "clients/lib/connection_options.h"

namespace refx::cli {
namespace {

using refx::client::ConnectionFlags;
using refx::client::ReferralClient;
using refx::v1::Referral;

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

  AddWhoAmI(app, f);
  AddCreate(app, f);
  AddGet(app, f);
  AddList(app, f);
  AddAudit(app, f);
  AddRetention(app, f);
  AddSubjectRequests(app, f);
  AddLifecycle(app, f);
  AddWatch(app, f);
  AddCaseUpdates(app, f);
  AddSubjectNotifications(app, f);
  AddReport(app, f);
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
  } else if (f.get->parsed() || f.update->parsed() || f.updates->parsed() || f.subject_notify->parsed() ||
             f.subject_notifications->parsed() ||
             std::any_of(f.lifecycle.begin(), f.lifecycle.end(), [](const auto& l) { return l.second->parsed(); })) {
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
  refx::v1::RecordSubjectNotificationRequest notify_request;
  if (f.subject_notify->parsed()) {
    auto built = BuildSubjectNotification(f, name);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    notify_request = *std::move(built);
  }
  refx::v1::ListAuditEventsRequest audit_request;
  if (f.audit_list->parsed()) {
    auto built = BuildAuditListRequest(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    audit_request = *std::move(built);
  }

  refx::v1::CountReferralsRequest count_request;
  if (f.report_counts->parsed()) {
    auto built = BuildCountRequest(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    count_request = *std::move(built);
  }

  refx::v1::WatchReferralsRequest watch_request;
  if (f.watch->parsed()) {
    auto built = BuildWatchRequest(f);
    if (!built.ok()) return Fail(built.status(), format, /*local=*/true);
    watch_request = *std::move(built);
  }

  auto options = refx::client::ResolveConnectionOptions(flags, env, home);
  if (!options.ok()) return Fail(options.status(), format, /*local=*/true);
  auto client = ReferralClient::Connect(*options);
  if (!client.ok()) return Fail(client.status(), format, /*local=*/true);

  if (f.whoami->parsed()) return RunWhoAmI(*client, format);
  if (f.create->parsed()) return RunCreate(*client, referral, request_id, format);
  if (f.get->parsed()) return RunGet(*client, f, name, format);
  for (const auto& [sub, command] : f.lifecycle) {
    if (command->parsed()) return RunLifecycleCommand(*client, sub, f, name, request_id, format);
  }
  if (f.watch->parsed()) return RunWatch(*client, f, watch_request, format);
  if (f.update->parsed()) return RunUpdate(*client, f, name, request_id, std::move(update_request), format);
  if (f.updates->parsed()) return RunUpdates(*client, f, name, format);
  if (f.subject_notify->parsed()) return RunSubjectNotify(*client, request_id, std::move(notify_request), format);
  if (f.subject_notifications->parsed()) return RunSubjectNotifications(*client, name, format);
  if (f.audit_verify->parsed() || f.audit_checkpoint->parsed()) return RunAuditVerify(*client, f, format);
  if (f.audit_subject->parsed()) return RunAuditSubject(*client, f, format);
  if (f.audit_bundle->parsed()) return RunAuditBundle(*client, f, format);
  if (f.retention->parsed()) return RunRetention(*client, f, format);
  if (f.sar->parsed()) return RunSubjectRequests(*client, f, format);
  if (f.audit_list->parsed()) return RunAuditList(*client, f, std::move(audit_request), format);
  if (f.report_counts->parsed()) return RunReportCounts(*client, f, count_request, format);
  if (f.report_response_times->parsed()) return RunReportResponseTimes(*client, f, format);
  if (f.report_tensions->parsed()) return RunReportTensions(*client, f, format);
  if (f.report_acknowledge->parsed()) return RunReportAcknowledge(*client, f, format);
  if (f.report_summary->parsed()) return RunReportSummary(*client, f, format);
  return RunList(*client, f, std::move(list_request), format);
}

}  // namespace refx::cli
