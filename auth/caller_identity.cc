#include "auth/caller_identity.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/pki/certificate_authority.h"
#include "common/status_details.h"
#include "grpc/grpc_security_constants.h"
#include "refx/config/v1/partnership.pb.h"

namespace refx::auth {
namespace {

// What IdentifyCaller needs from the peer's certificate.
struct CertificateFacts {
  std::string serial_hex;
  absl::Time not_after;
};

// Parsing the peer certificate's PEM with OpenSSL on every call cost more
// server CPU than the rest of identification (callgrind: PEM decode, DER
// parse, BN and name printing). The facts are a pure function of the PEM
// bytes, so they are remembered, keyed by those bytes: a renewed or
// different certificate has different bytes and is parsed afresh. Only
// readable certificates are remembered. Bounded: when full it is emptied
// (connections are long-lived; the working set is the partnership's
// agencies' current certificates).
class CertificateFactsCache {
 public:
  static constexpr size_t kMaxEntries = 1024;

  bool Lookup(absl::string_view pem, CertificateFacts* out) {
    absl::ReaderMutexLock lock(&mu_);
    auto it = facts_.find(pem);
    if (it == facts_.end()) return false;
    *out = it->second;
    return true;
  }

  void Insert(absl::string_view pem, const CertificateFacts& facts) {
    absl::MutexLock lock(&mu_);
    if (facts_.size() >= kMaxEntries) facts_.clear();
    facts_.emplace(std::string(pem), facts);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CertificateFacts> facts_ ABSL_GUARDED_BY(mu_);
};

CertificateFactsCache& FactsCache() {
  static auto* cache = new CertificateFactsCache();
  return *cache;
}

bool CertificateFactsFromPem(absl::string_view pem, CertificateFacts* out) {
  if (FactsCache().Lookup(pem, out)) return true;
  auto info = pki::InspectCertificatePem(std::string_view(pem.data(), pem.size()));
  if (!info.ok()) return false;
  out->serial_hex = info->serial_hex;
  out->not_after = info->not_after;
  if (!out->serial_hex.empty()) FactsCache().Insert(pem, *out);
  return true;
}

}  // namespace

absl::StatusOr<std::string> AgencyIdFromUriSans(const std::vector<std::string>& uris,
                                                const core::Partnership& partnership) {
  auto invalid = [](std::string message) {
    return WithErrorInfo(absl::UnauthenticatedError(std::move(message)), "CERTIFICATE_IDENTITY_INVALID");
  };
  if (uris.empty()) return invalid("client certificate has no URI SAN naming an agency");
  if (uris.size() > 1) return invalid("client certificate has more than one URI SAN");
  const std::string agency_id = partnership.AgencyIdFromSpiffeId(uris[0]);
  if (agency_id.empty()) {
    return invalid(absl::StrCat("client certificate URI SAN is not of the form spiffe://", partnership.trust_domain(),
                                "/agency/<agency-id>"));
  }
  const config::v1::Agency* agency = partnership.FindAgency(agency_id);
  if (agency == nullptr) {
    return WithErrorInfo(absl::UnauthenticatedError(absl::StrCat("agency ", agency_id, " is not a party to partnership ",
                                                                 partnership.id())),
                         "AGENCY_NOT_REGISTERED");
  }
  if (agency->suspended()) {
    return WithErrorInfo(
        absl::UnauthenticatedError(absl::StrCat("agency ", agency_id, " is suspended from the partnership")),
        "AGENCY_SUSPENDED");
  }
  return agency_id;
}

PeerCredential ReadPeerCredential(const grpc::AuthContext& context) {
  PeerCredential peer;
  peer.authenticated = context.IsPeerAuthenticated();
  for (const auto& v : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) peer.uris.emplace_back(v.data(), v.size());
  auto leaves = context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (leaves.size() == 1) peer.leaf_pem.assign(leaves[0].data(), leaves[0].size());
  for (const auto& c : context.FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME)) {
    peer.chain_pem.append(c.data(), c.size());
  }
  return peer;
}

absl::StatusOr<core::Caller> IdentifyCaller(const PeerCredential& peer, const core::Partnership& partnership,
                                            const std::string& acting_user) {
  if (!peer.authenticated) {
    return WithErrorInfo(absl::UnauthenticatedError("no verified client certificate"), "CERTIFICATE_IDENTITY_INVALID");
  }
  auto agency_id = AgencyIdFromUriSans(peer.uris, partnership);
  if (!agency_id.ok()) return agency_id.status();
  const config::v1::Agency& agency = *partnership.FindAgency(*agency_id);

  core::Caller caller;
  caller.agency_id = *agency_id;
  caller.display_name = agency.display_name();
  caller.agency_type = absl::AsciiStrToLower(config::v1::AgencyType_Name(agency.type()));
  caller.role = agency.role();
  caller.spiffe_id = peer.uris[0];
  caller.acting_user = acting_user;
  CertificateFacts facts;
  if (!peer.leaf_pem.empty() && CertificateFactsFromPem(peer.leaf_pem, &facts)) {
    caller.certificate_serial = std::move(facts.serial_hex);
    caller.certificate_not_after = facts.not_after;
  }
  if (caller.certificate_serial.empty()) {
    // Without the certificate we cannot record which credential acted:
    // refuse rather than act anonymously.
    return WithErrorInfo(absl::UnauthenticatedError("client certificate is unreadable"),
                         "CERTIFICATE_IDENTITY_INVALID");
  }
  return caller;
}

core::Caller ClaimedCaller(const PeerCredential& peer, const core::Partnership& partnership) {
  core::Caller claimed;
  claimed.agency_id = "-";
  if (peer.uris.size() == 1) {
    const std::string id = partnership.AgencyIdFromSpiffeId(peer.uris[0]);
    if (!id.empty()) claimed.agency_id = id;
  }
  CertificateFacts facts;
  if (!peer.leaf_pem.empty() && CertificateFactsFromPem(peer.leaf_pem, &facts)) {
    claimed.certificate_serial = std::move(facts.serial_hex);
  }
  return claimed;
}

}  // namespace refx::auth
