#include "clients/admin/governance_commands.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/json_text.h"
#include "common/yaml_proto.h"
#include "core/agreement.h"
#include "core/agreement_table.h"
#include "core/partnership.h"
#include "storage/make_store.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "auth/pki/certificate_authority.h"
#include "common/hash.h"
#include "common/signing.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "refx/v1/audit_service.pb.h"

namespace refx::admin {
namespace {

constexpr char kDatabaseHelp[] =
    "The refx-server database: its SQLite file (or sqlite:FILE), or postgres:DSN (a libpq connection string or "
    "URI without a password; see --password-file)";

}  // namespace

void GovernanceCommands::AddPostgresOptions(CLI::App* command) {
  command->add_option("--password-file", password_file_,
                      "With postgres:DSN: the file holding the database password (mode 0600); else PGPASSFILE");
  command->add_option("--sslmode", sslmode_, "With postgres:DSN: libpq sslmode")->capture_default_str();
  command->add_option("--sslrootcert", sslrootcert_, "With postgres:DSN: the CA of the database server");
}

config::v1::StorageConfig GovernanceCommands::DatabaseConfig() const {
  config::v1::StorageConfig config;
  if (absl::StartsWith(database_, "postgres:")) {
    config.set_backend("postgres");
    auto* pg = config.mutable_postgres();
    pg->set_dsn(database_.substr(9));
    pg->set_password_file(password_file_);
    pg->set_sslmode(sslmode_);
    pg->set_sslrootcert(sslrootcert_);
    pg->set_pool_size(1);
  } else {
    config.set_backend("sqlite");
    config.set_sqlite_path(absl::StartsWith(database_, "sqlite:") ? database_.substr(7) : database_);
  }
  return config;
}

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
  audit_verify_->add_option("--db", database_, kDatabaseHelp)->required();
  AddPostgresOptions(audit_verify_);
  audit_verify_->add_option("--public-key", public_key_file_,
                            "The server's audit signing public key (default: audit-signing.pub beside the "
                            "database, or the checkpoint's)");
  audit_verify_->add_option("--checkpoint", checkpoint_file_,
                            "A checkpoint taken earlier (refx-admin audit checkpoint, refx audit checkpoint): the "
                            "log must still hold its event")
      ->check(CLI::ExistingFile);
  audit_verify_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  audit_verify_->footer(
      "Opens the file read-only and recomputes every hash, link and the recorded head, and checks the\n"
      "head's signature with the public key. Exit code 0 if intact; 1 if broken, naming the first bad\n"
      "event: an altered, removed or reordered event, a cut-off tail, a head rewritten over a cut tail\n"
      "(its signature no longer verifies), or, against a checkpoint, events lost since it was taken (an\n"
      "older copy of the database restored). Safe on a live server's database.\n\n"
      "EXAMPLES\n"
      "  refx-admin audit verify --db /var/lib/refx/refx.db\n"
      "  refx-admin audit verify --db restored.db --checkpoint audit-2026-12-01.json\n"
      "  refx-admin audit verify --db 'postgres:host=db.internal dbname=refx user=refx' \\\n"
      "      --password-file /etc/refx/db-password --public-key audit-signing.pub\n");
  audit_checkpoint_ = audit->add_subcommand(
      "checkpoint", "Verify a database's audit chain and save its signed head, to keep apart from it");
  audit_checkpoint_->add_option("--db", database_, kDatabaseHelp)->required();
  AddPostgresOptions(audit_checkpoint_);
  audit_checkpoint_->add_option("--public-key", public_key_file_,
                                "The server's audit signing public key (default: audit-signing.pub beside the "
                                "database)");
  audit_checkpoint_->add_option("--out", checkpoint_out_, "The checkpoint file to write (JSON)")->required();
  audit_checkpoint_->footer(
      "Writes the chain's head as the server signed it (sequence, hash, signature, public key). Keep it\n"
      "where whoever can change the database cannot; `audit verify --checkpoint` then proves nothing up\n"
      "to it was lost or rewritten. Refuses to write one for a broken or unsigned chain.\n\n"
      "EXAMPLES\n"
      "  refx-admin audit checkpoint --db /var/lib/refx/refx.db --out audit-$(date +%F).json\n"
      "  refx-admin audit checkpoint --db 'postgres:host=db.internal dbname=refx user=refx' \\\n"
      "      --password-file /etc/refx/db-password --public-key audit-signing.pub --out audit-$(date +%F).json\n");
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
  if (audit_verify_->parsed() || audit_checkpoint_->parsed()) return RunAudit();
  return std::nullopt;
}

