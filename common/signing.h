// Ed25519 signatures (OpenSSL EVP) for what must provably come from the
// server: the audit chain's head. The private key lives in a file outside
// the database, so whoever can rewrite the database cannot re-sign a head
// over a log they cut; anyone with the public key can check a head, a
// checkpoint or a database copy offline.
#ifndef REFX_COMMON_SIGNING_H_
#define REFX_COMMON_SIGNING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace refx {

// A public key that checks signatures. Copyable (shared, immutable).
class VerifyingKey {
 public:
  // From a PEM public key, or the public half of a PEM private key.
  // INVALID_ARGUMENT if it holds no Ed25519 key.
  static absl::StatusOr<VerifyingKey> FromPem(absl::string_view pem);

  bool Verify(absl::string_view message, absl::string_view signature) const;
  // SubjectPublicKeyInfo PEM.
  std::string PublicPem() const;
  // Lowercase hex SHA-256 of the raw 32-byte public key: names the key in
  // checkpoints and logs.
  std::string KeyId() const;

 private:
  explicit VerifyingKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  friend class SigningKey;
  std::shared_ptr<EVP_PKEY> key_;
};

// A private key that signs. Copyable (shared, immutable).
class SigningKey {
 public:
  static absl::StatusOr<SigningKey> Generate();
  // From an unencrypted PKCS#8 PEM Ed25519 private key; INVALID_ARGUMENT
  // otherwise (the text is never echoed).
  static absl::StatusOr<SigningKey> FromPem(absl::string_view pem);

  // The 64-byte signature of `message`.
  std::string Sign(absl::string_view message) const;
  // Unencrypted PKCS#8 PEM (written 0600 by the caller).
  std::string PrivatePem() const;
  VerifyingKey Public() const { return VerifyingKey(key_); }

 private:
  explicit SigningKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace refx

#endif  // REFX_COMMON_SIGNING_H_
