#include "clients/admin/demo_commands.h"

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/admin/admin_common.h"
#include "clients/admin/demo_seed.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/auditor.h"
#include "core/partnership.h"
#include "core/referral_manager.h"
#include "server/server_config.h"
#include "server/server_keys.h"
#include "storage/make_store.h"

namespace refx::admin {
namespace {

struct Seeded {
  DemoPlan plan;
  DemoSeedReport report;
  int64_t audit_events = 0;
  std::string database;
};

absl::StatusOr<Seeded> Seed(const config::v1::ServerConfig& config, DemoPlanOptions plan_options) {
  REFX_ASSIGN_OR_RETURN(auto partnership, core::Partnership::Load(config.partnership_file()));
  REFX_ASSIGN_OR_RETURN(auto agreement, core::Agreement::Load(config.agreement_file(), *partnership));
  plan_options.zone = agreement->calendar().zone();
  REFX_ASSIGN_OR_RETURN(DemoPlan plan, PlanDemo(*partnership, plan_options));

  // The database and keys exactly as the server opens them (server/server.cc).
  REFX_ASSIGN_OR_RETURN(server::AuditSigningKeyFile signing,
                        server::LoadOrCreateAuditSigningKey(config.audit_signing_key_file()));
  storage::MakeStoreOptions store_options;
  store_options.config = config.storage();
  store_options.audit_head_key = signing.key;
  store_options.adopt_unsigned_head = signing.created;
  REFX_ASSIGN_OR_RETURN(store_options.key_encryption_key,
                        server::LoadOrPrepareKeyEncryptionKey(config.storage()));
  auto opened = storage::MakeStore(store_options);
  if (!opened.ok()) {
    if (signing.created) server::DiscardCreatedAuditSigningKey(config.audit_signing_key_file());
    return opened.status();
  }
  std::unique_ptr<storage::ReferralStore> store = *std::move(opened);
  REFX_ASSIGN_OR_RETURN(int64_t events, store->LatestEventSequence());
  if (events > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database already holds referrals (", events,
        " events in its log): demo seed writes only to a new, empty development database, never beside real "
        "referrals. Give it a config whose storage names a fresh database"));
  }
  REFX_ASSIGN_OR_RETURN(std::string audit_key, server::LoadOrCreateAuditKey(config.audit_key_file(), store.get()));

  FakeClock clock(plan.steps.empty() ? plan_options.end : plan.steps.front().at);
  core::Auditor auditor(core::Auditor::Options{store.get(), audit_key, &clock});
  core::PartnershipHolder registry(partnership);
  core::ReferralManager::Options manager_options;
  manager_options.registry = &registry;
  manager_options.store = store.get();
  manager_options.auditor = &auditor;
  manager_options.clock = &clock;
  manager_options.max_read_mask_paths = config.limits().max_read_mask_paths();
  manager_options.max_recipients = config.limits().max_recipients_per_referral();
  // As the server derives it (server/server.cc); no token made here outlives the run.
  manager_options.page_token_key = HmacSha256(audit_key, "refx page token key v1");
  REFX_ASSIGN_OR_RETURN(manager_options.victim_token_key, server::LoadVictimTokenKey(config, store.get()));
  REFX_ASSIGN_OR_RETURN(auto manager, core::ReferralManager::Create(manager_options));

  DemoSeedOptions seed_options;
  seed_options.manager = manager.get();
  seed_options.partnership = partnership.get();
  seed_options.agreement = agreement;
  seed_options.clock = &clock;
  seed_options.progress = [](size_t done, size_t total) {
    std::fprintf(stderr, "refx-admin: demo seed: %zu of %zu changes written\n", done, total);
  };
  Seeded seeded;
  REFX_ASSIGN_OR_RETURN(seeded.report, RunDemoPlan(plan, seed_options));
  REFX_ASSIGN_OR_RETURN(storage::AuditHead head, store->AuditChainHead());
  seeded.audit_events = head.sequence;
  seeded.plan = std::move(plan);
  seeded.database = config.storage().backend() == "postgres" ? "the PostgreSQL database" : config.storage().sqlite_path();
  return seeded;
}

}  // namespace

