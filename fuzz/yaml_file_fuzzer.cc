// The YAML files refx reads from operators and users, each through the same
// code the binaries use, built once per kind (CMake defines which):
//   REFX_FUZZ_SERVER_CONFIG   refx-server's config (load, defaults, checks)
//   REFX_FUZZ_PARTNERSHIP     the partnership registry
//   REFX_FUZZ_AGREEMENT       the information-sharing agreement (against LLR)
//   REFX_FUZZ_CLIENT_PROFILE  the profile file of refx and the client libraries
//   REFX_FUZZ_REFERRAL_FILE   `refx create --from-file`, validated as the
//                             server validates a new referral
// A bad file must be an error naming where, never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/yaml_proto.h"
#include "fuzz/fuzz_support.h"

#if defined(REFX_FUZZ_SERVER_CONFIG)
#include "server/server_config.h"
#elif defined(REFX_FUZZ_CLIENT_PROFILE)
#include "clients/lib/connection_options.h"
#elif defined(REFX_FUZZ_REFERRAL_FILE)
#include "core/field_behavior.h"
#include "core/referral_validation.h"
#include "refx/v1/referral.pb.h"
#endif

namespace {

[[maybe_unused]] std::string WriteScratch(absl::string_view text, const char* name) {
  const std::string path = refx::fuzz::ScratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(text.data(), static_cast<std::streamsize>(text.size()));
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text = refx::fuzz::AsText(data, size);
#if defined(REFX_FUZZ_SERVER_CONFIG)
  auto config = refx::server::LoadServerConfig(WriteScratch(text, "server.yaml"));
  if (config.ok()) (void)refx::server::ValidateServerConfig(*config);
#elif defined(REFX_FUZZ_PARTNERSHIP)
  refx::config::v1::Partnership config;
  if (refx::ParseYamlToProto(text, "partnership.yaml", &config).ok()) {
    (void)refx::core::Partnership::Create(std::move(config), "partnership.yaml");
  }
#elif defined(REFX_FUZZ_AGREEMENT)
  refx::config::v1::Agreement config;
  if (refx::ParseYamlToProto(text, "agreement.yaml", &config).ok()) {
    (void)refx::core::Agreement::Create(std::move(config), "agreement.yaml", refx::fuzz::Llr());
  }
#elif defined(REFX_FUZZ_CLIENT_PROFILE)
  refx::client::ConnectionFlags flags;
  flags.config = WriteScratch(text, "config.yaml");
  (void)refx::client::ResolveConnectionOptions(flags, {}, "");
  flags.profile = "leicestershire-police";
  (void)refx::client::ResolveConnectionOptions(flags, {}, "");
#elif defined(REFX_FUZZ_REFERRAL_FILE)
  static const auto caller = refx::fuzz::AdmittedCaller("leicestershire-police", "refx.v1.ReferralService.CreateReferral");
  if (!caller.has_value()) std::abort();
  refx::v1::Referral referral;
  if (refx::ParseYamlToProto(text, "referral.yaml", &referral).ok()) {
    refx::core::ClearOutputOnly(&referral);
    (void)refx::core::RequiredFieldViolations(referral);
    (void)refx::core::ValidateNewReferral(referral, *caller, refx::fuzz::Llr(), absl::Now(), "referral");
  }
#else
#error "define one REFX_FUZZ_* kind"
#endif
  return 0;
}
