#include "clients/lib/handshake_diagnosis.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/yaml_proto.h"

namespace refx::client {
namespace {

bool MentionsAny(const std::string& lower, std::initializer_list<const char*> needles) {
  for (const char* n : needles) {
    if (absl::StrContains(lower, n)) return true;
  }
  return false;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// "certificate FILE (serial S, SAN spiffe://...)" or just "certificate FILE".
std::string DescribeCertificate(const DiagnosisContext& c) {
  if (!c.certificate.has_value()) return absl::StrCat("certificate ", c.cert_file);
  std::string sans = c.certificate->uri_sans.empty()
                         ? "no URI SAN"
                         : absl::StrCat("SAN ", absl::StrJoin(c.certificate->uri_sans, ", "));
  return absl::StrCat("certificate ", c.cert_file, " (serial ", c.certificate->serial_hex,
                      ", ", sans, ")");
}

std::string SerialOf(const DiagnosisContext& c) {
  return c.certificate.has_value() ? c.certificate->serial_hex : "unknown";
}

}  // namespace

bool IsConnectionFailure(const absl::Status& status) {
  if (status.ok()) return false;
  if (status.code() == absl::StatusCode::kUnavailable) return true;
  const std::string lower = absl::AsciiStrToLower(status.message());
  return MentionsAny(lower, {"ssl", "handshake", "socket closed"});
}

std::optional<std::string> DiagnoseConnectionFailure(const absl::Status& status,
                                                     const DiagnosisContext& c) {
  if (!IsConnectionFailure(status)) return std::nullopt;
  const std::string lower = absl::AsciiStrToLower(status.message());

  // Nothing about certificates matters if no TCP connection was made.
  if (MentionsAny(lower, {"connection refused", "connect failed", "no route to host",
                          "network is unreachable"})) {
    return absl::StrCat("the server is not reachable at ", c.server,
                        " (connection refused): check --server or REFX_SERVER and that "
                        "refx-server is running and listening there");
  }
  if (MentionsAny(lower, {"dns resolution failed", "name or service not known",
                          "could not resolve", "name resolution"})) {
    return absl::StrCat("cannot resolve the server address ", c.server,
                        ": check --server or REFX_SERVER");
  }

  // The server never says why it refused a client certificate, so check the
  // things we can see locally first.
  if (c.certificate.has_value()) {
    if (c.now >= c.certificate->not_after) {
      return absl::StrCat("your certificate ", c.cert_file, " (serial ", SerialOf(c),
                          ") expired at ", Rfc3339(c.certificate->not_after),
                          "; ask the partnership administrator for a renewed certificate");
    }
    if (c.now < c.certificate->not_before) {
      return absl::StrCat("your certificate ", c.cert_file, " (serial ", SerialOf(c),
                          ") is not valid until ", Rfc3339(c.certificate->not_before),
                          "; check this computer's clock, or wait until then");
    }
  }

  if (absl::StrContains(lower, "peer name") || absl::StrContains(lower, "hostname")) {
    return absl::StrCat(
        "the server's certificate does not name the host in ", c.server,
        c.server_name_override.empty()
            ? ""
            : absl::StrCat(" (or the override ", c.server_name_override, ")"),
        ": connect by the name in its certificate, or set --server-name-override");
  }
  if (absl::StrContains(lower, "certificate verify failed")) {
    return absl::StrCat("the server's certificate at ", c.server,
                        " is not trusted by CA file ", c.ca_file,
                        ": the ca_file is wrong, or ", c.server,
                        " is not the refx server you meant");
  }
  if (absl::StrContains(lower, "unknown ca")) {
    return absl::StrCat("the server does not trust your ", DescribeCertificate(c),
                        ": it was not issued by the partnership's agency CA");
  }
  if (absl::StrContains(lower, "revoked")) {
    return absl::StrCat("your ", DescribeCertificate(c),
                        " has been revoked; ask the partnership administrator for a new one");
  }
  if (MentionsAny(lower, {"certificate required", "handshake", "socket closed", "ssl",
                          "bad certificate"})) {
    return absl::StrCat(
        "the server refused the TLS handshake for ", DescribeCertificate(c),
        ": likely causes: issued by another CA, revoked, or agency not registered or "
        "suspended; run `refx whoami` with a known-good certificate and check the "
        "server log");
  }
  return std::nullopt;
}

absl::Status ExplainConnectionFailure(const absl::Status& status,
                                      const ConnectionOptions& options) {
  if (!IsConnectionFailure(status)) return status;
  DiagnosisContext context;
  context.server = options.server;
  context.ca_file = options.ca_file;
  context.cert_file = options.cert_file;
  context.server_name_override = options.server_name_override;
  context.now = absl::Now();
  std::string pem;
  if (ReadFileToString(options.cert_file, &pem).ok()) {
    auto info = pki::InspectCertificatePem(pem);
    if (info.ok()) context.certificate = *std::move(info);
  }
  std::optional<std::string> diagnosis = DiagnoseConnectionFailure(status, context);
  if (!diagnosis.has_value()) return status;
  absl::Status explained(status.code(),
                         absl::StrCat(*diagnosis, " [grpc: ", status.message(), "]"));
  status.ForEachPayload([&explained](absl::string_view url, const absl::Cord& payload) {
    explained.SetPayload(url, payload);
  });
  return explained;
}

}  // namespace refx::client
