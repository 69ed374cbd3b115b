#include "auth/agency_verifier.h"

#include "auth/caller_identity.h"
#include "auth/pki/certificate_authority.h"
#include "common/log.h"

namespace refx::auth {
namespace {

class AgencyCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit AgencyCertificateVerifier(std::shared_ptr<const core::Partnership> partnership)
      : partnership_(std::move(partnership)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override {
    std::vector<std::string> uris;
    for (const auto& u : request->uri_names()) uris.emplace_back(u.data(), u.size());
    auto agency = AgencyIdFromUriSans(uris, *partnership_);
    if (agency.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      std::string serial = "unknown";
      auto info = pki::InspectCertificatePem(std::string(request->peer_cert().data(), request->peer_cert().size()));
      if (info.ok()) serial = info->serial_hex;
      log::Warning("tls_client_refused", {{"reason", std::string(agency.status().message())},
                                          {"certificate_serial", serial}});
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(agency.status().message()));
    }
    return true;  // answered synchronously
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<const core::Partnership> partnership_;
};

}  // namespace

std::shared_ptr<grpc::experimental::CertificateVerifier> MakeAgencyCertificateVerifier(
    std::shared_ptr<const core::Partnership> partnership) {
  return grpc::experimental::ExternalCertificateVerifier::Create<AgencyCertificateVerifier>(std::move(partnership));
}

}  // namespace refx::auth
