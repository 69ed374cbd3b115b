#include "tests/testing/pg_fault_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/server_fixture.h"

namespace refx::testing {
namespace {

constexpr uint32_t kSslRequest = 80877103;
constexpr uint32_t kGssEncRequest = 80877104;

uint32_t BigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  return address;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgFaultProxy>> PgFaultProxy::Start(const std::string& upstream_directory, int port) {
  std::unique_ptr<PgFaultProxy> proxy(new PgFaultProxy);
  proxy->directory_ = MakeTempDir("pg-proxy");
  proxy->upstream_ = absl::StrCat(upstream_directory, "/.s.PGSQL.", port);
  const std::string path = absl::StrCat(proxy->directory_, "/.s.PGSQL.", port);
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return absl::InvalidArgumentError("socket path too long");
  proxy->listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un address = UnixAddress(path);
  if (proxy->listener_ < 0 ||
      bind(proxy->listener_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(proxy->listener_, 64) != 0) {
    return absl::UnavailableError(absl::StrCat("proxy socket ", path, ": ", std::strerror(errno)));
  }
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

PgFaultProxy::~PgFaultProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_ >= 0) close(listener_);
  std::vector<std::thread> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : sockets_) shutdown(fd, SHUT_RDWR);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

void PgFaultProxy::ArmOnce(Drop drop) { armed_ = static_cast<int>(drop); }

void PgFaultProxy::AcceptLoop() {
  while (!stopping_.load()) {
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.push_back(client);
    connections_.emplace_back([this, client] { Serve(client); });
  }
}

void PgFaultProxy::Serve(int client) {
  const int upstream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un address = UnixAddress(upstream_);
  if (upstream < 0 || connect(upstream, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    shutdown(client, SHUT_RDWR);
    if (upstream >= 0) close(upstream);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.push_back(upstream);
  }
  std::atomic<bool> swallow{false};
  // Backend -> frontend, byte for byte (or nothing once swallowing).
  std::thread answers([&] {
    char buffer[16384];
    while (true) {
      const ssize_t n = recv(upstream, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!swallow.load() && !WriteAll(client, buffer, static_cast<size_t>(n))) break;
    }
    shutdown(client, SHUT_RDWR);
  });
  // Frontend -> backend, message by message. A write transaction begins
  // with "BEGIN ISOLATION LEVEL READ COMMITTED" and ends with a COMMIT sent
  // as a simple query or, in pipeline mode, as a Parse then Bind, Execute
  // and Sync; only such COMMITs are dropped (not a reader's).
  std::string pending;
  bool startup = true, in_write = false, dropping_after_sync = false;
  char buffer[16384];
  bool open = true;
  while (open) {
    const ssize_t n = recv(client, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    while (open) {
      const size_t header = startup ? 4 : 5;
      if (pending.size() < header) break;
      const size_t total = startup ? BigEndian32(pending.data()) : 1 + size_t{BigEndian32(pending.data() + 1)};
      if (total < header || pending.size() < total) break;
      const std::string message = pending.substr(0, total);
      pending.erase(0, total);
      if (startup) {
        const uint32_t code = total >= 8 ? BigEndian32(message.data() + 4) : 0;
        startup = code == kSslRequest || code == kGssEncRequest;
        if (!WriteAll(upstream, message.data(), message.size())) open = false;
        continue;
      }
      // The SQL text of a simple query, or of a Parse (after its name).
      std::string sql;
      if (message[0] == 'Q') {
        sql = message.substr(5);
      } else if (message[0] == 'P') {
        const size_t name_end = message.find('\0', 5);
        if (name_end != std::string::npos) sql = message.substr(name_end + 1);
      }
      if (sql.find("BEGIN ISOLATION LEVEL READ COMMITTED") != std::string::npos) in_write = true;
      if (in_write && sql.rfind("COMMIT", 0) == 0) {
        in_write = false;
        const int drop = armed_.exchange(-1);
        if (drop == static_cast<int>(Drop::kBeforeCommit)) {
          ++drops_;
          open = false;
          break;
        }
        if (drop == static_cast<int>(Drop::kAfterCommit)) {
          swallow = true;  // from here on, no answer reaches the server
          dropping_after_sync = message[0] == 'P';
          if (!dropping_after_sync) {
            WriteAll(upstream, message.data(), message.size());
            absl::SleepFor(absl::Milliseconds(500));  // the database commits; the answer goes nowhere
            ++drops_;
            open = false;
            break;
          }
        }
      }
      if (!WriteAll(upstream, message.data(), message.size())) open = false;
      if (dropping_after_sync && message[0] == 'S') {
        absl::SleepFor(absl::Milliseconds(500));
        ++drops_;
        open = false;
      }
    }
  }
  shutdown(upstream, SHUT_RDWR);
  shutdown(client, SHUT_RDWR);
  answers.join();
  std::lock_guard<std::mutex> lock(mu_);
  close(upstream);
  close(client);
  std::erase(sockets_, upstream);
  std::erase(sockets_, client);
}

}  // namespace refx::testing
