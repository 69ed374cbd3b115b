// What refx-bench sets up before it measures, and removes after: a
// temporary directory, a throwaway PKI for every agency of the partnership,
// and the configuration file of the refx-server it starts; and where its
// result goes, the same for a measured run, a soak and an overload.
#ifndef REFX_BENCH_RUN_ENVIRONMENT_H_
#define REFX_BENCH_RUN_ENVIRONMENT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/pki/dev_pki.h"
#include "core/partnership.h"
#include "refx/config/v1/server_config.pb.h"

namespace refx::bench {

// Removes the temporary directory on every exit path.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status WriteText(const std::string& path, const std::string& text);
absl::StatusOr<std::string> ReadText(const std::string& path);

// --output and --json-file, read in main.
struct OutputOptions {
  std::string format = "table";  // "table" or "json", on stdout.
  std::string json_file;         // "" for none.
};

// Prints `table` or `json` on stdout, as `output.format` says, then writes
// `json` to `output.json_file` when one is named (UNAVAILABLE if it cannot).
absl::Status WriteOutput(const OutputOptions& output, const std::string& table, const std::string& json);

// Writes a throwaway PKI to `directory`: every agency of `partnership`, with
// the production profiles, and a signed (empty) revocation list as every
// production server has, so the server checks revocation in each handshake
// and on every call.
// Returns the PKI, whose CA keys re-sign the revocation list.
absl::StatusOr<refx::pki::DevPki> WriteThrowawayPki(const refx::core::Partnership& partnership,
                                                    const std::string& directory);

// Signs an empty revocation list numbered `sequence`, valid for a day from
// now, and puts it in place of `directory`/revocations.txt atomically (as
// `refx-admin` publishes one).
absl::Status PublishRevocationList(const refx::pki::DevPki& pki, const std::string& directory, int64_t sequence);

// A throwaway PostgreSQL for the run (scripts/postgres.sh): started by
// Start, stopped and removed by the destructor.
class ThrowawayPostgres {
 public:
  static absl::StatusOr<std::unique_ptr<ThrowawayPostgres>> Start(const std::string& script);
  ~ThrowawayPostgres();
  // The refx-server `storage:` section that reaches it (Unix socket); the
  // server's keys go in `key_directory` (relative to its config file).
  std::string StorageYaml(const std::string& key_directory) const;
  // The same database as connection settings for this process.
  refx::config::v1::PostgresConfig Config() const;
  const std::string& directory() const { return directory_; }

 private:
  ThrowawayPostgres() = default;
  std::string script_, directory_, port_, password_file_;
};

// The `storage:` section of a SQLite run.
inline constexpr char kSqliteStorageYaml[] = "storage:\n  sqlite_path: db/refx.db\n";

// The started refx-server's configuration, its paths relative to the run's
// directory, with `storage_yaml` as its storage section. Without
// `agreement_path`, agreement.yaml beside the partnership file when that
// exists; "" names none.
std::string ServerConfigYaml(const std::string& partnership_path, std::optional<std::string> agreement_path,
                             const std::string& server_log_level, int most_subscribers,
                             const std::string& storage_yaml = kSqliteStorageYaml);

}  // namespace refx::bench

#endif  // REFX_BENCH_RUN_ENVIRONMENT_H_
