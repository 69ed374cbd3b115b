// Keys and certificates as files hold them: generating keys, reading and
// writing key and certificate PEM, and replacing a file atomically.
// Issuing is in certificate_issuance.cc; inspecting and verifying in
// certificate_inspection.cc.
#include "auth/pki/certificate_authority.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace refx::pki {
namespace {

// OpenSSL asks for a passphrase through a callback; `user_data` points at the
// caller's std::string_view. Returning -1 makes decryption fail cleanly when
// there is no passphrase, instead of prompting on a terminal.
int PassphraseCallback(char* buffer, int size, int /*rwflag*/,
                       void* user_data) {
  const auto* passphrase = static_cast<const std::string_view*>(user_data);
  if (passphrase->empty() || passphrase->size() > static_cast<size_t>(size)) {
    return -1;
  }
  passphrase->copy(buffer, passphrase->size());
  return static_cast<int>(passphrase->size());
}

}  // namespace

absl::StatusOr<PrivateKey> PrivateKey::Generate(KeyType type) {
  ERR_clear_error();
  EvpPkeyPtr key(type == KeyType::kEd25519
                     ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "key generation failed");
  }
  return PrivateKey(std::move(key));
}

absl::StatusOr<PrivateKey> PrivateKey::FromPem(std::string_view pem,
                                               std::string_view passphrase) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                         &PassphraseCallback, &passphrase));
  if (key == nullptr) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        passphrase.empty()
            ? "no private key in PEM (encrypted keys need a passphrase)"
            : "no private key in PEM, or wrong passphrase");
  }
  return PrivateKey(std::move(key));
}

absl::StatusOr<std::string> PrivateKey::ToPem(
    std::string_view passphrase) const {
  ERR_clear_error();
  BioPtr bio(BIO_new(BIO_s_mem()));
  const bool encrypt = !passphrase.empty();
  if (PEM_write_bio_PKCS8PrivateKey(
          bio.get(), key_.get(), encrypt ? EVP_aes_256_cbc() : nullptr,
          encrypt ? passphrase.data() : nullptr,
          static_cast<int>(passphrase.size()), nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        "cannot encode private key");
  }
  return MemoryBioContents(bio.get());
}

Certificate::Certificate(const Certificate& other) { *this = other; }

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_ != nullptr) X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
  }
  return *this;
}

absl::StatusOr<Certificate> Certificate::FromPem(std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (x509 == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "no certificate in PEM");
  }
  return Certificate(std::move(x509));
}

absl::StatusOr<std::vector<Certificate>> Certificate::AllFromPem(
    std::string_view pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBioOver(pem);
  std::vector<Certificate> certs;
  while (true) {
    X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (x509 == nullptr) break;
    certs.emplace_back(std::move(x509));
  }
  // Running out of PEM blocks ends the loop with "no start line"; anything
  // else is a block that failed to parse.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                         ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (certs.empty() || !clean_end) {
    return OpenSslError(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("cannot read certificate #", certs.size() + 1, " in PEM"));
  }
  ERR_clear_error();
  return certs;
}

std::string Certificate::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (x509_ == nullptr || PEM_write_bio_X509(bio.get(), x509_.get()) != 1) {
    ERR_clear_error();
    return "";
  }
  return MemoryBioContents(bio.get());
}
absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view contents, int mode) {
  if (path.empty() || path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\" is not a file path"));
  }
  if ((mode & ~07777) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad file mode ", mode));
  }
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "."
                                : slash == 0               ? "/"
                                             : path.substr(0, slash);
  std::string temp_path = path + ".tmp-XXXXXX";
  int fd = mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot create a file beside ", path));
  }
  auto fail = [&](std::string_view what) {
    const int saved_errno = errno;
    if (fd >= 0) close(fd);
    unlink(temp_path.c_str());
    return absl::ErrnoToStatus(saved_errno,
                               absl::StrCat(ToAbsl(what), " ", temp_path));
  };
  // mkostemp creates the file 0600; widen or keep it before any bytes land.
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot chmod");
  while (!contents.empty()) {
    const ssize_t written = write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    contents.remove_prefix(static_cast<size_t>(written));
  }
  if (fsync(fd) != 0) return fail("cannot fsync");
  const int close_result = close(fd);
  fd = -1;
  if (close_result != 0) return fail("cannot close");
  if (rename(temp_path.c_str(), path.c_str()) != 0) {
    return fail(absl::StrCat("cannot rename to ", path, " from"));
  }
  // Without this the rename itself may not survive a crash.
  const int dir_fd =
      open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || fsync(dir_fd) != 0) {
    const int saved_errno = errno;
    if (dir_fd >= 0) close(dir_fd);
    return absl::ErrnoToStatus(
        saved_errno, absl::StrCat("cannot fsync directory ", directory));
  }
  close(dir_fd);
  return absl::OkStatus();
}

}  // namespace refx::pki
