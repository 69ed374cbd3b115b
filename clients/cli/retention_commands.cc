// `refx retention`: the data protection officer's view of the server's
// retention job (what it will erase, and when) and the legal holds that
// pause it.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "clients/cli/commands_internal.h"
#include "clients/cli/output.h"

namespace refx::cli {

using refx::client::ReferralClient;

void AddRetention(CLI::App* app, CommandLine* f) {
  f->retention = app->add_subcommand(
      "retention", "What retention will erase, and legal holds that pause it (data protection officers)");
  f->retention->require_subcommand(1);
  f->retention->footer(
      "The server erases each data class of a referral when the agreement's retention period for it ends\n"
      "(counted from closure, or from creation for an abandoned referral), everywhere it stored it, and\n"
      "tells the parties on the watch stream. These commands need RETENTION_MANAGE (LLR: the DPO).\n");
  f->retention_preview = f->retention->add_subcommand("preview", "List erasures due now or within some days");
  f->retention_preview
      ->add_option("--within-days", f->retention_within_days,
                   "Also list what falls due within this many days (default 0: due now)")
      ->check(CLI::Range(0, 3650));
  f->retention_preview->footer(
      "EXAMPLES\n"
      "  refx retention preview --profile dpo\n"
      "  refx retention preview --within-days 30 --profile dpo -o json\n");
  f->retention_hold = f->retention->add_subcommand("hold", "Place a legal hold: erase nothing of a referral");
  f->retention_hold->add_option("NAME", f->name, "The referral (id or referrals/ID)")->required();
  f->retention_hold->add_option("--reason", f->hold_reason,
                                "The matter it is kept for (a complaint or case reference; no personal data)")
      ->required();
  f->retention_hold->footer(
      "EXAMPLE\n"
      "  refx retention hold 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason 'IOPC complaint 2026/0412' --profile dpo\n");
  f->retention_release = f->retention->add_subcommand("release", "Release a legal hold");
  f->retention_release->add_option("NAME", f->name, "The referral (id or referrals/ID)")->required();
  f->retention_holds = f->retention->add_subcommand("holds", "List the legal holds");
  for (CLI::App* sub :
       {f->retention, f->retention_preview, f->retention_hold, f->retention_release, f->retention_holds}) {
    sub->fallthrough();
  }
}

int RunRetention(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  if (f.retention_preview->parsed()) {
    refx::v1::PreviewRetentionRequest request;
    request.set_within_days(f.retention_within_days);
    auto preview = client.PreviewRetention(request);
    if (!preview.ok()) return Fail(preview.status(), format, false);
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(*preview);
      return kExitOk;
    }
    std::cout << preview->erasures_size() << (preview->erasures_size() == 1 ? " erasure" : " erasures")
              << (f.retention_within_days == 0 ? " due now" : absl::StrCat(" due within ", f.retention_within_days,
                                                                           " days"))
              << "\n";
    for (const auto& e : preview->erasures()) {
      // The routing record's period ending deletes the whole referral.
      const bool deletes = e.data_class() == refx::v1::DATA_CLASS_REFERRAL_CORE;
      std::cout << Sanitize(e.referral()) << "  " << refx::v1::DataClass_Name(e.data_class())
                << (deletes ? " (deletes the referral)" : "") << "  due " << FormatTimestamp(e.due_time())
                << (e.held() ? "  HELD" : "") << "  " << Sanitize(e.rule()) << "\n";
    }
    return kExitOk;
  }
  if (f.retention_holds->parsed()) {
    auto holds = client.ListLegalHolds();
    if (!holds.ok()) return Fail(holds.status(), format, false);
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(*holds);
      return kExitOk;
    }
    std::cout << holds->holds_size() << (holds->holds_size() == 1 ? " legal hold" : " legal holds") << "\n";
    for (const auto& h : holds->holds()) {
      std::cout << Sanitize(h.referral()) << "  by " << Sanitize(h.agency()) << "  since "
                << FormatTimestamp(h.create_time()) << "  " << Sanitize(h.reason()) << "\n";
    }
    return kExitOk;
  }
  auto name = ReferralName(f.name);
  if (!name.ok()) return Fail(name.status(), format, /*local=*/true);
  if (f.retention_hold->parsed()) {
    refx::v1::PlaceLegalHoldRequest request;
    request.set_referral(*name);
    request.set_reason(f.hold_reason);
    auto hold = client.PlaceLegalHold(request);
    if (!hold.ok()) return Fail(hold.status(), format, false);
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(*hold);
    } else {
      std::cout << "held " << Sanitize(hold->referral()) << ": retention erases nothing of it until released\n";
    }
    return kExitOk;
  }
  refx::v1::ReleaseLegalHoldRequest request;
  request.set_referral(*name);
  if (absl::Status released = client.ReleaseLegalHold(request); !released.ok()) {
    return Fail(released, format, false);
  }
  if (format == OutputFormat::kJson) {
    std::cout << "{}\n";
  } else {
    std::cout << "released " << *name << ": erasures that fell due run at the retention job's next run\n";
  }
  return kExitOk;
}

}  // namespace refx::cli
