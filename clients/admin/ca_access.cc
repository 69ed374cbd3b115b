// How a refx-admin command reaches the partnership CA (ca_access.h):
// passphrases from a file, the environment or a no-echo prompt, and the
// unlocked CA with any interrupted publication completed first.
#include "clients/admin/ca_access.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "auth/pki/key_file.h"

namespace refx::admin {
namespace {

using refx::pki::PartnershipCa;

// Tests only: crash (exit 86) right after a revocation's ledger commit,
// before the list and CRL are written. Never set in production.
constexpr char kCrashAfterLedgerEnv[] = "REFX_ADMIN_TEST_CRASH_AFTER_LEDGER_WRITE";

absl::StatusOr<std::string> Prompt(const std::string& question, CaKey which) {
  if (!isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        which == CaKey::kRoot
            ? "no root CA passphrase: pass --root-passphrase-file FILE, set REFX_ROOT_CA_PASSPHRASE, or run in a "
              "terminal"
            : "no issuing CA passphrase: pass --passphrase-file FILE, set REFX_CA_PASSPHRASE, or run in a terminal");
  }
  std::fprintf(stderr, "%s", question.c_str());
  termios old_mode;
  tcgetattr(STDIN_FILENO, &old_mode);
  termios quiet = old_mode;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fprintf(stderr, "\n");
  return line;
}

}  // namespace

absl::StatusOr<std::string> GetPassphrase(const GlobalOptions& g, CaKey which, bool confirm) {
  const std::string& file = which == CaKey::kRoot ? g.root_passphrase_file : g.passphrase_file;
  const char* env_name = which == CaKey::kRoot ? "REFX_ROOT_CA_PASSPHRASE" : "REFX_CA_PASSPHRASE";
  const std::string label = which == CaKey::kRoot ? "root CA" : "issuing CA";
  std::string passphrase;
  if (!file.empty()) {
    if (absl::Status s = refx::pki::CheckKeyFilePermissions(file); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(label, " passphrase file: ", s.message()));
    }
    auto text = refx::pki::ReadWholeFile(file);
    if (!text.ok()) return text.status();
    passphrase = std::string(absl::StripTrailingAsciiWhitespace(*text));
  } else if (const char* env = std::getenv(env_name); env != nullptr && *env) {
    passphrase = env;
  } else {
    auto first = Prompt(absl::StrCat(label, " passphrase: "), which);
    if (!first.ok()) return first.status();
    passphrase = *first;
    if (confirm) {
      auto second = Prompt("Repeat the passphrase: ", which);
      if (!second.ok()) return second.status();
      if (*second != passphrase) return absl::InvalidArgumentError("the passphrases differ");
    }
  }
  if (passphrase.size() < 12) {
    return absl::InvalidArgumentError(absl::StrCat("the ", label, " passphrase must be at least 12 characters"));
  }
  return passphrase;
}

absl::StatusOr<std::shared_ptr<const refx::core::Partnership>> LoadPartnership(const GlobalOptions& g) {
  auto partnership = refx::core::Partnership::Load(g.partnership);
  if (!partnership.ok()) {
    return absl::Status(partnership.status().code(),
                        absl::StrCat(partnership.status().message(), " (set --partnership FILE)"));
  }
  return partnership;
}

absl::StatusOr<std::unique_ptr<PartnershipCa>> OpenCa(const GlobalOptions& g) {
  if (g.ca_dir.empty()) {
    return absl::InvalidArgumentError("which CA? pass --ca-dir DIR or set REFX_CA_DIR");
  }
  return PartnershipCa::Open(g.ca_dir);
}

void PrintPublication(const PartnershipCa::Publication& p) {
  std::printf("  revocation list  %s  (sequence %lld, %zu revoked, valid until %s)\n", p.list_path.c_str(),
              static_cast<long long>(p.sequence), p.revoked, Rfc3339(p.next_update).c_str());
  std::printf("  CRL              %s\n", p.crl_path.c_str());
}

absl::StatusOr<std::unique_ptr<PartnershipCa>> OpenUnlocked(const GlobalOptions& g) {
  auto ca = OpenCa(g);
  if (!ca.ok()) return ca.status();
  auto passphrase = GetPassphrase(g, CaKey::kIssuing, false);
  if (!passphrase.ok()) return passphrase.status();
  if (absl::Status s = (*ca)->UnlockIssuingKey(*passphrase); !s.ok()) return s;
  if (std::getenv(kCrashAfterLedgerEnv) != nullptr) {
    (*ca)->after_ledger_write_for_testing = []() -> absl::Status {
      std::fflush(stdout);
      _exit(86);
    };
  }
  auto pending = (*ca)->CompletePendingPublication(g.operator_name, absl::Now());
  if (!pending.ok()) return pending.status();
  if (pending->has_value()) {
    std::printf("Completed a publication an earlier run left pending:\n");
    PrintPublication(**pending);
    std::printf("\n");
  }
  return ca;
}

absl::Status WriteNew(const std::string& path, const std::string& contents, int mode, bool force) {
  if (!force && access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(path, " already exists (use --force to replace it)"));
  }
  return refx::pki::WriteFileAtomically(path, contents, mode);
}

}  // namespace refx::admin
