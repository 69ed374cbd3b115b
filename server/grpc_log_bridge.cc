#include "server/grpc_log_bridge.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "grpc/support/log.h"

namespace refx::server {
namespace {

// gRPC messages carry no request content, but an OpenSSL error string can
// be long: bounded, like every other field refx logs from outside.
constexpr size_t kMaxMessage = 512;

// What gRPC's TLS stack (ssl_transport_security.cc) writes, in order, on the
// thread running a handshake it refuses: the X.509 verification error, then
// the failure.
constexpr absl::string_view kVerifyFailed = "Certificate verify failed with code ";
constexpr absl::string_view kHandshakeFailed = "Handshake failed with fatal error ";

// The verification code of the handshake this thread is running, until its
// failure line consumes it.
thread_local int pending_verify_code = 0;

absl::Mutex observer_mu(absl::kConstInit);
std::function<void(absl::string_view)>* observer ABSL_GUARDED_BY(observer_mu) = nullptr;

void NoteTlsLine(absl::string_view message) {
  if (absl::StartsWith(message, kVerifyFailed)) {
    int code = 0;
    if (absl::SimpleAtoi(message.substr(kVerifyFailed.size()), &code)) pending_verify_code = code;
    return;
  }
  if (!absl::StartsWith(message, kHandshakeFailed)) return;
  const int code = std::exchange(pending_verify_code, 0);
  const std::string reason = TlsRefusalReason(message, code);
  log::Warning("tls_handshake_refused", {{"reason", reason}, {"verify_code", code}, {"stage", "tls"}});
  absl::MutexLock lock(&observer_mu);
  if (observer != nullptr) (*observer)(reason);
}

void Bridge(gpr_log_func_args* args) {
  log::Level level = log::Level::kInfo;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = log::Level::kError;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = log::Level::kDebug;
  absl::string_view file = args->file == nullptr ? "" : args->file;
  if (const size_t slash = file.rfind('/'); slash != absl::string_view::npos) file.remove_prefix(slash + 1);
  absl::string_view message = args->message == nullptr ? "" : args->message;
  if (message.size() > kMaxMessage) message = message.substr(0, kMaxMessage);
  log::Event(level, "grpc_log", {{"source", file}, {"line", args->line}, {"message", message}});
  if (file == "ssl_transport_security.cc") NoteTlsLine(message);
}

}  // namespace

void RouteGrpcLogsToRefxLog() { gpr_set_log_function(&Bridge); }

void SetTlsRefusalObserver(std::function<void(absl::string_view reason)> next) {
  absl::MutexLock lock(&observer_mu);
  delete observer;
  observer = next ? new std::function<void(absl::string_view)>(std::move(next)) : nullptr;
}

std::string TlsRefusalReason(absl::string_view error, int verify_code) {
  switch (verify_code) {
    case 0: break;
    case 9: return "CERTIFICATE_NOT_YET_VALID";
    case 10: return "CERTIFICATE_EXPIRED";
    case 2: case 18: case 19: case 20: case 21: return "CERTIFICATE_UNTRUSTED_ISSUER";
    case 23: return "CERTIFICATE_REVOKED";
    case 26: return "CERTIFICATE_WRONG_PURPOSE";
    case 47: return "CERTIFICATE_NAME_CONSTRAINT";
    case 3: case 11: case 12: return "REVOCATION_STATE_UNKNOWN";
    default: return "CERTIFICATE_INVALID";
  }
  if (absl::StrContains(error, "peer did not return a certificate")) return "NO_CLIENT_CERTIFICATE";
  if (absl::StrContains(error, "certificate verify failed")) return "CERTIFICATE_INVALID";
  if (absl::StrContains(error, "wrong version number") || absl::StrContains(error, "http request") ||
      absl::StrContains(error, "packet length too long")) {
    return "NOT_TLS";
  }
  if (absl::StrContains(error, "unsupported protocol") || absl::StrContains(error, "no shared cipher") ||
      absl::StrContains(error, "version too low") || absl::StrContains(error, "no protocols available")) {
    return "TLS_PARAMETERS_REFUSED";
  }
  return "TLS_HANDSHAKE_FAILED";
}

}  // namespace refx::server
