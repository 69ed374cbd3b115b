#include "clients/admin/backup_commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "CLI/CLI.hpp"
#include "clients/admin/admin_common.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "common/json_text.h"
#include "common/signing.h"
#include "common/yaml_proto.h"
#include "storage/sqlite/sqlite_backup.h"
#include "storage/sqlite/sqlite_store.h"

namespace refx::admin {
namespace {

std::string FileOf(const std::string& spec) { return absl::StartsWith(spec, "sqlite:") ? spec.substr(7) : spec; }

// Verifies `file`'s audit chain; a description on success, an error naming
// the first bad event otherwise.
absl::StatusOr<storage::AuditChainReport> Verify(const std::string& what, const std::string& file,
                                                 const std::optional<VerifyingKey>& key) {
  auto report = storage::sqlite::VerifyAuditChainInFile(file, key.has_value() ? &*key : nullptr);
  if (!report.ok()) return report.status();
  if (!report->intact) {
    return absl::DataLossError(absl::StrCat("the audit chain of ", what, " ", file, " is broken at event ",
                                            report->first_bad_sequence, ": ", report->problem));
  }
  if (key.has_value() && report->head.sequence > 0 && !report->head_signature_verified) {
    return absl::DataLossError(absl::StrCat("the audit head of ", what, " ", file,
                                            " is not signed by the given public key"));
  }
  return *report;
}

void Progress(const char* command, int64_t copied, int64_t total) {
  std::fprintf(stderr, "\rrefx-admin: %s: %lld/%lld pages", command, static_cast<long long>(copied),
               static_cast<long long>(total));
  if (copied == total) std::fprintf(stderr, "\n");
}

}  // namespace

BackupCommands::BackupCommands(CLI::App* app) {
  backup_ = app->add_subcommand("backup", "Copy the SQLite database while the server runs; verify the copy's audit chain");
  backup_->add_option("--db", database_, "The server's database: FILE or sqlite:FILE")->required();
  backup_->add_option("--out", out_, "The backup file to create (never overwritten; mode 0600)")->required();
  backup_->add_option("--public-key", public_key_file_,
                      "The audit signing public key: the head's signature is then checked (default: "
                      "audit-signing.pub beside the database, if there)");
  backup_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  backup_->footer(
      "The copy is the database as of one committed transaction (SQLite's online backup API); the\n"
      "server keeps serving meanwhile. The copy's audit chain is then verified; if it is not intact\n"
      "the copy is removed and the exit code is 1. Keep backups apart from the key files (audit.key,\n"
      "victim-token.key, audit-signing.key, data-encryption.key): together they are everything an\n"
      "attacker needs. Referrals in a backup are encrypted at rest: without data-encryption.key it\n"
      "opens nothing, so keep that key safe too.\n"
      "For PostgreSQL use pg_dump (docs/operations.md).\n\n"
      "EXAMPLES\n"
      "  refx-admin backup --db /var/lib/refx/data/refx.db --out /backup/refx-$(date +%F).db\n");
  restore_ = app->add_subcommand("restore", "Restore a SQLite backup to a new database file; verify both ends");
  restore_->add_option("--from", from_, "The backup file (made by refx-admin backup)")->required();
  restore_->add_option("--db", database_, "Where the restored database goes: FILE or sqlite:FILE; must not exist")
      ->required();
  restore_->add_option("--public-key", public_key_file_,
                       "The audit signing public key (default: audit-signing.pub beside the backup, if there)");
  restore_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  restore_->footer(
      "Never overwrites a database, live or not: stop the server, move its database (and any -wal\n"
      "and -shm beside it) away, restore, then start the server with its key files. The backup's\n"
      "audit chain is verified before anything is written and the restored file's after.\n\n"
      "EXAMPLES\n"
      "  refx-admin restore --from /backup/refx-2026-12-01.db --db /var/lib/refx/data/refx.db \\\n"
      "      --public-key /etc/refx/audit-signing.pub\n");
}

std::optional<int> BackupCommands::RunIfParsed() const {
  if (backup_->parsed()) return RunBackup();
  if (restore_->parsed()) return RunRestore();
  return std::nullopt;
}

int BackupCommands::RunBackup() const {
  auto fail = [](int code, const std::string& why) {
    std::fprintf(stderr, "refx-admin: backup: %s\n", why.c_str());
    return code;
  };
  const std::string database = FileOf(database_);
  if (absl::StartsWith(database_, "postgres:")) {
    return fail(2, "PostgreSQL is backed up with pg_dump (docs/operations.md), not refx-admin backup");
  }
  auto key = LoadAuditPublicKey(public_key_file_, database);
  if (!key.ok()) return fail(2, std::string(key.status().message()));
  storage::sqlite::BackupOptions options;
  options.from = database;
  options.to = out_;
  options.progress = [](int64_t copied, int64_t total) { Progress("backup", copied, total); };
  absl::Status copied = storage::sqlite::BackupDatabaseFile(options);
  if (!copied.ok()) return fail(absl::IsAlreadyExists(copied) || absl::IsNotFound(copied) ? 2 : 1,
                                std::string(copied.message()));
  auto report = Verify("the backup", out_, *key);
  if (!report.ok()) {
    std::remove(out_.c_str());
    return fail(1, absl::StrCat(report.status().message(), "; the backup was removed"));
  }
  if (output_ == "json") {
    std::printf("{\"backup\":%s,\"auditEvents\":%lld,\"headSequence\":%lld,\"headSignatureVerified\":%s}\n",
                JsonQuote(out_).c_str(), static_cast<long long>(report->events_checked),
                static_cast<long long>(report->head.sequence), report->head_signature_verified ? "true" : "false");
  } else {
    std::printf("backed up %s to %s; audit chain intact: %lld events, head signature %s\n", database.c_str(),
                out_.c_str(), static_cast<long long>(report->events_checked),
                !key->has_value() ? "not checked (no public key)"
                : report->head.sequence == 0 ? "none (empty log)"
                                             : "verified");
  }
  return 0;
}

int BackupCommands::RunRestore() const {
  auto fail = [](int code, const std::string& why) {
    std::fprintf(stderr, "refx-admin: restore: %s\n", why.c_str());
    return code;
  };
  const std::string database = FileOf(database_);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (::access((database + suffix).c_str(), F_OK) == 0) {
      return fail(1, absl::StrCat(database, suffix,
                                  " exists: restore never overwrites a database. Stop the server, move the "
                                  "database and its -wal/-shm files away, then restore"));
    }
  }
  auto key = LoadAuditPublicKey(public_key_file_, from_);
  if (!key.ok()) return fail(2, std::string(key.status().message()));
  auto before = Verify("the backup", from_, *key);
  if (!before.ok()) return fail(1, absl::StrCat(before.status().message(), "; nothing was restored"));
  const std::filesystem::path parent = std::filesystem::path(database).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (!error) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, error);
    if (error) return fail(1, absl::StrCat("cannot create ", parent.string(), ": ", error.message()));
  }
  storage::sqlite::BackupOptions options;
  options.from = from_;
  options.to = database;
  options.progress = [](int64_t copied, int64_t total) { Progress("restore", copied, total); };
  absl::Status copied = storage::sqlite::BackupDatabaseFile(options);
  if (!copied.ok()) return fail(1, std::string(copied.message()));
  auto after = Verify("the restored database", database, *key);
  if (!after.ok() || after->head.sequence != before->head.sequence || after->head.hash != before->head.hash) {
    std::remove(database.c_str());
    return fail(1, absl::StrCat(after.ok() ? "the restored database's audit head differs from the backup's"
                                           : std::string(after.status().message()),
                                "; the restored file was removed"));
  }
  if (output_ == "json") {
    std::printf("{\"restored\":%s,\"auditEvents\":%lld,\"headSequence\":%lld,\"headSignatureVerified\":%s}\n",
                JsonQuote(database).c_str(), static_cast<long long>(after->events_checked),
                static_cast<long long>(after->head.sequence), after->head_signature_verified ? "true" : "false");
  } else {
    std::printf("restored %s to %s; audit chain intact on both ends: %lld events, head signature %s\n",
                from_.c_str(), database.c_str(), static_cast<long long>(after->events_checked),
                !key->has_value() ? "not checked (no public key)"
                : after->head.sequence == 0 ? "none (empty log)"
                                            : "verified");
  }
  return 0;
}

}  // namespace refx::admin
