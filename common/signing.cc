#include "common/signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/hash.h"

namespace refx {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) { return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free); }

BioPtr MemoryBio(absl::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

bool IsEd25519(const EVP_PKEY* key) { return key != nullptr && EVP_PKEY_is_a(key, "ED25519"); }

}  // namespace

absl::StatusOr<VerifyingKey> VerifyingKey::FromPem(absl::string_view pem) {
  ERR_clear_error();
  {
    BioPtr bio = MemoryBio(pem);
    EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (IsEd25519(key)) return VerifyingKey(Own(key));
    EVP_PKEY_free(key);
  }
  ERR_clear_error();
  auto signing = SigningKey::FromPem(pem);
  if (signing.ok()) return signing->Public();
  return absl::InvalidArgumentError("not a PEM Ed25519 public or private key");
}

bool VerifyingKey::Verify(absl::string_view message, absl::string_view signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                   signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string VerifyingKey::PublicPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return "";
  return BioText(bio.get());
}

std::string VerifyingKey::KeyId() const {
  unsigned char raw[32];
  size_t size = sizeof(raw);
  if (EVP_PKEY_get_raw_public_key(key_.get(), raw, &size) != 1) return "";
  return HexEncode(Sha256(absl::string_view(reinterpret_cast<const char*>(raw), size)));
}

absl::StatusOr<SigningKey> SigningKey::Generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return absl::InternalError("cannot generate an Ed25519 key");
  return SigningKey(Own(key));
}

absl::StatusOr<SigningKey> SigningKey::FromPem(absl::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  ERR_clear_error();
  if (!IsEd25519(key)) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError("not a PEM Ed25519 private key");
  }
  return SigningKey(Own(key));
}

std::string SigningKey::Sign(absl::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(64, '\0');
  size_t size = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    ERR_clear_error();
    return "";  // verifies as nothing: a head without a valid signature is reported, never trusted
  }
  signature.resize(size);
  return signature;
}

std::string SigningKey::PrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  return BioText(bio.get());
}

}  // namespace refx
