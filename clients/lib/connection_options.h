// How a refx client reaches the server: address, mutual-TLS files, deadline
// and acting person, and the one place that decides where each value comes
// from.
//
// Every client binary (refx, refx-admin, agency integrations) resolves its
// options the same way, so a caseworker who sets REFX_CERT_FILE once gets the
// same behaviour everywhere: command-line flags win over REFX_* environment
// variables, which win over the selected profile of the YAML profile file
// (schema: proto/refx/config/v1/client_config.proto), which wins over the
// built-in defaults. ResolveConnectionOptions is pure apart from reading the
// profile file, so the precedence rules are unit-tested.
#ifndef REFX_CLIENTS_LIB_CONNECTION_OPTIONS_H_
#define REFX_CLIENTS_LIB_CONNECTION_OPTIONS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace refx::client {

// Everything ReferralClient::Connect needs. Paths are used as given (relative
// to the working directory) unless they came from a profile file.
struct ConnectionOptions {
  std::string server = "localhost:50051";
  std::string ca_file;    // PEM roots that must have issued the server's cert.
  std::string cert_file;  // PEM certificate chain of this agency, leaf first.
  std::string key_file;   // PEM private key of cert_file.
  // Host name to check in the server certificate instead of server's host.
  std::string server_name_override;
  absl::Duration timeout = absl::Seconds(10);  // Deadline of each call.
  // Sent as `x-refx-acting-user` metadata when non-empty; printable ASCII.
  std::string acting_user;
  std::string purpose;  // x-refx-purpose; empty = the role's default

  // Where each file option was set ("--ca-file", "REFX_CA_FILE", `profile
  // "live" in /path/config.yaml`), keyed by option name ("ca_file"), so that
  // an unreadable file can be reported with the place to fix it. Filled by
  // ResolveConnectionOptions; may be empty when options are built by hand.
  std::map<std::string, std::string> origin;
};

// Values given on the command line. std::nullopt means "not given", which is
// different from an explicitly empty value.
struct ConnectionFlags {
  std::optional<std::string> server;
  std::optional<std::string> ca_file;
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<std::string> server_name_override;
  std::optional<std::string> profile;
  std::optional<std::string> config;  // Path of the profile file.
  std::optional<std::string> acting_user;
  std::optional<std::string> purpose;
  std::optional<std::string> timeout;  // e.g. "10s", "1m30s", "500ms", "20".
};

// Merges flags > environment > profile file > defaults.
//
// `env` holds the process environment (only REFX_SERVER, REFX_CA_FILE,
// REFX_CERT_FILE, REFX_KEY_FILE, REFX_PROFILE, REFX_CONFIG, REFX_ACTING_USER
// and REFX_TIMEOUT are read); `home` is $HOME, used for the default profile
// file `$HOME/.config/refx/config.yaml` (skipped when `home` is empty).
//
// Errors:
//   NOT_FOUND         a profile file named by --config/REFX_CONFIG does not
//                     exist, or the selected profile is not in the file.
//   INVALID_ARGUMENT  the profile file does not parse (the message names the
//                     key), a timeout does not parse or is not positive, the
//                     acting user is not printable ASCII, or ca_file,
//                     cert_file or key_file is set nowhere (the message lists
//                     every place that was looked at).
absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(
    const ConnectionFlags& flags, const std::map<std::string, std::string>& env,
    const std::string& home);

// Parses a timeout such as "10s", "1m30s", "500ms" or a bare number of
// seconds ("20"). INVALID_ARGUMENT unless the result is positive; `source`
// names where the text came from in the message.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text,
                                            const std::string& source);

}  // namespace refx::client

#endif  // REFX_CLIENTS_LIB_CONNECTION_OPTIONS_H_
