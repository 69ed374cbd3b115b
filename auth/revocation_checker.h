// The server's view of revocation: the partnership's signed revocation list
// (auth/pki/revocation_list.h), kept current while the server runs, and the
// question every handshake and every call asks it: "is this certificate, or
// the CA that issued it, revoked?".
//
// Why this exists: gRPC 1.51's own CRL support fails open when a CRL is
// missing, never checks the intermediate, and keeps a CRL replaced in place
// (grpc-security.md V7-V9). This checker is fail-closed: once a list is
// configured, a missing, unreadable, corrupt, badly signed or expired list
// refuses every agency, and Health() says why. Files are polled (default
// every second) and re-read when they change, so a published revocation
// reaches new handshakes in about a second, and calls on open connections
// through the credential gate (credential_gate.h) on every call and watch batch.
//
// It also warns (log event `certificate_expiring`) when the server
// certificate, an agency CA, the list or the newest CRL in the CRL directory
// comes within `expiry_warning` of its end.
#ifndef REFX_AUTH_REVOCATION_CHECKER_H_
#define REFX_AUTH_REVOCATION_CHECKER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "auth/pki/certificate_authority.h"
#include "auth/pki/revocation_list.h"

namespace refx::auth {

class RevocationChecker {
 public:
  struct Options {
    // The signed list; empty means no list is configured and only the
    // certificate chain and partnership checks apply (development default).
    std::string revocation_list_file;
    // The agency CA bundle (tls.client_ca_file): the list must be signed by
    // one of these, and a leaf whose issuer here is revoked is refused.
    std::string client_ca_file;
    // For expiry warnings only; either may be empty.
    std::string server_cert_file;
    std::string crl_directory;
    absl::Duration poll_interval = absl::Seconds(1);
    absl::Duration expiry_warning = absl::Hours(24 * 14);
    // Between repeated warnings about the same file.
    absl::Duration warning_repeat = absl::Hours(6);
    std::function<absl::Time()> now = [] { return absl::Now(); };
    // false: no background thread; call Poll() yourself (unit tests).
    bool start_thread = true;
  };

  // Loads the files once (a problem is not an error here: it makes Health()
  // fail and refuses agencies) and starts polling.
  explicit RevocationChecker(Options options);
  ~RevocationChecker();
  RevocationChecker(const RevocationChecker&) = delete;
  RevocationChecker& operator=(const RevocationChecker&) = delete;

  // OK when no list is configured, or the list is usable and names neither
  // the leaf in `leaf_pem`, nor any certificate in `chain_pem` (what the
  // peer sent after its leaf, possibly empty), nor the agency CA in the
  // bundle that issued the leaf. Otherwise Unauthenticated with the reason
  // (serial, revocation time and reason, or why the list is unusable) and
  // an ErrorInfo reason: CERTIFICATE_REVOKED, REVOCATION_STATE_UNKNOWN or
  // CERTIFICATE_UNVERIFIABLE.
  absl::Status CheckPeer(std::string_view leaf_pem,
                         std::string_view chain_pem) const;

  // OK when no list is configured or it is usable now; otherwise why agency
  // connections are being refused and what to do about it.
  absl::Status Health() const;

  // Current expiry warnings, one line each (also logged, rate-limited).
  std::vector<std::string> Warnings() const;

  // What the operations listener's gauges read: when the list in force was
  // generated and must be replaced (unset when no list is configured or it
  // is unusable) and when the server certificate expires (unset when it is
  // not configured or unreadable). Reads the server certificate file.
  struct Timings {
    absl::optional<absl::Time> list_generated;
    absl::optional<absl::Time> list_next_update;
    absl::optional<absl::Time> server_certificate_not_after;
  };
  Timings CurrentTimings() const;

  // The sequence number of the list in force; -1 when there is none.
  int64_t sequence() const;

  // Re-reads the files that changed, re-evaluates expiry, logs changes.
  void Poll();

 private:
  struct FileStamp {
    bool exists = false;
    long long device = 0, inode = 0, size = 0, mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  // What a peer's certificates say that revocation depends on: the serials
  // to look up (leaf, chain, and the bundle CA that issued the leaf).
  struct PeerFacts {
    absl::Status problem;  // unreadable, or issuer not in the bundle
    std::string leaf_serial;
    std::vector<std::string> ca_serials;
  };
  struct Snapshot {
    absl::Status load_status;  // Why the list cannot be used, if it cannot.
    pki::RevocationList list;
    std::map<std::string, const pki::RevokedCertificate*> revoked;  // by serial
    std::vector<pki::Certificate> agency_cas;
    // Facts of peers seen under this snapshot's CA bundle, by the PEM bytes
    // they presented: parsing and verifying a certificate on every call
    // cost more than everything else a call does (callgrind: 80% of the
    // server's instructions under load). Bounded; a new snapshot starts empty.
    mutable absl::Mutex facts_mu;
    mutable std::map<std::string, std::shared_ptr<const PeerFacts>, std::less<>> facts ABSL_GUARDED_BY(facts_mu);
  };
  // The facts of a peer, from `s`'s cache or worked out and remembered.
  std::shared_ptr<const PeerFacts> FactsOf(const Snapshot& s, std::string_view leaf_pem,
                                           std::string_view chain_pem) const;

  static FileStamp Stamp(const std::string& path);
  std::shared_ptr<const Snapshot> Load(int64_t previous_sequence) const;
  std::shared_ptr<const Snapshot> snapshot() const;
  absl::Status HealthOf(const Snapshot& snapshot) const;
  std::vector<std::pair<std::string, std::string>> ComputeWarnings(
      const Snapshot& snapshot) const;
  void Run();

  const Options options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  // Poll state: only the polling thread (or the Poll caller) touches these.
  FileStamp list_stamp_, ca_stamp_;
  bool last_healthy_ = true;
  bool first_poll_ = true;
  std::map<std::string, absl::Time> last_warned_;
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(mu_);
  absl::Mutex poll_mu_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace refx::auth

#endif  // REFX_AUTH_REVOCATION_CHECKER_H_
