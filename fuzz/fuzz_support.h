// What the fuzz targets share: the LLR partnership and agreement loaded
// once from config/, and callers of chosen agencies as the server would
// admit them after the handshake (identity is the certificate's business;
// the targets fuzz what comes after it).
#ifndef REFX_FUZZ_FUZZ_SUPPORT_H_
#define REFX_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "core/agreement.h"
#include "core/caller.h"
#include "core/partnership.h"
#include "storage/referral_store.h"

namespace refx::fuzz {

// The committed LLR registry and agreement (config/), loaded once; a
// failure to load aborts: the targets would test nothing.
const core::Partnership& Llr();
std::shared_ptr<const core::Agreement> LlrAgreement();

// A caller of `agency_id` admitted to `method` (full gRPC method name), as
// RunUnary's gate and AdmitCall leave it; nullopt when the agreement does
// not let its role call the method.
std::optional<core::Caller> AdmittedCaller(absl::string_view agency_id, absl::string_view method);

// A scratch directory for this process, removed at exit.
const std::string& ScratchDir();

// A new SQLite store in ScratchDir() named `file`, as a server opens it
// (signed audit head, small batches); aborts if it cannot be opened.
std::unique_ptr<storage::ReferralStore> OpenScratchStore(const std::string& file);

// `data` as text (the bytes as they are, not necessarily UTF-8), for the
// Abseil-based code and for the OpenSSL-based PKI code (std::string_view).
inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}
inline std::string_view AsStdText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace refx::fuzz

#endif  // REFX_FUZZ_FUZZ_SUPPORT_H_
