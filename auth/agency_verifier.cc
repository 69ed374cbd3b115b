#include "auth/agency_verifier.h"

#include "auth/caller_identity.h"
#include "auth/pki/certificate_authority.h"
#include "common/log.h"
#include "grpc/grpc_security_constants.h"

namespace refx::auth {
namespace {

std::string SerialOf(const std::string& pem) {
  auto info = pki::InspectCertificatePem(pem);
  return info.ok() ? info->serial_hex : "unknown";
}

class AgencyCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  AgencyCertificateVerifier(std::shared_ptr<const core::Partnership> partnership,
                            std::shared_ptr<const RevocationChecker> revocation)
      : partnership_(std::move(partnership)), revocation_(std::move(revocation)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    std::vector<std::string> uris;
    for (const auto& u : request->uri_names()) uris.emplace_back(u.data(), u.size());
    const std::string leaf(request->peer_cert().data(), request->peer_cert().size());
    absl::Status status = AgencyIdFromUriSans(uris, *partnership_).status();
    if (status.ok() && revocation_ != nullptr) {
      const std::string chain(request->peer_cert_full_chain().data(), request->peer_cert_full_chain().size());
      status = revocation_->CheckPeer(leaf, chain);
    }
    if (status.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      log::Warning("tls_client_refused", {{"reason", std::string(status.message())},
                                          {"certificate_serial", SerialOf(leaf)}});
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(status.message()));
    }
    return true;  // answered synchronously
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<const core::Partnership> partnership_;
  std::shared_ptr<const RevocationChecker> revocation_;
};

class RevocationCallGate final : public grpc::AuthMetadataProcessor {
 public:
  explicit RevocationCallGate(std::shared_ptr<const RevocationChecker> revocation)
      : revocation_(std::move(revocation)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    auto leaves = context->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (leaves.size() != 1) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
    const std::string leaf(leaves[0].data(), leaves[0].size());
    std::string chain;
    for (const auto& c : context->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME)) {
      chain.append(c.data(), c.size());
    }
    absl::Status status = revocation_->CheckPeer(leaf, chain);
    if (status.ok()) return grpc::Status::OK;
    log::Warning("call_refused_revoked", {{"reason", std::string(status.message())},
                                          {"certificate_serial", SerialOf(leaf)}});
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(status.message()));
  }

 private:
  std::shared_ptr<const RevocationChecker> revocation_;
};

}  // namespace

std::shared_ptr<grpc::experimental::CertificateVerifier> MakeAgencyCertificateVerifier(
    std::shared_ptr<const core::Partnership> partnership, std::shared_ptr<const RevocationChecker> revocation) {
  return grpc::experimental::ExternalCertificateVerifier::Create<AgencyCertificateVerifier>(std::move(partnership),
                                                                                           std::move(revocation));
}

std::shared_ptr<grpc::AuthMetadataProcessor> MakeRevocationCallGate(
    std::shared_ptr<const RevocationChecker> revocation) {
  return std::make_shared<RevocationCallGate>(std::move(revocation));
}

}  // namespace refx::auth
