#include "clients/admin/governance_commands.h"

#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/json_text.h"
#include "common/yaml_proto.h"
#include "core/agreement.h"
#include "core/agreement_table.h"
#include "core/partnership.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::admin {

GovernanceCommands::GovernanceCommands(CLI::App* app) {
  CLI::App* agreement = app->add_subcommand("agreement", "Check the information-sharing agreement; show who sees what");
  agreement->require_subcommand(1);
  agreement_check_ = agreement->add_subcommand("check", "Validate an agreement file as the server would");
  agreement_check_->add_option("FILE", agreement_file_, "Agreement file")->capture_default_str();
  agreement_check_->add_option("--partnership", partnership_file_, "Partnership registry it must cover")
      ->capture_default_str();
  agreement_check_->footer(
      "Exit code 0 if the server would accept the file; 1 with the file, key and problem named.\n\n"
      "EXAMPLES\n"
      "  refx-admin agreement check config/agreement.yaml --partnership config/partnership.yaml\n");
  agreement_table_ = agreement->add_subcommand("table", "Print the Markdown table of what each role sees");
  agreement_table_->add_option("FILE", agreement_file_, "Agreement file")->capture_default_str();
  agreement_table_->footer(
      "The table in docs/agreement.md is this output; regenerate it whenever the agreement changes.\n\n"
      "EXAMPLES\n"
      "  refx-admin agreement table config/agreement.yaml\n");

  CLI::App* audit = app->add_subcommand("audit", "The server's audit log");
  audit->require_subcommand(1);
  audit_verify_ = audit->add_subcommand("verify", "Verify a database's audit chain offline (read-only)");
  audit_verify_->add_option("--db", database_, "The refx-server SQLite database file")->required();
  audit_verify_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  audit_verify_->footer(
      "Opens the file read-only and recomputes every hash, link and the recorded head. Exit code 0\n"
      "if intact; 1 if broken, naming the first bad event. Safe on a live server's database.\n\n"
      "EXAMPLES\n"
      "  refx-admin audit verify --db /var/lib/refx/refx.db\n");
}

std::optional<int> GovernanceCommands::RunIfParsed() const {
  if (agreement_check_->parsed()) {
    auto partnership = core::Partnership::Load(partnership_file_);
    if (!partnership.ok()) {
      std::fprintf(stderr, "refx-admin: %s\n", std::string(partnership.status().message()).c_str());
      return 2;
    }
    auto agreement = core::Agreement::Load(agreement_file_, **partnership);
    if (!agreement.ok()) {
      std::fprintf(stderr, "refx-admin: %s\n", std::string(agreement.status().message()).c_str());
      return 1;
    }
    std::printf("%s: agreement %s is valid for partnership %s (%d roles, %d agencies covered)\n",
                agreement_file_.c_str(), (*agreement)->Label().c_str(), (*partnership)->id().c_str(),
                (*agreement)->config().roles_size(), (*partnership)->config().agencies_size());
    std::printf("Next: regenerate docs/agreement.md (refx-admin agreement table), then replace the file on the "
                "server; it is picked up within seconds.\n");
    return 0;
  }
  if (agreement_table_->parsed()) {
    config::v1::Agreement config;
    absl::Status read = ReadYamlFileToProto(agreement_file_, &config);
    if (!read.ok()) {
      std::fprintf(stderr, "refx-admin: %s\n", std::string(read.message()).c_str());
      return 2;
    }
    std::cout << core::AgreementTableMarkdown(config);
    return 0;
  }
  if (audit_verify_->parsed()) {
    auto report = storage::sqlite::VerifyAuditChainInFile(database_);
    if (!report.ok()) {
      std::fprintf(stderr, "refx-admin: audit verify: %s\n", std::string(report.status().message()).c_str());
      return 2;
    }
    if (output_ == "json") {
      std::printf("{\"intact\":%s,\"eventsChecked\":%lld,\"firstBadSequence\":%lld,\"problem\":%s}\n",
                  report->intact ? "true" : "false", static_cast<long long>(report->events_checked),
                  static_cast<long long>(report->first_bad_sequence), JsonQuote(report->problem).c_str());
    } else if (report->intact) {
      std::printf("audit chain intact: %lld events verified in %s\n",
                  static_cast<long long>(report->events_checked), database_.c_str());
    } else {
      std::printf("audit chain BROKEN at event %lld: %s (%lld events before it verified)\n",
                  static_cast<long long>(report->first_bad_sequence), report->problem.c_str(),
                  static_cast<long long>(report->events_checked));
    }
    return report->intact ? 0 : 1;
  }
  return std::nullopt;
}

}  // namespace refx::admin
