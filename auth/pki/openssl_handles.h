// Adapters between OpenSSL's C conventions and ours.
//
// OpenSSL hands out raw pointers that each need their own *_free call, and it
// reports failures through a thread-local error queue rather than return
// values. Everything in auth/pki holds OpenSSL objects through the unique_ptr
// aliases below, so an early `return status;` can never leak, and turns the
// error queue into absl::Status text with OpenSslError() so that no OpenSSL
// code or stale queue entry escapes this library.

#ifndef REFX_AUTH_PKI_OPENSSL_HANDLES_H_
#define REFX_AUTH_PKI_OPENSSL_HANDLES_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace refx::pki {

// Calls a free function chosen at compile time, so each alias below costs no
// more than a raw pointer.
template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// Debian's Abseil is built with its own absl::string_view, which does not
// convert implicitly from std::string_view; this spells the conversion out.
inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

namespace internal {
// OPENSSL_free and sk_*_pop_free are macros, which cannot be template
// arguments; these wrappers give them an address.
inline void FreeOpenSslString(char* s) { OPENSSL_free(s); }
inline void FreeX509Stack(STACK_OF(X509) * s) {
  sk_X509_pop_free(s, X509_free);
}
}  // namespace internal

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using X509StorePtr =
    std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using X509StackPtr =
    std::unique_ptr<STACK_OF(X509), OpenSslDeleter<internal::FreeX509Stack>>;
using GeneralNamePtr =
    std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using NameConstraintsPtr =
    std::unique_ptr<NAME_CONSTRAINTS, OpenSslDeleter<NAME_CONSTRAINTS_free>>;
using OpenSslStringPtr =
    std::unique_ptr<char, OpenSslDeleter<internal::FreeOpenSslString>>;

// Empties this thread's OpenSSL error queue and returns its entries joined
// with "; ", or "no OpenSSL error detail" when it was empty. Draining matters
// as much as reading: a left-over entry would be blamed on the next call.
inline std::string DrainOpenSslErrors() {
  std::string out;
  char buffer[256];
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buffer);
  }
  return out.empty() ? "no OpenSSL error detail" : out;
}

// A status whose message is `what` followed by the drained error queue.
inline absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  return absl::Status(code, std::string(what) + ": " + DrainOpenSslErrors());
}

// A read-only memory BIO over `data`. The BIO borrows the bytes, so `data`
// must outlive it.
inline BioPtr MemoryBioOver(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Everything written so far to a memory BIO, as a string.
inline std::string MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<size_t>(length))
                    : std::string();
}

}  // namespace refx::pki

#endif  // REFX_AUTH_PKI_OPENSSL_HANDLES_H_
