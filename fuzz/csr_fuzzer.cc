// A CSR is what an agency sends the partnership administrator for
// `refx-admin agency issue`: outside bytes, parsed by OpenSSL under refx's
// rules. Everything refx-admin does with one before issuing runs here.
#include <cstdint>

#include "auth/pki/csr.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto request = refx::pki::CertificateRequest::FromPem(refx::fuzz::AsStdText(data, size));
  if (!request.ok()) return 0;
  (void)request->VerifyProofOfPossession();
  (void)refx::pki::CheckKeyAllowed(request->public_key());
  (void)request->RequestedSubject();
  (void)request->Sha256Hex();
  (void)request->ToPem();
  return 0;
}
