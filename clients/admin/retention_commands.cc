#include "clients/admin/retention_commands.h"

#include <cstdio>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "clients/admin/admin_common.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/partnership.h"
#include "core/retention.h"
#include "google/protobuf/util/json_util.h"
#include "server/server_config.h"
#include "server/server_store.h"

namespace refx::admin {
namespace {

absl::StatusOr<v1::PreviewRetentionResponse> Preview(const config::v1::ServerConfig& config, int within_days) {
  REFX_ASSIGN_OR_RETURN(auto partnership, core::Partnership::Load(config.partnership_file()));
  REFX_ASSIGN_OR_RETURN(auto agreement, core::Agreement::Load(config.agreement_file(), *partnership));
  REFX_ASSIGN_OR_RETURN(std::unique_ptr<storage::ReferralStore> store, server::OpenServerStore(config, "preview"));
  core::AgreementHolder agreements(agreement);
  core::RetentionJob::Options options;
  options.store = store.get();
  options.agreements = &agreements;
  REFX_ASSIGN_OR_RETURN(auto job, core::RetentionJob::Create(options));
  REFX_ASSIGN_OR_RETURN(std::vector<core::PlannedErasure> planned, job->Preview(absl::Hours(24) * within_days));
  v1::PreviewRetentionResponse out;
  std::vector<std::string> ids;
  for (const core::PlannedErasure& p : planned) {
    *out.add_erasures() = core::ToProto(p);
    if (ids.empty() || ids.back() != p.referral_id) ids.push_back(p.referral_id);
  }
  REFX_RETURN_IF_ERROR(
      store->RecordAudit(PreviewAuditEvent("refx-admin retention preview", "retention", ids, agreement->Label())));
  return out;
}

}  // namespace

RetentionCommands::RetentionCommands(CLI::App* app) {
  CLI::App* retention = app->add_subcommand("retention", "What the server's retention job will erase");
  retention->require_subcommand(1);
  preview_ = retention->add_subcommand(
      "preview", "List the erasures due now, or within some days, per referral and data class, with the rule");
  preview_->add_option("--config", config_file_,
                       "The server's config file: its storage, agreement and key files are used as the server "
                       "uses them")
      ->required()
      ->check(CLI::ExistingFile);
  preview_->add_option("--within-days", within_days_, "Also list what falls due within this many days (default 0)")
      ->check(CLI::Range(0, 3650));
  preview_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  preview_->footer(
      "Computed by the same code as the server's retention job, under the agreement of --config, so it lists\n"
      "exactly what the job's next run erases (now) or will erase (--within-days); referrals under a legal\n"
      "hold are marked HELD. Erases nothing; the preview is audited (CONSULTATION, naming the referrals).\n"
      "On SQLite stop the server first (one writer at a time), or ask the server with a DPO certificate:\n"
      "`refx retention preview`. On PostgreSQL it runs beside the replicas.\n\n"
      "EXAMPLES\n"
      "  refx-admin retention preview --config /etc/refx/server.yaml\n"
      "  refx-admin retention preview --config /etc/refx/server.yaml --within-days 90 --output json\n");
}

std::optional<int> RetentionCommands::RunIfParsed() const {
  if (preview_->parsed()) return RunPreview();
  return std::nullopt;
}

int RetentionCommands::RunPreview() const {
  auto config = server::LoadServerConfig(config_file_);
  if (!config.ok()) return Fail("retention preview", config.status());
  auto preview = Preview(*config, within_days_);
  if (!preview.ok()) return Fail("retention preview", preview.status());
  if (output_ == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(*preview, &json, options).ok()) {
      return Fail("retention preview", absl::InternalError("cannot render the preview as JSON"));
    }
    std::printf("%s", json.c_str());
    return 0;
  }
  std::printf("%d %s %s\n", preview->erasures_size(), preview->erasures_size() == 1 ? "erasure" : "erasures",
              within_days_ == 0 ? "due now" : absl::StrCat("due within ", within_days_, " days").c_str());
  for (const auto& e : preview->erasures()) {
    // The routing record's period ending deletes the whole referral.
    const bool deletes = e.data_class() == v1::DATA_CLASS_REFERRAL_CORE;
    std::printf(
        "%s  %s%s  due %s%s  %s\n", e.referral().c_str(), v1::DataClass_Name(e.data_class()).c_str(),
        deletes ? " (deletes the referral)" : "",
        absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(e.due_time().seconds()), absl::UTCTimeZone()).c_str(),
        e.held() ? "  HELD" : "", e.rule().c_str());
  }
  return 0;
}

}  // namespace refx::admin
