#include "server/grpc_log_bridge.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "grpc/support/log.h"

namespace refx::server {
namespace {

// gRPC messages carry no request content, but an OpenSSL error string can
// be long: bounded, like every other field refx logs from outside.
constexpr size_t kMaxMessage = 512;

void Bridge(gpr_log_func_args* args) {
  log::Level level = log::Level::kInfo;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = log::Level::kError;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = log::Level::kDebug;
  absl::string_view file = args->file == nullptr ? "" : args->file;
  if (const size_t slash = file.rfind('/'); slash != absl::string_view::npos) file.remove_prefix(slash + 1);
  absl::string_view message = args->message == nullptr ? "" : args->message;
  if (message.size() > kMaxMessage) message = message.substr(0, kMaxMessage);
  log::Event(level, "grpc_log", {{"source", absl::StrCat(file, ":", args->line)}, {"message", std::string(message)}});
}

}  // namespace

void RouteGrpcLogsToRefxLog() { gpr_set_log_function(&Bridge); }

}  // namespace refx::server
