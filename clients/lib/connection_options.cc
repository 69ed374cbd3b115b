#include "clients/lib/connection_options.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/yaml_proto.h"
#include "refx/config/v1/client_config.pb.h"

namespace refx::client {
namespace {

using ::refx::config::v1::ClientConfig;
using ::refx::config::v1::ClientProfile;

// One option's candidate sources, highest precedence first.
struct OptionSpec {
  const char* option;    // Name in ConnectionOptions and the profile file.
  const char* flag;      // e.g. "--ca-file".
  const char* env;       // e.g. "REFX_CA_FILE", or nullptr.
  bool is_path;          // Relative profile values resolve against its dir.
};

std::optional<std::string> EnvValue(const std::map<std::string, std::string>& env,
                                    const char* name) {
  if (name == nullptr) return std::nullopt;
  auto it = env.find(name);
  // An empty variable counts as unset, as in most Unix tools, so that
  // `REFX_CERT_FILE= refx ...` falls back to the profile.
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string ResolveAgainst(const std::string& dir, const std::string& path) {
  if (path.empty() || dir.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(dir) / p).lexically_normal().string();
}

std::string ProfileValue(const ClientProfile& profile, const std::string& option) {
  if (option == "server") return profile.server();
  if (option == "ca_file") return profile.ca_file();
  if (option == "cert_file") return profile.cert_file();
  if (option == "key_file") return profile.key_file();
  if (option == "server_name_override") return profile.server_name_override();
  if (option == "acting_user") return profile.acting_user();
  if (option == "purpose") return profile.purpose();
  if (option == "timeout") return profile.timeout();
  return "";
}

std::string ProfileNames(const ClientConfig& config) {
  std::vector<std::string> names;
  for (const auto& [name, unused] : config.profiles()) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

bool IsPrintableAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text,
                                            const std::string& source) {
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout \"", text, "\" from ", source,
        " is not a duration; use e.g. 10s, 1m30s, 500ms"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout \"", text, "\" from ", source, " must be positive and finite"));
  }
  return d;
}

absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(
    const ConnectionFlags& flags, const std::map<std::string, std::string>& env,
    const std::string& home) {
  // 1. Find and read the profile file. Only a file the user named explicitly
  // must exist; the default location is optional.
  std::string config_path;
  std::string config_origin;
  if (flags.config.has_value()) {
    config_path = *flags.config;
    config_origin = "--config";
  } else if (auto v = EnvValue(env, "REFX_CONFIG")) {
    config_path = *v;
    config_origin = "REFX_CONFIG";
  } else if (!home.empty()) {
    config_path = absl::StrCat(home, "/.config/refx/config.yaml");
  }
  ClientConfig config;
  bool have_config = false;
  if (!config_path.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(config_path, ec)) {
      std::string text;
      REFX_RETURN_IF_ERROR(ReadFileToString(config_path, &text));
      REFX_RETURN_IF_ERROR(ParseYamlToProto(text, config_path, &config));
      have_config = true;
    } else if (!config_origin.empty()) {
      return absl::NotFoundError(absl::StrCat("profile file ", config_path, " (from ",
                                              config_origin, ") does not exist"));
    }
  }
  const std::string config_dir =
      have_config ? std::filesystem::path(config_path).parent_path().string() : "";

  // 2. Select the profile.
  std::string profile_name;
  std::string profile_origin;
  if (flags.profile.has_value() && !flags.profile->empty()) {
    profile_name = *flags.profile;
    profile_origin = "--profile";
  } else if (auto v = EnvValue(env, "REFX_PROFILE")) {
    profile_name = *v;
    profile_origin = "REFX_PROFILE";
  } else if (have_config && !config.default_profile().empty()) {
    profile_name = config.default_profile();
    profile_origin = absl::StrCat("default_profile in ", config_path);
  }
  const ClientProfile* profile = nullptr;
  if (!profile_name.empty()) {
    if (!have_config) {
      return absl::NotFoundError(absl::StrCat(
          "profile \"", profile_name, "\" (from ", profile_origin,
          ") was requested but there is no profile file",
          config_path.empty() ? " ($HOME is not set; use --config)"
                              : absl::StrCat(" at ", config_path)));
    }
    auto it = config.profiles().find(profile_name);
    if (it == config.profiles().end()) {
      return absl::NotFoundError(absl::StrCat("profile \"", profile_name, "\" (from ",
                                              profile_origin, ") is not in ", config_path,
                                              "; profiles there: ", ProfileNames(config)));
    }
    profile = &it->second;
  }
  const std::string profile_label =
      absl::StrCat("profile \"", profile_name, "\" in ", config_path);

  // 3. Merge, option by option.
  static constexpr OptionSpec kSpecs[] = {
      {"server", "--server", "REFX_SERVER", false},
      {"ca_file", "--ca-file", "REFX_CA_FILE", true},
      {"cert_file", "--cert-file", "REFX_CERT_FILE", true},
      {"key_file", "--key-file", "REFX_KEY_FILE", true},
      {"server_name_override", "--server-name-override", nullptr, false},
      {"acting_user", "--acting-user", "REFX_ACTING_USER", false},
      {"purpose", "--purpose", "REFX_PURPOSE", false},
      {"timeout", "--timeout", "REFX_TIMEOUT", false},
  };
  const std::map<std::string, const std::optional<std::string>*> flag_values = {
      {"server", &flags.server},
      {"ca_file", &flags.ca_file},
      {"cert_file", &flags.cert_file},
      {"key_file", &flags.key_file},
      {"server_name_override", &flags.server_name_override},
      {"acting_user", &flags.acting_user},
      {"purpose", &flags.purpose},
      {"timeout", &flags.timeout},
  };
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> origin;
  for (const OptionSpec& spec : kSpecs) {
    const std::optional<std::string>& flag = *flag_values.at(spec.option);
    if (flag.has_value()) {
      values[spec.option] = *flag;
      origin[spec.option] = spec.flag;
    } else if (auto v = EnvValue(env, spec.env)) {
      values[spec.option] = *v;
      origin[spec.option] = spec.env;
    } else if (profile != nullptr && !ProfileValue(*profile, spec.option).empty()) {
      std::string v = ProfileValue(*profile, spec.option);
      values[spec.option] = spec.is_path ? ResolveAgainst(config_dir, v) : v;
      origin[spec.option] = profile_label;
    }
  }

  ConnectionOptions options;
  if (values.count("server")) options.server = values["server"];
  options.ca_file = values["ca_file"];
  options.cert_file = values["cert_file"];
  options.key_file = values["key_file"];
  options.server_name_override = values["server_name_override"];
  options.acting_user = values["acting_user"];
  if (options.acting_user.empty()) {
    // The server requires a named person for calls that touch personal
    // data; the login name is the honest default for a person at a shell.
    if (auto user = EnvValue(env, "USER")) {
      options.acting_user = *user;
      origin["acting_user"] = "USER";
    }
  }
  options.purpose = values["purpose"];
  if (values.count("timeout")) {
    REFX_ASSIGN_OR_RETURN(options.timeout,
                          ParseTimeout(values["timeout"], origin["timeout"]));
  }
  if (options.server.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the server address from ", origin["server"], " is empty"));
  }
  if (!IsPrintableAscii(options.acting_user)) {
    // gRPC metadata values must be printable ASCII; catching it here gives a
    // message instead of a failed call.
    return absl::InvalidArgumentError(absl::StrCat(
        "the acting user from ", origin["acting_user"],
        " must be printable ASCII (e.g. an email address or staff number)"));
  }

  // 4. Mutual TLS needs all three files; say every place we looked.
  std::vector<std::string> missing, missing_flags, missing_env;
  for (const OptionSpec& spec : kSpecs) {
    if (!spec.is_path || !values[spec.option].empty()) continue;
    missing.push_back(spec.option);
    missing_flags.push_back(spec.flag);
    missing_env.push_back(spec.env);
  }
  if (!missing.empty()) {
    std::string profile_place;
    if (profile != nullptr) {
      profile_place = absl::StrCat(profile_label, " (keys ", absl::StrJoin(missing, ", "), ")");
    } else if (have_config) {
      profile_place = absl::StrCat(
          config_path, ", but no profile was selected (use --profile, REFX_PROFILE or "
          "default_profile; profiles there: ", ProfileNames(config), ")");
    } else if (!config_path.empty()) {
      profile_place = absl::StrCat("no profile file at ", config_path);
    } else {
      profile_place = "no profile file ($HOME is not set and no --config or REFX_CONFIG)";
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "mutual TLS needs ", absl::StrJoin(missing, ", "),
        " but none was set. Looked at: flags ", absl::StrJoin(missing_flags, ", "),
        "; environment ", absl::StrJoin(missing_env, ", "), "; ", profile_place));
  }

  options.origin = {};
  for (const char* name : {"ca_file", "cert_file", "key_file", "server"}) {
    options.origin[name] = origin.count(name) ? origin[name] : "default";
  }
  return options;
}

}  // namespace refx::client