int GovernanceCommands::RunAudit() const {
  const std::string what = audit_checkpoint_->parsed() ? "audit checkpoint" : "audit verify";
  auto fail = [&](const std::string& problem) {
    std::fprintf(stderr, "refx-admin: %s: %s\n", what.c_str(), problem.c_str());
    return 2;
  };
  absl::optional<v1::AuditCheckpoint> checkpoint;
  absl::optional<storage::AuditHead> checkpoint_head;
  if (!checkpoint_file_.empty()) {
    std::string text;
    v1::AuditCheckpoint parsed;
    if (!ReadFileToString(checkpoint_file_, &text).ok() ||
        !google::protobuf::util::JsonStringToMessage(text, &parsed).ok()) {
      return fail(absl::StrCat(checkpoint_file_, " is not a checkpoint file"));
    }
    storage::AuditHead head;
    head.sequence = parsed.sequence();
    head.hash = absl::HexStringToBytes(parsed.hash());
    if (!absl::Base64Unescape(parsed.signature(), &head.signature) || head.hash.size() != 32 || head.sequence <= 0) {
      return fail(absl::StrCat(checkpoint_file_, " is not a checkpoint file"));
    }
    checkpoint = parsed;
    checkpoint_head = head;
  }
  // The key: named, else the checkpoint's, else the one the server wrote
  // beside its database. A checkpoint holds the database to its own key,
  // so a replaced signing key shows up as a head signed by another key.
  const config::v1::StorageConfig database = DatabaseConfig();
  // The operator's own --db (a DSN with a password is refused before this).
  const std::string& where = database_;
  std::string key_pem;
  std::string key_source;
  if (!public_key_file_.empty()) {
    if (!ReadFileToString(public_key_file_, &key_pem).ok()) return fail(absl::StrCat("cannot read ", public_key_file_));
    key_source = public_key_file_;
  } else if (checkpoint.has_value() && !checkpoint->public_key().empty()) {
    key_pem = checkpoint->public_key();
    key_source = checkpoint_file_;
  } else if (database.backend() == "sqlite") {
    const std::string beside =
        (std::filesystem::path(database.sqlite_path()).parent_path() / "audit-signing.pub").string();
    if (ReadFileToString(beside, &key_pem).ok()) {
      key_source = beside;
      // Whoever can rewrite the database can usually rewrite this file too.
      std::fprintf(stderr,
                   "refx-admin: %s: the public key is %s, beside the database; to hold the database to a key "
                   "its writer cannot replace, pass --public-key FILE (a copy kept elsewhere) or --checkpoint FILE\n",
                   what.c_str(), beside.c_str());
    }
  }
  absl::optional<VerifyingKey> key;
  if (!key_pem.empty()) {
    auto parsed = VerifyingKey::FromPem(key_pem);
    if (!parsed.ok()) return fail(absl::StrCat(key_source, " holds no Ed25519 public key"));
    key = *parsed;
  }
  if (checkpoint.has_value() && key.has_value() && !checkpoint->key_id().empty() &&
      checkpoint->key_id() != key->KeyId()) {
    return fail(absl::StrCat("the checkpoint was signed by key ", checkpoint->key_id().substr(0, 16), "..., not by ",
                             key_source, " (", key->KeyId().substr(0, 16), "...)"));
  }
  if (audit_checkpoint_->parsed() && !key.has_value()) {
    return fail("no public key to check the head's signature with: pass --public-key");
  }
  auto report = storage::VerifyStoredAuditChain(database, key.has_value() ? &*key : nullptr,
                                                checkpoint_head.has_value() ? &*checkpoint_head : nullptr);
  if (!report.ok()) return fail(std::string(report.status().message()));
  const std::string signature = !key.has_value()                    ? "not checked (no public key)"
                                : report->head.sequence == 0         ? "none (empty log)"
                                : report->head_signature_verified ? absl::StrCat("verified with key ", key->KeyId().substr(0, 16), "...")
                                                                     : "DOES NOT VERIFY";
  if (audit_checkpoint_->parsed()) {
    if (!report->intact) {
      std::printf("audit chain BROKEN at event %lld: %s; no checkpoint written\n",
                  static_cast<long long>(report->first_bad_sequence), report->problem.c_str());
      return 1;
    }
    v1::AuditCheckpoint out;
    out.set_sequence(report->head.sequence);
    out.set_hash(HexEncode(report->head.hash));
    out.set_signature(absl::Base64Escape(report->head.signature));
    out.set_key_id(key->KeyId());
    out.set_public_key(key->PublicPem());
    *out.mutable_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(out, &json, options).ok() ||
        !pki::WriteFileAtomically(checkpoint_out_, json, 0644).ok()) {
      return fail(absl::StrCat("cannot write ", checkpoint_out_));
    }
    std::printf("checkpoint of event %lld (head signature %s) written to %s\n",
                static_cast<long long>(out.sequence()), signature.c_str(), checkpoint_out_.c_str());
    return 0;
  }
  if (output_ == "json") {
    std::printf("{\"intact\":%s,\"eventsChecked\":%lld,\"firstBadSequence\":%lld,\"problem\":%s,"
                "\"headSignatureVerified\":%s,\"missingEvents\":%lld}\n",
                report->intact ? "true" : "false", static_cast<long long>(report->events_checked),
                static_cast<long long>(report->first_bad_sequence), JsonQuote(report->problem).c_str(),
                report->head_signature_verified ? "true" : "false",
                static_cast<long long>(report->missing_events));
  } else if (report->intact) {
    std::printf("audit chain intact: %lld events verified in %s; head signature %s%s\n",
                static_cast<long long>(report->events_checked), where.c_str(), signature.c_str(),
                checkpoint.has_value() ? absl::StrCat("; holds the checkpoint of event ", checkpoint->sequence()).c_str()
                                       : "");
  } else {
    std::printf("audit chain BROKEN at event %lld: %s (%lld events before it verified)\n",
                static_cast<long long>(report->first_bad_sequence), report->problem.c_str(),
                static_cast<long long>(report->events_checked));
  }
  return report->intact ? 0 : 1;
}

}  // namespace refx::admin
