// Helpers for suites that run refx's real binaries (refx-server, refx,
// refx-admin) as child processes: spawning with captured output, bounded
// waits, a loopback port picker, and a subprocess refx-server that is only
// handed out once it answers WhoAmI over mutual TLS.
//
// Every wait here is bounded; every child is killed (SIGKILL) and reaped by
// its owner's destructor, so a failing assertion never leaves a server
// running behind the test binary.
#ifndef REFX_TESTS_PROCESS_PROCESS_HELPERS_H_
#define REFX_TESTS_PROCESS_PROCESS_HELPERS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/lib/referral_client.h"
#include "tests/testing/test_pki.h"

namespace refx::testing {

// The binaries under test, from the build (see CMakeLists.txt).
inline constexpr char kServerBinary[] = REFX_SERVER_BINARY;
inline constexpr char kCliBinary[] = REFX_CLI_BINARY;
inline constexpr char kAdminBinary[] = REFX_ADMIN_BINARY;

// Reads a whole file ("" if it cannot be read).
std::string ReadFileOrEmpty(const std::string& path);
// Writes a file, replacing it; false on failure.
bool WriteStringToFile(const std::string& path, const std::string& contents);
// Number of (possibly overlapping) occurrences of `needle` in `haystack`,
// compared case-insensitively.
int CountCaseInsensitive(const std::string& haystack, const std::string& needle);

// A child process with stdin from /dev/null (or a file) and stdout/stderr
// redirected to files.
class Subprocess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the executable path.
    // Environment changes on top of the test's own environment. A nullopt
    // value unsets the variable. REFX_* variables of the test's environment
    // are always dropped, and HOME is pointed at an empty directory unless
    // set here, so a developer's own refx profile cannot leak in.
    std::map<std::string, std::optional<std::string>> env;
    std::string stdout_path;
    std::string stderr_path;
    std::string stdin_path = "/dev/null";
    std::string working_directory;  // Empty: the test's own.
  };

  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(Options options);
  ~Subprocess();  // SIGKILL and reap if still running.
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the child if it has ended; true while it is still running.
  bool Running();
  // Waits up to `timeout` for the child to end; true if it has.
  bool WaitFor(absl::Duration timeout);
  void Signal(int signo);
  // SIGKILL and reap (bounded: SIGKILL cannot be ignored).
  void KillAndReap();

  // Valid once the child has ended (Running() false or WaitFor true).
  bool exited() const { return exited_; }
  int exit_code() const { return exit_code_; }     // -1 unless exited normally.
  int term_signal() const { return term_signal_; }  // 0 unless killed by a signal.

  std::string Stdout() const { return ReadFileOrEmpty(options_.stdout_path); }
  std::string Stderr() const { return ReadFileOrEmpty(options_.stderr_path); }
  const Options& options() const { return options_; }

 private:
  explicit Subprocess(Options options) : options_(std::move(options)) {}
  void Record(int wait_status);

  Options options_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool exited_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

// The outcome of a command run to completion.
struct CommandResult {
  int exit_code = -1;  // -1 if it was killed (including on timeout).
  bool timed_out = false;
  std::string out;
  std::string err;
  // For failure messages: the command line, exit code and both outputs.
  std::string Describe() const;
  std::string command_line;
};

// Runs argv to completion (killing it after `timeout`), capturing output in
// files under `scratch_dir`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& scratch_dir,
                         const std::map<std::string, std::optional<std::string>>& env = {},
                         absl::Duration timeout = absl::Seconds(20),
                         const std::string& working_directory = "");

// Client connection settings for one agency, as an agency's system would
// configure them, from a PKI directory in the layout of `refx-admin dev-pki`
// and TestPki (root-ca.pem, agencies/ID.pem, agencies/ID.key).
client::ConnectionOptions AgencyConnection(const std::string& pki_directory, const std::string& agency_id,
                                           const std::string& server,
                                           absl::Duration timeout = absl::Seconds(10));
client::ConnectionOptions AgencyConnection(const TestPki& pki, const std::string& agency_id,
                                           const std::string& server,
                                           absl::Duration timeout = absl::Seconds(10));

// `refx-server --config CONFIG --listen 127.0.0.1:0 [extra args]` as a
// child process, stdout/stderr in files under `log_dir`. The kernel picks the
// port; the server's "serving on port N" line reports it.
class ServerProcess {
 public:
  struct Options {
    std::string config_path;
    std::string log_dir;
    // The PKI the server's config uses, in the dev-pki layout: its
    // leicestershire-police certificate is the readiness probe, and
    // Client() uses its agency certificates.
    std::string pki_directory;
    std::vector<std::string> extra_args;
    absl::Duration ready_timeout = absl::Seconds(10);
  };

  // Starts the server on a kernel-chosen loopback port and returns once
  // WhoAmI as leicestershire-police succeeds over mutual TLS. On failure
  // (exit, or not ready in time) the message carries the server's stderr.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(Options options);
  ~ServerProcess() = default;  // The Subprocess kills the server.

  int port() const { return port_; }
  std::string address() const;  // 127.0.0.1:PORT
  Subprocess& process() { return *process_; }
  std::string Stdout() const { return process_->Stdout(); }
  std::string Stderr() const { return process_->Stderr(); }

  // A client of `agency_id` using its good certificate from the PKI files.
  client::ReferralClient Client(const std::string& agency_id,
                                absl::Duration timeout = absl::Seconds(10)) const;

  // SIGKILL, reaped.
  void Crash();
  // SIGTERM, then waits up to `timeout`. Returns the exit code, or an error
  // if it did not end in time (it is then killed) or died of a signal.
  absl::StatusOr<int> Terminate(absl::Duration timeout);

 private:
  ServerProcess() = default;
  Options options_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace refx::testing

#endif  // REFX_TESTS_PROCESS_PROCESS_HELPERS_H_
