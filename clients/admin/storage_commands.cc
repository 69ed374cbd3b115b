#include "clients/admin/storage_commands.h"

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
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_statements.h"
#include "storage/postgres/pg_store.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_statements.h"
#include "storage/store_copy.h"

namespace refx::admin {

StorageCommands::StorageCommands(CLI::App* app) {
  CLI::App* storage = app->add_subcommand("storage", "The server's database");
  storage->require_subcommand(1);
  copy_ = storage->add_subcommand("copy", "Copy a partnership's database from SQLite to PostgreSQL");
  copy_->add_option("--from", from_, "sqlite:FILE, the refx-server database (stop the server first)")->required();
  copy_->add_option("--to", to_,
                    "postgres:DSN, an empty PostgreSQL database (a libpq connection string or URI, without the "
                    "password)")
      ->required();
  copy_->add_option("--password-file", password_file_,
                    "The PostgreSQL password on its first line (mode 0600); default: libpq's PGPASSFILE");
  copy_->add_option("--sslmode", sslmode_, "libpq sslmode; plaintext modes only to a local host")
      ->capture_default_str();
  copy_->add_option("--sslrootcert", sslrootcert_, "The CA of the PostgreSQL server's certificate");
  copy_->add_option("--public-key", public_key_file_,
                    "The server's audit signing public key: the head's signature is then verified on both sides "
                    "(default: audit-signing.pub beside the SQLite file, if there)");
  copy_->add_option("--output", output_, "table or json")->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  copy_->footer(
      "Copies every referral, case update, idempotency key, event and audit event, so the audit chain,\n"
      "its signed head and the event log's sequence carry over unchanged. The source's chain is verified\n"
      "first (a broken one is not copied); the copy is one transaction, and the target's chain must then\n"
      "verify exactly as the source's did, or nothing is kept. A target holding any referral or audit\n"
      "event is refused. Progress goes to stderr. Then point every replica at the database\n"
      "(docs/postgres.md) with the same key files as the SQLite server.\n\n"
      "EXAMPLES\n"
      "  refx-admin storage copy --from sqlite:/var/lib/refx/refx.db \\\n"
      "      --to 'postgres:host=db.internal dbname=refx user=refx' --password-file /etc/refx/db-password \\\n"
      "      --sslrootcert /etc/refx/db-ca.pem\n");
}

std::optional<int> StorageCommands::RunIfParsed() const {
  if (copy_->parsed()) return RunCopy();
  return std::nullopt;
}

int StorageCommands::RunCopy() const {
  auto fail = [](int code, const std::string& why) {
    std::fprintf(stderr, "refx-admin: storage copy: %s\n", why.c_str());
    return code;
  };
  if (!absl::StartsWith(from_, "sqlite:")) return fail(2, "--from must be sqlite:FILE");
  if (!absl::StartsWith(to_, "postgres:")) return fail(2, "--to must be postgres:DSN");
  const std::string file = from_.substr(7);
  if (::access(file.c_str(), R_OK) != 0) return fail(2, absl::StrCat("cannot read ", file));

  auto loaded = LoadAuditPublicKey(public_key_file_, file);
  if (!loaded.ok()) return fail(2, std::string(loaded.status().message()));
  const std::optional<VerifyingKey> key = *std::move(loaded);

  config::v1::PostgresConfig target;
  target.set_dsn(to_.substr(9));
  target.set_password_file(password_file_);
  target.set_sslmode(sslmode_);
  target.set_sslrootcert(sslrootcert_);
  target.set_pool_size(1);
  auto parameters = storage::postgres::ParametersFromConfig(target);
  if (!parameters.ok()) return fail(2, std::string(parameters.status().message()));

  auto source = storage::sqlite::Connection::Open(file, /*read_only=*/true);
  if (!source.ok()) return fail(1, std::string(source.status().message()));
  {
    // Creates the schema (every migration) in the target, nothing else.
    storage::postgres::PostgresStore::Options schema_only;
    schema_only.connect = *parameters;
    schema_only.description = storage::postgres::Describe(target);
    schema_only.pool_size = 1;
    schema_only.schema_only = true;
    auto store = storage::postgres::PostgresStore::Create(schema_only);
    if (!store.ok()) return fail(1, std::string(store.status().message()));
  }
  auto destination = storage::postgres::Connection::Open(*parameters, /*read_only=*/false);
  if (!destination.ok()) return fail(1, std::string(destination.status().message()));

  storage::CopyOptions options;
  options.from = source->get();
  options.from_dialect = &storage::sqlite::SqliteDialect();
  options.to = destination->get();
  options.to_dialect = &storage::postgres::PostgresDialect();
  options.key = key.has_value() ? &*key : nullptr;
  options.progress = [](const std::string& table, int64_t rows) {
    std::fprintf(stderr, "refx-admin: storage copy: %s: %lld rows\n", table.c_str(), static_cast<long long>(rows));
  };
  auto report = storage::CopyDatabase(options);
  if (!report.ok()) return fail(1, std::string(report.status().message()));

  int64_t total = 0;
  for (const auto& [table, rows] : report->tables) total += rows;
  const char* signature = !key.has_value()                  ? "not checked (no public key)"
                          : report->source.head.sequence == 0 ? "none (empty log)"
                          : report->target.head_signature_verified ? "verified on both sides"
                                                                 : "DOES NOT VERIFY";
  if (output_ == "json") {
    std::string tables;
    for (const auto& [table, rows] : report->tables) {
      absl::StrAppend(&tables, tables.empty() ? "" : ",", JsonQuote(table), ":", rows);
    }
    std::printf("{\"copied\":true,\"schemaVersion\":%d,\"rows\":%lld,\"tables\":{%s},\"auditEvents\":%lld,"
                "\"headSignatureVerified\":%s}\n",
                report->schema_version, static_cast<long long>(total), tables.c_str(),
                static_cast<long long>(report->target.events_checked),
                report->target.head_signature_verified ? "true" : "false");
  } else {
    std::printf("copied %lld rows (schema version %d) from %s to %s; audit chain intact on both sides: %lld events, "
                "head signature %s\n",
                static_cast<long long>(total), report->schema_version, file.c_str(),
                storage::postgres::Describe(target).c_str(), static_cast<long long>(report->target.events_checked),
                signature);
  }
  return 0;
}

}  // namespace refx::admin
