#include "clients/admin/regime_commands.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "clients/admin/admin_common.h"
#include "google/protobuf/struct.pb.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "core/regime_migration.h"
#include "server/server_config.h"
#include "server/server_store.h"
#include "server/server_keys.h"

namespace refx::admin {
namespace {

constexpr int kLeftForNextRun = 3;

// What a preview or a run reports, in one shape so a script can compare them.
struct Outcome {
  std::vector<core::PlannedRegimeChange> changes;  // to do (preview) or done (run)
  std::vector<core::PlannedRegimeChange> held;
  int64_t changed_meanwhile = 0;
  int64_t left_for_newer_version = 0;
  int64_t copies_rewritten = 0;
};

absl::StatusOr<Outcome> Migrate(const config::v1::ServerConfig& config, bool preview) {
  REFX_ASSIGN_OR_RETURN(auto partnership, core::Partnership::Load(config.partnership_file()));
  REFX_ASSIGN_OR_RETURN(auto agreement, core::Agreement::Load(config.agreement_file(), *partnership));
  REFX_ASSIGN_OR_RETURN(std::unique_ptr<storage::ReferralStore> store,
                        server::OpenServerStore(config, preview ? "regime migrate --preview" : "regime migrate"));
  core::RegimeMigration::Options options;
  options.store = store.get();
  options.agreement = agreement;
  // Without the file the server has never made a repeat-victim token, and
  // none is made here (an admin tool never makes a key the server would
  // then find).
  if (std::filesystem::exists(config.victim_token_key_file())) {
    REFX_ASSIGN_OR_RETURN(options.victim_token_key, server::LoadVictimTokenKey(config, store.get()));
  }
  REFX_ASSIGN_OR_RETURN(auto migration, core::RegimeMigration::Create(options));
  Outcome out;
  if (!preview) {
    REFX_ASSIGN_OR_RETURN(core::RegimeMigration::RunReport report, migration->Run());
    out.changes = std::move(report.changed);
    out.held = std::move(report.held);
    out.changed_meanwhile = report.changed_meanwhile;
    out.left_for_newer_version = report.left_for_newer_version;
    out.copies_rewritten = report.copies_rewritten;
    return out;  // each change audited with its write
  }
  REFX_ASSIGN_OR_RETURN(std::vector<core::PlannedRegimeChange> plan, migration->Plan());
  std::vector<std::string> ids;
  for (core::PlannedRegimeChange& change : plan) {
    ids.push_back(change.referral_id);
    (change.held ? out.held : out.changes).push_back(std::move(change));
  }
  REFX_RETURN_IF_ERROR(store->RecordAudit(
      PreviewAuditEvent("refx-admin regime migrate --preview", "regime_succession", ids, agreement->Label())));
  return out;
}

// The changes as a JSON list of objects, one per referral.
google::protobuf::Value ChangesJson(const std::vector<core::PlannedRegimeChange>& changes) {
  google::protobuf::Value out;
  google::protobuf::ListValue* list = out.mutable_list_value();
  for (const core::PlannedRegimeChange& c : changes) {
    auto& fields = *list->add_values()->mutable_struct_value()->mutable_fields();
    fields["referral"].set_string_value(core::ReferralName(c.referral_id));
    fields["from"].set_string_value(v1::RecordingRegime_Name(c.from));
    fields["to"].set_string_value(v1::RecordingRegime_Name(c.to));
    fields["subject_data"].set_string_value(c.purge ? "PURGE" : "KEEP");
    fields["rule"].set_string_value(c.rule);
  }
  return out;
}

void PrintChanges(const char* heading, const std::vector<core::PlannedRegimeChange>& changes) {
  if (changes.empty()) return;
  std::printf("%s:\n", heading);
  for (const core::PlannedRegimeChange& c : changes) {
    std::printf("  %s  %s -> %s  subject data %s\n", core::ReferralName(c.referral_id).c_str(),
                v1::RecordingRegime_Name(c.from).c_str(), v1::RecordingRegime_Name(c.to).c_str(),
                c.purge ? "PURGE" : "KEEP");
  }
  std::printf("  under %s\n", changes.front().rule.c_str());
}

}  // namespace

RegimeCommands::RegimeCommands(CLI::App* app) {
  CLI::App* regime = app->add_subcommand("regime", "Apply a recording regime's successor dated by the agreement");
  regime->require_subcommand(1);
  migrate_ = regime->add_subcommand(
      "migrate",
      "Move every referral still under a replaced regime under its successor; PURGE erases its subject data");
  migrate_->add_option("--config", config_file_,
                       "The server's config file: its storage, agreement and key files are used as the server "
                       "uses them")
      ->required()
      ->check(CLI::ExistingFile);
  migrate_->add_flag("--preview", preview_, "List what the migration would do, and change nothing");
  migrate_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  migrate_->footer(
      "The agreement's regime_successions says which regime is replaced, by which, from which day\n"
      "(Europe/London) and what becomes of the subject data recorded under it (KEEP or PURGE): the\n"
      "partnership's decision, never a default. From that day the server records new police incidents\n"
      "under the successor; this command moves the ones made before it.\n\n"
      "Each referral under the replaced regime is rewritten in one transaction: its regime becomes the\n"
      "successor, the old one is kept in regime_history, and under PURGE the NCHI subject compartment is\n"
      "erased from the referral, the event log's copies and stored retry responses, with the erasure\n"
      "recorded on every such referral, whether it held subject data or not, so partners learn nothing\n"
      "about the compartment. Each is audited (ALTERATION, or ERASURE under PURGE) and announced on the\n"
      "watch stream. A purge cannot be undone: preview first. The preview lists exactly what the run\n"
      "will do and is audited too (CONSULTATION).\n\n"
      "A referral under a legal hold is left and listed; so is one changed while the run wrote it.\n"
      "Run the command again once the hold is released: it only selects referrals still under the\n"
      "replaced regime, so a second run finishes the first. Exit 3 says something was left.\n\n"
      "On SQLite stop the server first (one writer at a time). On PostgreSQL it runs beside the replicas.\n\n"
      "EXAMPLES\n"
      "  refx-admin regime migrate --config /etc/refx/server.yaml --preview\n"
      "  refx-admin regime migrate --config /etc/refx/server.yaml --output json\n");
}

std::optional<int> RegimeCommands::RunIfParsed() const {
  if (migrate_->parsed()) return RunMigrate();
  return std::nullopt;
}

int RegimeCommands::RunMigrate() const {
  const char* what = preview_ ? "regime migrate --preview" : "regime migrate";
  auto config = server::LoadServerConfig(config_file_);
  if (!config.ok()) return Fail(what, config.status());
  absl::StatusOr<Outcome> outcome = Migrate(*config, preview_);
  if (!outcome.ok()) return Fail(what, outcome.status());
  const bool left = !outcome->held.empty() || outcome->changed_meanwhile > 0 || outcome->left_for_newer_version > 0;
  if (output_ == "json") {
    google::protobuf::Struct out;
    auto& fields = *out.mutable_fields();
    fields["preview"].set_bool_value(preview_);
    fields["changes"] = ChangesJson(outcome->changes);
    fields["held"] = ChangesJson(outcome->held);
    fields["changed_meanwhile"].set_number_value(static_cast<double>(outcome->changed_meanwhile));
    fields["left_for_newer_version"].set_number_value(static_cast<double>(outcome->left_for_newer_version));
    fields["copies_rewritten"].set_number_value(static_cast<double>(outcome->copies_rewritten));
    if (int rc = PrintJson(what, out); rc != 0) return rc;
  } else {
    const size_t n = outcome->changes.size();
    if (preview_) {
      std::printf("%zu %s would move (nothing was changed)\n", n, n == 1 ? "referral" : "referrals");
      PrintChanges("would move", outcome->changes);
    } else {
      std::printf("%zu %s moved, %lld stored copies rewritten\n", n, n == 1 ? "referral" : "referrals",
                  static_cast<long long>(outcome->copies_rewritten));
      PrintChanges("moved", outcome->changes);
    }
    PrintChanges("held under a legal hold (left until it is released)", outcome->held);
    if (outcome->changed_meanwhile > 0) {
      std::printf("%lld changed while the run wrote them: run again\n",
                  static_cast<long long>(outcome->changed_meanwhile));
    }
    if (outcome->left_for_newer_version > 0) {
      std::printf("%lld hold fields a newer version of refx wrote: left for a server of that version\n",
                  static_cast<long long>(outcome->left_for_newer_version));
    }
  }
  return !preview_ && left ? kLeftForNextRun : 0;
}

}  // namespace refx::admin
