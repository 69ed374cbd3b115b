#include "auth/agency_verifier.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "auth/caller_identity.h"
#include "auth/pki/certificate_authority.h"
#include "common/status_details.h"
#include "common/log.h"
#include "grpc/grpc_security_constants.h"

namespace refx::auth {
namespace {

std::string SerialOf(const std::string& pem) {
  auto info = pki::InspectCertificatePem(pem);
  return info.ok() ? info->serial_hex : "unknown";
}

// The agency profile verdict on a leaf (pki::CheckAgencyClientProfile),
// remembered by its PEM bytes: a verdict is a pure function of them, and
// an agency reconnecting presents the same certificate each time. Bounded:
// emptied when full.
class ProfileVerdicts {
 public:
  absl::Status Check(const std::string& leaf_pem) {
    {
      absl::MutexLock lock(&mu_);
      auto it = verdicts_.find(leaf_pem);
      if (it != verdicts_.end()) return it->second;
    }
    auto leaf = pki::Certificate::FromPem(leaf_pem);
    absl::Status verdict = leaf.ok() ? pki::CheckAgencyClientProfile(*leaf)
                                     : absl::UnauthenticatedError("client certificate is unreadable");
    absl::MutexLock lock(&mu_);
    if (verdicts_.size() >= 4096) verdicts_.clear();
    verdicts_.emplace(leaf_pem, verdict);
    return verdict;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Status> verdicts_ ABSL_GUARDED_BY(mu_);
};

class AgencyCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  AgencyCertificateVerifier(std::shared_ptr<const core::PartnershipHolder> registry,
                            std::shared_ptr<const RevocationChecker> revocation,
                            std::function<void(std::string_view)> on_refused)
      : registry_(std::move(registry)), revocation_(std::move(revocation)), on_refused_(std::move(on_refused)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    std::vector<std::string> uris;
    for (const auto& u : request->uri_names()) uris.emplace_back(u.data(), u.size());
    const std::string leaf(request->peer_cert().data(), request->peer_cert().size());
    // The profile first: only an agency client certificate may name an
    // agency, however its URI SAN reads.
    absl::Status status = profiles_.Check(leaf);
    const bool outside_profile = !status.ok();
    if (status.ok()) status = AgencyIdFromUriSans(uris, *registry_->Current()).status();
    if (status.ok() && revocation_ != nullptr) {
      const std::string chain(request->peer_cert_full_chain().data(), request->peer_cert_full_chain().size());
      status = revocation_->CheckPeer(leaf, chain);
    }
    if (status.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      std::string reason = ErrorReasonOf(status);
      if (reason.empty()) reason = outside_profile ? "CERTIFICATE_PROFILE" : "CERTIFICATE_REFUSED";
      // The same event as the refusals of the TLS stack below (the log
      // bridge), at the verifier's stage, naming the certificate.
      log::Warning("tls_handshake_refused", {{"reason", reason},
                                             {"stage", "verifier"},
                                             {"detail", std::string(status.message())},
                                             {"certificate_serial", SerialOf(leaf)}});
      if (on_refused_) on_refused_(reason);
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(status.message()));
    }
    return true;  // answered synchronously
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<const core::PartnershipHolder> registry_;
  std::shared_ptr<const RevocationChecker> revocation_;
  const std::function<void(std::string_view)> on_refused_;
  ProfileVerdicts profiles_;
};

}  // namespace

std::shared_ptr<grpc::experimental::CertificateVerifier> MakeAgencyCertificateVerifier(
    std::shared_ptr<const core::PartnershipHolder> registry, std::shared_ptr<const RevocationChecker> revocation,
    std::function<void(std::string_view reason)> on_refused) {
  return grpc::experimental::ExternalCertificateVerifier::Create<AgencyCertificateVerifier>(
      std::move(registry), std::move(revocation), std::move(on_refused));
}

}  // namespace refx::auth
