// Loading refx-server's configuration: the YAML file, defaults for every
// field, relative paths resolved against the file's directory, and checks
// that every referenced file is there and readable, so that a mistake fails
// at start with the file and key named rather than at the first handshake.
#ifndef REFX_SERVER_SERVER_CONFIG_H_
#define REFX_SERVER_SERVER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "refx/config/v1/server_config.pb.h"

namespace refx::server {

// Reads `path` (or, if empty, starts from an empty config in the current
// directory), fills defaults and resolves relative paths.
absl::StatusOr<config::v1::ServerConfig> LoadServerConfig(const std::string& path);

// Fills unset fields with defaults, resolving relative paths against `base_dir`.
void ApplyDefaults(const std::string& base_dir, config::v1::ServerConfig* config);

// Where the victim token key lives when the config names none:
// `victim-token.key` beside the database. Only a key at this default path
// is created on first start; a named one must already exist.
std::string DefaultVictimTokenKeyFile(const config::v1::ServerConfig& config);
// Where the public half of a private key file is written: `x.key` -> `x.pub`.
std::string PublicKeyFileFor(const std::string& private_key_file);

// Checks values and files: the TLS files exist and parse as PEM, the
// partnership file is readable, limits are in range. INVALID_ARGUMENT or
// NOT_FOUND naming the key and the file.
absl::Status ValidateServerConfig(const config::v1::ServerConfig& config);

}  // namespace refx::server

#endif  // REFX_SERVER_SERVER_CONFIG_H_
