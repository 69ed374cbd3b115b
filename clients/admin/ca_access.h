// Opening the partnership CA for a refx-admin command: the CA directory from
// the global options, the registry, each CA key's passphrase, and the output
// and file-writing steps the CA commands share.
#ifndef REFX_CLIENTS_ADMIN_CA_ACCESS_H_
#define REFX_CLIENTS_ADMIN_CA_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/pki/partnership_ca.h"
#include "clients/admin/admin_common.h"
#include "core/partnership.h"

namespace refx::admin {

// Which CA key a passphrase unlocks: each has its own, so the online issuing
// key's jobs never hold what unlocks the offline root.
enum class CaKey { kIssuing, kRoot };

// The passphrase of the issuing CA key (--passphrase-file, then
// REFX_CA_PASSPHRASE) or of the root CA key (--root-passphrase-file, then
// REFX_ROOT_CA_PASSPHRASE), then a no-echo prompt (twice when `confirm`).
absl::StatusOr<std::string> GetPassphrase(const GlobalOptions& g, CaKey which, bool confirm);

absl::StatusOr<std::shared_ptr<const refx::core::Partnership>> LoadPartnership(const GlobalOptions& g);

// The CA of --ca-dir, keys still locked.
absl::StatusOr<std::unique_ptr<refx::pki::PartnershipCa>> OpenCa(const GlobalOptions& g);

// Opens the CA and unlocks the issuing key; finishes any publication an
// earlier run left pending, and says so.
absl::StatusOr<std::unique_ptr<refx::pki::PartnershipCa>> OpenUnlocked(const GlobalOptions& g);

void PrintPublication(const refx::pki::PartnershipCa::Publication& p);

// Writes `contents` to `path` (mode `mode`), refusing to replace it unless
// `force`.
absl::Status WriteNew(const std::string& path, const std::string& contents, int mode, bool force);

}  // namespace refx::admin

#endif  // REFX_CLIENTS_ADMIN_CA_ACCESS_H_
