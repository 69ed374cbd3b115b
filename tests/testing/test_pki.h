// A throwaway PKI for integration tests of the mTLS server.
//
// Nothing secret is committed to the repository (aesthetics.md, section 3):
// each test binary builds its own root, agency issuing CA, server
// certificate and agency certificates at run time, in a directory of its
// choosing, using the same code and layout as `refx-admin`'s development PKI
// (auth/pki/dev_pki.h). Unlike that PKI, this one keeps both CA keys in
// memory, so tests can issue certificates that are wrong in exactly one way
// and prove that the server refuses each of them.
//
// Building one takes a few milliseconds, so it is fine per fixture; sharing
// one per test binary (in SetUpTestSuite) is fine too, as it is immutable.

#ifndef REFX_TESTS_TESTING_TEST_PKI_H_
#define REFX_TESTS_TESTING_TEST_PKI_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/pki/dev_pki.h"

namespace refx::testing {

// Client certificates for refusal tests. Each differs from kGood in one
// respect. "TLS refuses" means OpenSSL's chain check fails when agency-ca.pem
// is the only anchor, as on the server; the number is the X509_V_ERR code
// refx::pki::VerifyCertificate reported for it, which the server logs in the
// handshake. "TLS accepts" means only the server's own identity rules
// (exactly one agency URI SAN) can refuse it.
enum class Variant {
  kGood,                   // Accepted everywhere.
  kExpired,                // Ended a day ago. TLS refuses (X509_V_ERR 10).
  kNotYetValid,            // Starts tomorrow. TLS refuses (9).
  kForeignCa,              // Same profile from a separate root and issuing
                           // CA that we do not trust. TLS refuses (20).
  kCommonNameOnly,         // No SAN at all, CN=<agency id>. TLS accepts;
                           // identity must not fall back to the CN.
  kTwoUriSans,             // Two agency URIs, both in the trust domain.
                           // TLS accepts; identity needs exactly one.
  kUriOutsideTrustDomain,  // Signed by our agency CA anyway, for
                           // spiffe://outside.invalid/agency/<id>. TLS
                           // refuses through the name constraint (47).
  kServerAuthOnly,         // EKU serverAuth only. TLS refuses (26).
  kNoExtendedKeyUsage,     // No EKU extension. TLS accepts (a leaf without
                           // EKU is good for any purpose, security notes V3);
                           // the agency profile refuses it.
  kSelfSigned,             // Good profile, signed by its own key; the chain
                           // is the leaf alone. TLS refuses (18).
  kCaAsLeaf,               // CA:TRUE with keyCertSign only, signed by our
                           // agency CA. TLS refuses (26: no digitalSignature).
  kCaWithClientAuth,       // CA:TRUE, keyUsage digitalSignature+keyCertSign,
                           // EKU clientAuth: a CA dressed as a client.
  kKeyCertSignLeaf,        // CA:FALSE but keyUsage also allows keyCertSign.
  kKeyAgreementOnly,       // keyUsage keyAgreement only (no digitalSignature):
                           // OpenSSL's sslclient purpose accepts it.
  kAnyExtendedKeyUsage,    // EKU anyExtendedKeyUsage instead of clientAuth.
  kNoKeyUsage,             // No keyUsage extension at all: allowed by the
                           // profile (digitalSignature is required only
                           // where keyUsage is present).
  kNoBasicConstraints,     // No basicConstraints at all: allowed (CA:FALSE
                           // or absent).
  kWeakRsaKey,             // RSA 1024-bit key, otherwise good.
  kRsa2048Key,             // RSA 2048-bit key, otherwise good: allowed.
};

// "Good", "Expired", ...: for parameterised test names.
std::string_view VariantName(Variant variant);

// All variants, for INSTANTIATE_TEST_SUITE_P.
std::vector<Variant> AllVariants();

class TestPki {
 public:
  // What a client presents: the leaf followed by its issuing CA (just the
  // leaf for kSelfSigned), and the unencrypted PKCS#8 key.
  struct ClientCert {
    std::string cert_chain_pem;
    std::string key_pem;
  };

  // Writes the development PKI for `trust_domain` (one certificate per id
  // in `agency_ids`, OU "test") into `directory`, creating it but not its
  // parents and replacing any PKI already there. Errors are those of
  // refx::pki::WriteDevelopmentPkiFiles.
  static absl::StatusOr<std::unique_ptr<TestPki>> Create(
      std::string directory, std::string trust_domain,
      std::vector<std::string> agency_ids);

  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& directory() const { return options_.directory; }
  const std::string& trust_domain() const { return options_.trust_domain; }

  // The files, as the server and CLI flags take them.
  std::string root_ca_pem_path() const;    // Clients' anchor for the server.
  std::string agency_ca_pem_path() const;  // The server's client-trust bundle.
  std::string server_cert_path() const;
  std::string server_key_path() const;
  std::string agency_cert_chain_path(const std::string& agency_id) const;
  std::string agency_key_path(const std::string& agency_id) const;

  // The same contents in memory, for credentials built from strings.
  std::string root_ca_pem() const;
  std::string agency_ca_pem() const;

  // The certificate written for a registered agency. Aborts the test binary
  // on an id that was not passed to Create: that is a bug in the test.
  ClientCert Agency(const std::string& agency_id) const;

  // A fresh key and certificate of `variant` for `agency_id`, valid around
  // the moment of the call. The id need not be registered: a kGood
  // certificate for an unknown agency is how a test reaches authorisation
  // with a valid TLS identity. InvalidArgument for an id outside [a-z0-9-].
  absl::StatusOr<ClientCert> Issue(const std::string& agency_id,
                                   Variant variant) const;

  // A kGood certificate for `agency_id` valid from a minute ago for
  // `lifetime` (e.g. one that expires, by a server's fake clock, while its
  // connection is open).
  absl::StatusOr<ClientCert> IssueWithLifetime(const std::string& agency_id,
                                               absl::Duration lifetime) const;

  // Keys and certificates, CA keys included, for tests that need a
  // certificate no variant describes (e.g. a rotated server certificate).
  const pki::DevPki& material() const { return pki_; }

 private:
  TestPki(pki::DevPkiOptions options, pki::DevPki pki,
          std::map<std::string, ClientCert> agencies);

  pki::DevPkiOptions options_;
  pki::DevPki pki_;
  std::map<std::string, ClientCert> agencies_;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_TEST_PKI_H_
