// refx-admin: the partnership administrator's tool. It runs the partnership's
// certificate authority from a CA directory (auth/pki/partnership_ca.h):
// `ca init`, `server issue`, `agency issue|renew|revoke`, `cert list`,
// `crl publish`, `log verify`, plus `dev-pki` for development. Every command
// says what it did, where the files went and what to do next.
//
// This file builds the command line and runs the command parsed; each group
// of commands lives in its own file:
//   ca_commands.cc          the CA commands (certificate_issuing.cc issues)
//   dev_pki_command.cc      dev-pki
//   governance_commands.cc  agreement check|table, audit verify|checkpoint
//   storage_commands.cc     storage copy
//   backup_commands.cc      backup, restore
//   demo_commands.cc        demo seed (demo_seed.cc plans and writes)
//   retention_commands.cc   retention preview
//   regime_commands.cc      regime migrate
//   key_commands.cc         keys rotate|reencrypt
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/admin/admin_common.h"
#include "clients/admin/ca_commands.h"
#include "clients/admin/demo_commands.h"
#include "clients/admin/dev_pki_command.h"
#include "clients/admin/governance_commands.h"
#include "clients/admin/key_commands.h"
#include "clients/admin/regime_commands.h"
#include "clients/admin/retention_commands.h"
#include "clients/admin/backup_commands.h"
#include "clients/admin/storage_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"refx-admin: run the partnership's certificate authority"};
  app.require_subcommand(1);
  // Global options (--ca-dir, --partnership, ...) are accepted after the
  // subcommand too; subcommands inherit this.
  app.fallthrough();
  app.set_version_flag("--version", "refx-admin 0.2.0");
  app.footer(R"(
A CA directory (--ca-dir) holds the root and agency issuing CA, their encrypted
keys, the issuance ledger and the published revocation list and CRLs.

Passphrases: each CA key has its own, so the online issuing key's scheduled jobs
never hold what unlocks the offline root.
  issuing CA key: --passphrase-file FILE (mode 0600), or REFX_CA_PASSPHRASE, or a prompt
  root CA key (ca init, server issue): --root-passphrase-file FILE (mode 0600), or
    REFX_ROOT_CA_PASSPHRASE, or a prompt

Quick tour:
  refx-admin ca init /srv/refx-ca --partnership config/partnership.yaml
  refx-admin --ca-dir /srv/refx-ca server issue --dns refx.example.org
  refx-admin --ca-dir /srv/refx-ca agency issue --agency leicestershire-police --csr police.csr
  refx-admin --ca-dir /srv/refx-ca agency revoke --agency leicestershire-police --reason key-compromise
  refx-admin --ca-dir /srv/refx-ca cert list --expiring-within 30d)");
  refx::admin::GlobalOptions g;
  g.operator_name = refx::admin::DefaultOperator();
  app.add_option("--ca-dir", g.ca_dir, "CA directory (made by `ca init`)")->envname("REFX_CA_DIR");
  app.add_option("--partnership", g.partnership, "Partnership registry file")
      ->envname("REFX_PARTNERSHIP")
      ->capture_default_str();
  app.add_option("--passphrase-file", g.passphrase_file, "File holding the issuing CA key's passphrase (mode 0600)");
  app.add_option("--root-passphrase-file", g.root_passphrase_file,
                 "File holding the root CA key's passphrase (mode 0600); needed by ca init and server issue only");
  app.add_option("--operator", g.operator_name, "Who is acting, recorded in the ledger (default: $USER)")
      ->envname("REFX_OPERATOR");

  // Added in this order so that help lists the commands as it always has.
  refx::admin::DevPkiCommand dev_pki(&app, &g);
  refx::admin::CaCommands ca_commands(&app, &g);
  refx::admin::GovernanceCommands governance(&app);
  refx::admin::StorageCommands storage_commands(&app);
  refx::admin::BackupCommands backup_commands(&app);
  refx::admin::DemoCommands demo_commands(&app);
  refx::admin::RetentionCommands retention_commands(&app);
  refx::admin::KeyCommands key_commands(&app);
  refx::admin::RegimeCommands regime_commands(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the usage error
    return rc == 0 ? 0 : refx::admin::kUsage;
  }
  if (std::optional<int> rc = governance.RunIfParsed()) return *rc;
  if (std::optional<int> rc = storage_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = backup_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = demo_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = retention_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = key_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = regime_commands.RunIfParsed()) return *rc;
  if (std::optional<int> rc = dev_pki.RunIfParsed()) return *rc;
  if (std::optional<int> rc = ca_commands.RunIfParsed()) return *rc;
  return refx::admin::kUsage;
}
