// The signed revocation list is read from a file an operator (or an
// attacker with write access to it) controls. Two ways in:
//  - the bytes as they are, against the trusted issuing CA: a forged or
//    malformed list must be refused, never crash or be accepted;
//  - first byte 'S': the rest is a list body, signed here with the CA's key
//    (after `@ISSUER@` is replaced by its fingerprint), so the fuzzer reaches
//    every check behind the signature (header, sequence, times, entries).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "auth/pki/dev_pki.h"
#include "auth/pki/openssl_handles.h"
#include "auth/pki/revocation_list.h"
#include "fuzz/fuzz_support.h"

namespace {

struct Signer {
  refx::pki::DevPki pki;
  std::string fingerprint;
};

const Signer& TheSigner() {
  static const auto* signer = [] {
    refx::pki::DevPkiOptions options;
    options.trust_domain = "llr.example";
    auto pki = refx::pki::GenerateDevelopmentPki(options);
    if (!pki.ok()) std::abort();
    auto info = refx::pki::InspectCertificate(pki->agency_ca);
    if (!info.ok()) std::abort();
    return new Signer{*std::move(pki), info->sha256_fingerprint_hex};
  }();
  return *signer;
}

std::string SignedWithTheCa(std::string_view body_template) {
  std::string body = absl::StrReplaceAll(absl::string_view(body_template.data(), body_template.size()), {{"@ISSUER@", TheSigner().fingerprint}});
  EVP_PKEY* key = TheSigner().pki.agency_ca_key.get();
  std::unique_ptr<EVP_MD_CTX, refx::pki::OpenSslDeleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(body.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, bytes, body.size()) != 1) {
    std::abort();
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, bytes, body.size()) !=
      1) {
    std::abort();
  }
  signature.resize(length);
  return absl::StrCat(body, "signature ", absl::Base64Escape(signature), "\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<refx::pki::Certificate> trusted = {TheSigner().pki.agency_ca};
  const std::string_view input = refx::fuzz::AsStdText(data, size);
  if (!input.empty() && input[0] == 'S') {
    const std::string signed_list = SignedWithTheCa(input.substr(1));
    auto list = refx::pki::ParseRevocationList(signed_list, trusted);
    if (list.ok() && list->next_update < list->generated) std::abort();  // the parser's promise
    return 0;
  }
  auto list = refx::pki::ParseRevocationList(input, trusted);
  (void)list;
  return 0;
}
