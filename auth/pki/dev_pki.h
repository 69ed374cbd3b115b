// A complete development PKI for one partnership, in one call.
//
// Developers and integration tests need the same four things the production
// deployment has: a root the clients trust, an agency issuing CA the server
// trusts (and nothing else, grpc-security.md V11), a server certificate, and
// one client certificate per agency. This file produces them with the
// production profiles so that local runs exercise the real checks, and lays
// them out the way the server and CLI flags expect:
//
//   <directory>/root-ca.pem          clients' trust anchor for the server
//   <directory>/agency-ca.pem        the server's whole client-trust bundle
//   <directory>/server.pem, .key     server leaf (root-signed), key 0600
//   <directory>/agencies/<id>.pem    agency leaf followed by agency-ca.pem
//   <directory>/agencies/<id>.key    agency key, 0600
//
// The CA keys are never written: a development PKI is rebuilt, not extended.
// Code that must keep issuing (tests) calls GenerateDevelopmentPki and holds
// the keys in memory.

#ifndef REFX_AUTH_PKI_DEV_PKI_H_
#define REFX_AUTH_PKI_DEV_PKI_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/pki/certificate_authority.h"

namespace refx::pki {

struct DevPkiAgency {
  std::string id;  // [a-z0-9-]+, the last segment of the SPIFFE ID.
  std::string organizational_unit;  // The agency type, e.g. "police".
};

struct DevPkiOptions {
  std::string directory;
  std::string trust_domain;  // e.g. "llr.refx.example"
  std::string organization = "refx development partnership";
  std::vector<DevPkiAgency> agencies;
  std::vector<std::string> server_dns_names = {"localhost"};
  std::vector<std::string> server_ips = {"127.0.0.1", "::1"};
  absl::Duration leaf_lifetime = absl::Hours(24 * 90);
  // Injected so tests can build a PKI that is valid at a chosen instant.
  absl::Time now = absl::Now();
  bool overwrite = false;
};

struct DevPkiResult {
  std::vector<std::string> files_written;  // Full paths, in write order.
};

// One agency's credentials.
struct DevPkiAgencyCredentials {
  std::string id;
  PrivateKey key;
  Certificate certificate;
};

// Everything WriteDevelopmentPki writes, plus the two CA keys it does not.
struct DevPki {
  PrivateKey root_key;
  Certificate root_ca;
  PrivateKey agency_ca_key;
  Certificate agency_ca;
  PrivateKey server_key;
  Certificate server_certificate;
  std::vector<DevPkiAgencyCredentials> agencies;  // In options order.
};

// The SPIFFE ID an agency's certificate carries:
// "spiffe://<trust_domain>/agency/<agency_id>".
std::string AgencySpiffeId(std::string_view trust_domain,
                           std::string_view agency_id);

// The profile of an agency client certificate valid from `now` - 5 minutes
// (clock skew) for `lifetime`: CN=<id>, O, OU, exactly one URI SAN, EKU
// clientAuth, CA:FALSE. Shared so tests issue variants from the real profile.
CertificateProfile AgencyLeafProfile(const DevPkiOptions& options,
                                     const DevPkiAgency& agency);

// Issues the whole PKI in memory and verifies every leaf against its real
// chain (and the agency leaves against agency-ca.pem alone, as the server
// will). Writes nothing. InvalidArgument for bad options (empty trust domain
// or server names, malformed or duplicate agency ids, non-positive lifetime).
absl::StatusOr<DevPki> GenerateDevelopmentPki(const DevPkiOptions& options);

// Writes `pki` in the layout above, creating `options.directory` and its
// agencies/ subdirectory (mode 0700; parents must exist). Refuses with
// FailedPrecondition when root-ca.pem already exists, unless
// `options.overwrite`. root-ca.pem is written last, so an interrupted run
// leaves no root-ca.pem behind and can simply be repeated.
absl::StatusOr<DevPkiResult> WriteDevelopmentPkiFiles(
    const DevPki& pki, const DevPkiOptions& options);

// GenerateDevelopmentPki then WriteDevelopmentPkiFiles; the CA keys are
// discarded. Checks the overwrite rule before generating anything.
absl::StatusOr<DevPkiResult> WriteDevelopmentPki(const DevPkiOptions& options);

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_DEV_PKI_H_
