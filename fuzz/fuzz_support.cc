#include "fuzz/fuzz_support.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/signing.h"
#include "storage/make_store.h"
#include "core/method_permissions.h"

namespace refx::fuzz {
namespace {

[[noreturn]] void Die(absl::string_view what) {
  std::fprintf(stderr, "fuzz setup failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace

const core::Partnership& Llr() {
  static const auto* partnership = [] {
    auto loaded = core::Partnership::Load(std::string(REFX_SOURCE_DIR) + "/config/partnership.yaml");
    if (!loaded.ok()) Die(loaded.status().ToString());
    return new std::shared_ptr<const core::Partnership>(*std::move(loaded));
  }();
  return **partnership;
}

std::shared_ptr<const core::Agreement> LlrAgreement() {
  static const auto* agreement = [] {
    auto loaded = core::Agreement::Load(std::string(REFX_SOURCE_DIR) + "/config/agreement.yaml", Llr());
    if (!loaded.ok()) Die(loaded.status().ToString());
    return new std::shared_ptr<const core::Agreement>(*std::move(loaded));
  }();
  return *agreement;
}

std::optional<core::Caller> AdmittedCaller(absl::string_view agency_id, absl::string_view method) {
  const config::v1::Agency* agency = Llr().FindAgency(agency_id);
  if (agency == nullptr) return std::nullopt;
  core::Caller caller;
  caller.agency_id = std::string(agency_id);
  caller.display_name = agency->display_name();
  caller.role = agency->role();
  caller.spiffe_id = Llr().SpiffeIdOf(agency_id);
  caller.certificate_serial = "0F";
  caller.certificate_not_after = absl::Now() + absl::Hours(24);
  caller.acting_user = "fuzzer";
  auto admitted = core::AdmitCall(caller, method, LlrAgreement(), "");
  if (!admitted.ok()) return std::nullopt;
  return *std::move(admitted);
}

namespace {

std::string* scratch_dir = nullptr;

void RemoveScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(*scratch_dir, ignored);
}

}  // namespace

const std::string& ScratchDir() {
  static const bool made = [] {
    std::string base = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
    std::string pattern = base + "/refx-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp");
    scratch_dir = new std::string(pattern);
    std::atexit(RemoveScratchDir);
    return true;
  }();
  (void)made;
  return *scratch_dir;
}

std::unique_ptr<storage::ReferralStore> OpenScratchStore(const std::string& file) {
  storage::MakeStoreOptions options;
  options.config.set_backend("sqlite");
  options.config.set_sqlite_path(ScratchDir() + "/" + file);
  options.config.set_max_batch_size(64);
  options.config.set_read_connections(2);
  auto key = SigningKey::Generate();
  if (!key.ok()) Die("SigningKey::Generate");
  options.audit_head_key = *std::move(key);
  options.adopt_unsigned_head = true;
  auto store = storage::MakeStore(options);
  if (!store.ok()) Die("MakeStore");
  return *std::move(store);
}

}  // namespace refx::fuzz

// Called once by libFuzzer (and by replay_main) before the first input:
// only errors reach the log, so a run's output is the fuzzer's own.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  refx::log::Configure(refx::log::Level::kError, refx::log::Format::kText);
  return 0;
}
