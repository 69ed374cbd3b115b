// A PostgreSQL wire-protocol proxy for the I/O-fault tests (issue 17): it
// sits on a Unix socket between refx-server and the test PostgreSQL and,
// when armed, drops the connection at a COMMIT, either before the COMMIT
// reaches the database (the transaction is lost) or just after (the
// transaction commits but its answer never arrives: the case a client
// cannot tell from the first one).
//
// It reads the frontend's messages only far enough to find the COMMIT of a
// write transaction (a simple query, or a Parse of "COMMIT" in pipeline
// mode); everything else passes through byte for byte. Unix sockets
// carry no TLS, so the protocol is readable.
#ifndef REFX_TESTS_TESTING_PG_FAULT_PROXY_H_
#define REFX_TESTS_TESTING_PG_FAULT_PROXY_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace refx::testing {

class PgFaultProxy {
 public:
  enum class Drop {
    kBeforeCommit,  // the COMMIT never reaches the database
    kAfterCommit,   // the COMMIT is applied; its answer is lost
  };

  // Listens on `directory`/.s.PGSQL.`port` (a fresh directory of its own)
  // and forwards each connection to `upstream_directory`/.s.PGSQL.`port`.
  static absl::StatusOr<std::unique_ptr<PgFaultProxy>> Start(const std::string& upstream_directory, int port);
  ~PgFaultProxy();

  // The socket directory to give the server as its PostgreSQL host.
  const std::string& directory() const { return directory_; }

  // The next write transaction's COMMIT on any connection is dropped as `drop` says; later ones
  // pass (until armed again).
  void ArmOnce(Drop drop);
  // COMMITs dropped so far.
  int drops() const { return drops_.load(); }

 private:
  PgFaultProxy() = default;
  void AcceptLoop();
  void Serve(int client);

  std::string directory_, upstream_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> armed_{-1};  // -1: not armed; else a Drop
  std::atomic<int> drops_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
  std::vector<int> sockets_;  // shut down on destruction
};

}  // namespace refx::testing

#endif  // REFX_TESTS_TESTING_PG_FAULT_PROXY_H_