DemoCommands::DemoCommands(CLI::App* app) {
  CLI::App* demo = app->add_subcommand("demo", "Synthetic data for development and demonstrations");
  demo->require_subcommand(1);
  seed_ = demo->add_subcommand("seed", "Fill an empty development database with synthetic referrals");
  seed_->add_option("--config", config_file_,
                    "The server's config file: its storage, partnership, agreement and key files are used as the "
                    "server uses them")
      ->required()
      ->check(CLI::ExistingFile);
  seed_->add_option("--referrals", referrals_, "Synthetic referrals to write (besides the planted rise)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  seed_->add_option("--months", months_, "Months of history, ending now")->check(CLI::Range(3, 120))
      ->capture_default_str();
  seed_->add_option("--seed", seed_value_, "The generator's seed: the same seed gives the same referrals")
      ->capture_default_str();
  seed_->add_option("--end", end_, "The moment the history ends (RFC 3339; default: now), for a reproducible demo");
  seed_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  seed_->footer(
      "Writes plausible synthetic referrals across the partnership's areas and strands: mostly from the\n"
      "police to the local council or the health partnership, some the other way; each then accepted,\n"
      "started and completed with an outcome, or declined, redirected, withdrawn, or still awaiting a\n"
      "response, with response times that differ by agency type. A rise is planted in one area and strand\n"
      "(LLR: Charnwood, religion or belief) in the last whole week of the last ended quarter, so the\n"
      "quarter's `refx report summary` and `refx report tensions` show it.\n\n"
      "Every change goes through the server's own core (validation, the agreement, the lifecycle, the event\n"
      "log, one audit event each) with a clock walked through the months, using the database and key files\n"
      "of --config, so the server opens the result as its own and `refx-admin audit verify` passes.\n"
      "Synthetic values say so: family name Demo, addresses @example.org, narratives \"[synthetic demo]\".\n\n"
      "Refused on a database whose event log holds anything: demo data never goes beside real referrals.\n"
      "Stop the server first (an SQLite database has one writer at a time). Progress goes to stderr.\n\n"
      "EXAMPLES\n"
      "  refx-admin demo seed --config config/dev-server.yaml\n"
      "  refx-admin demo seed --config /tmp/demo/server.yaml --referrals 600 --months 9 --output json\n");
}

std::optional<int> DemoCommands::RunIfParsed() const {
  if (seed_->parsed()) return RunSeed();
  return std::nullopt;
}

int DemoCommands::RunSeed() const {
  DemoPlanOptions plan_options;
  plan_options.referrals = referrals_;
  plan_options.months = months_;
  plan_options.seed = seed_value_;
  plan_options.end = absl::Now();
  if (!end_.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, end_, &plan_options.end, &error)) {
      std::fprintf(stderr, "refx-admin: demo seed: --end: not an RFC 3339 time (e.g. 2026-11-30T12:00:00Z)\n");
      return kUsage;
    }
    if (plan_options.end > absl::Now()) {
      std::fprintf(stderr, "refx-admin: demo seed: --end is in the future: a history cannot end after now\n");
      return kUsage;
    }
  }
  auto config = server::LoadServerConfig(config_file_);
  if (!config.ok()) return Fail("demo seed", config.status());
  auto seeded = Seed(*config, plan_options);
  if (!seeded.ok()) return Fail("demo seed", seeded.status());
  const DemoPlan& plan = seeded->plan;
  if (output_ == "json") {
    std::printf(
        "{\"seeded\":true,\"database\":%s,\"referrals\":%lld,\"transitions\":%lld,\"auditEvents\":%lld,"
        "\"spike\":{\"area\":%s,\"strand\":%s,\"week\":%s,\"referrals\":%d}}\n",
        JsonQuote(seeded->database).c_str(), static_cast<long long>(seeded->report.referrals),
        static_cast<long long>(seeded->report.transitions), static_cast<long long>(seeded->audit_events),
        JsonQuote(plan.spike_area).c_str(), JsonQuote(plan.spike_strand).c_str(), JsonQuote(plan.spike_week).c_str(),
        plan.spike_referrals);
    return 0;
  }
  std::printf("seeded %s: %lld synthetic referrals and %lld lifecycle changes over %d months (%lld audit events)\n",
              seeded->database.c_str(), static_cast<long long>(seeded->report.referrals),
              static_cast<long long>(seeded->report.transitions), months_,
              static_cast<long long>(seeded->audit_events));
  if (plan.spike_referrals > 0) {
    std::printf("planted rise: %d extra %s referrals in %s in week %s\n", plan.spike_referrals,
                plan.spike_strand.c_str(), plan.spike_area.c_str(), plan.spike_week.c_str());
  }
  std::printf("next: start the server on it, then e.g.\n"
              "  refx report tensions\n"
              "  refx report summary --period <last ended quarter> --html report.html\n");
  return 0;
}

}  // namespace refx::admin
