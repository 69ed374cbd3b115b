#include "common/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace refx {
namespace {

[[noreturn]] void Die(const char* message) {
  std::fputs(message, stderr);
  std::abort();
}

// OpenSSL 3 resolves EVP_sha256() and "HMAC" through its provider registry
// on every use unless the caller fetches the implementation once
// (callgrind: the implicit fetch, with its locks and property matching, cost
// more than hashing a referral). Fetched once, kept for the process.
EVP_MD* Sha256Md() {
  static EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) Die("refx: SHA-256 is unavailable\n");
    return fetched;
  }();
  return md;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (fetched == nullptr) Die("refx: HMAC is unavailable\n");
    return fetched;
  }();
  return mac;
}

// A context keyed with the last key this thread used: keying HMAC (the
// digest fetch and the two padded key blocks) costs more than MACing a
// short input, and the server uses one key for its whole life. Each MAC is
// computed on a copy of it.
struct KeyedHmac {
  std::string key;
  EVP_MAC_CTX* ctx = nullptr;
  ~KeyedHmac() { EVP_MAC_CTX_free(ctx); }
};

EVP_MAC_CTX* KeyedContext(absl::string_view key) {
  thread_local KeyedHmac keyed;
  if (keyed.ctx != nullptr && keyed.key == key) return keyed.ctx;
  EVP_MAC_CTX_free(keyed.ctx);
  keyed.ctx = nullptr;
  keyed.key.clear();
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(HmacMac());
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  if (ctx == nullptr ||
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  keyed.ctx = ctx;
  keyed.key = std::string(key);
  return ctx;
}

}  // namespace

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, Sha256Md(), nullptr) != 1) {
    Die("refx: SHA-256 failed\n");
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t size = 0;
  EVP_MAC_CTX* keyed = KeyedContext(key);
  EVP_MAC_CTX* ctx = keyed != nullptr ? EVP_MAC_CTX_dup(keyed) : nullptr;
  const bool ok = ctx != nullptr &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
                  EVP_MAC_final(ctx, mac, &size, sizeof mac) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) Die("refx: HMAC-SHA256 failed\n");
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

namespace {

// RAND_bytes costs the same for 12 bytes as for 512 (1.8 µs on this VM,
// half of it a getpid() syscall: OpenSSL's fork check on every call), and
// a create draws seven small values (an id, an etag, four nonces). So each
// thread draws small values from a pool of CSPRNG output filled 512 bytes
// at a time, and wipes each value's bytes from the pool as it hands them
// out. A forked child must never hand out what its parent may also hand
// out (a repeated AES-GCM nonce would be fatal), so a fork discards every
// pool in the child.
constexpr size_t kRandomPoolBytes = 512;
constexpr size_t kLargestPooledDraw = 16;  // ids, etags, nonces; keys go straight to RAND_bytes
std::atomic<uint64_t> g_fork_generation{0};

struct RandomPool {
  unsigned char bytes[kRandomPoolBytes];
  size_t used = kRandomPoolBytes;  // empty until first filled
  uint64_t fork_generation = 0;
  ~RandomPool() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

void DrawFromOpenSsl(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) Die("refx: the OpenSSL CSPRNG failed\n");
}

void DrawPooled(unsigned char* out, size_t n) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    if (pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); }) != 0) {
      Die("refx: cannot register the random pool's fork handler\n");
    }
  });
  thread_local RandomPool pool;
  const uint64_t generation = g_fork_generation.load();
  if (pool.fork_generation != generation) {  // this process is a fork of the one that filled it
    OPENSSL_cleanse(pool.bytes, sizeof pool.bytes);
    pool.used = kRandomPoolBytes;
    pool.fork_generation = generation;
  }
  if (kRandomPoolBytes - pool.used < n) {
    DrawFromOpenSsl(pool.bytes, kRandomPoolBytes);
    pool.used = 0;
  }
  std::memcpy(out, pool.bytes + pool.used, n);
  OPENSSL_cleanse(pool.bytes + pool.used, n);
  pool.used += n;
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (n <= kLargestPooledDraw) {
    DrawPooled(bytes, n);
  } else {
    DrawFromOpenSsl(bytes, n);
  }
  return out;
}

std::string NewRandomId() { return HexEncode(RandomBytes(16)); }

}  // namespace refx
