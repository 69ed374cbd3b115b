#include "tests/process/process_helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/testing/server_fixture.h"

extern char** environ;

namespace refx::testing {
namespace {

std::atomic<int> g_counter{0};

// An empty directory used as HOME for children, so `refx` never finds a
// developer's ~/.config/refx/config.yaml.
const std::string& EmptyHome() {
  struct Home {
    std::string path = MakeTempDir("home");
    ~Home() { std::filesystem::remove_all(path); }
  };
  static Home home;
  return home.path;
}

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::optional<std::string>>& changes) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string key = entry.substr(0, eq);
    if (absl::StartsWith(key, "REFX_")) continue;
    env[key] = entry.substr(eq + 1);
  }
  env["HOME"] = EmptyHome();
  for (const auto& [key, value] : changes) {
    if (value.has_value()) {
      env[key] = *value;
    } else {
      env.erase(key);
    }
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteStringToFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  return static_cast<bool>(out);
}

int CountCaseInsensitive(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return 0;
  const std::string h = absl::AsciiStrToLower(haystack);
  const std::string n = absl::AsciiStrToLower(needle);
  int count = 0;
  for (size_t pos = h.find(n); pos != std::string::npos; pos = h.find(n, pos + 1)) ++count;
  return count;
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(Options options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  auto p = std::unique_ptr<Subprocess>(new Subprocess(std::move(options)));
  const Options& o = p->options_;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, o.stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!o.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, o.working_directory.c_str());
  }
  // The child starts with default dispositions and nothing blocked, whatever
  // gRPC or gtest did to this process's signals.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const std::string& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::vector<std::string> env_strings = ChildEnvironment(o.env);
  std::vector<char*> envp;
  for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const int rc = posix_spawn(&p->pid_, o.argv[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    p->reaped_ = true;
    return absl::InternalError(absl::StrCat("posix_spawn ", o.argv[0], ": ", std::strerror(rc)));
  }
  return p;
}

Subprocess::~Subprocess() { KillAndReap(); }

void Subprocess::Record(int wait_status) {
  reaped_ = true;
  if (WIFEXITED(wait_status)) {
    exited_ = true;
    exit_code_ = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    exited_ = true;
    term_signal_ = WTERMSIG(wait_status);
  }
}

bool Subprocess::Running() {
  if (reaped_) return false;
  int wait_status = 0;
  const pid_t r = waitpid(pid_, &wait_status, WNOHANG);
  if (r == pid_) {
    Record(wait_status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    reaped_ = true;
    return false;
  }
  return true;
}

bool Subprocess::WaitFor(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

void Subprocess::Signal(int signo) {
  if (!reaped_) ::kill(pid_, signo);
}

void Subprocess::KillAndReap() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int wait_status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &wait_status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    Record(wait_status);
  } else {
    reaped_ = true;
  }
}

std::string CommandResult::Describe() const {
  return absl::StrCat("$ ", command_line, "\nexit code: ", exit_code, timed_out ? " (timed out)" : "",
                      "\n--- stdout ---\n", out, "--- stderr ---\n", err, "---");
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& scratch_dir,
                         const std::map<std::string, std::optional<std::string>>& env, absl::Duration timeout,
                         const std::string& working_directory) {
  CommandResult result;
  result.command_line = absl::StrJoin(argv, " ");
  for (const auto& [key, value] : env) {
    result.command_line = absl::StrCat(key, "=", value.value_or("(unset)"), " ", result.command_line);
  }
  const int n = g_counter++;
  Subprocess::Options options;
  options.argv = argv;
  options.env = env;
  options.stdout_path = absl::StrCat(scratch_dir, "/cmd-", n, ".out");
  options.stderr_path = absl::StrCat(scratch_dir, "/cmd-", n, ".err");
  options.working_directory = working_directory;
  auto process = Subprocess::Spawn(std::move(options));
  if (!process.ok()) {
    result.err = std::string(process.status().message());
    return result;
  }
  if (!(*process)->WaitFor(timeout)) {
    result.timed_out = true;
    (*process)->KillAndReap();
  }
  result.exit_code = (*process)->exit_code();
  result.out = (*process)->Stdout();
  result.err = (*process)->Stderr();
  return result;
}

client::ConnectionOptions AgencyConnection(const std::string& pki_directory, const std::string& agency_id,
                                           const std::string& server, absl::Duration timeout) {
  client::ConnectionOptions options;
  options.server = server;
  options.ca_file = absl::StrCat(pki_directory, "/root-ca.pem");
  options.cert_file = absl::StrCat(pki_directory, "/agencies/", agency_id, ".pem");
  options.key_file = absl::StrCat(pki_directory, "/agencies/", agency_id, ".key");
  options.timeout = timeout;
  options.acting_user = "test-caseworker";
  return options;
}

client::ConnectionOptions AgencyConnection(const TestPki& pki, const std::string& agency_id,
                                           const std::string& server, absl::Duration timeout) {
  client::ConnectionOptions options;
  options.server = server;
  options.ca_file = pki.root_ca_pem_path();
  options.cert_file = pki.agency_cert_chain_path(agency_id);
  options.key_file = pki.agency_key_path(agency_id);
  options.timeout = timeout;
  options.acting_user = "test-caseworker";
  return options;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  if (options.pki_directory.empty()) return absl::InvalidArgumentError("ServerProcess needs a pki_directory");
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
  server->options_ = std::move(options);
  const Options& o = server->options_;
  const absl::Time deadline = absl::Now() + o.ready_timeout;

  // Port 0: the kernel picks a free port and the server reports it on
  // stderr. Unlike "bind port 0, close, pass the number", nothing can take
  // the port in between; and gRPC listens with SO_REUSEPORT, so such a race
  // would not even fail, it would silently share the port with a stranger.
  const int n = g_counter++;
  Subprocess::Options spawn;
  spawn.argv = {kServerBinary, "--config", o.config_path, "--listen", "127.0.0.1:0"};
  spawn.argv.insert(spawn.argv.end(), o.extra_args.begin(), o.extra_args.end());
  spawn.stdout_path = absl::StrCat(o.log_dir, "/server-", n, ".stdout");
  spawn.stderr_path = absl::StrCat(o.log_dir, "/server-", n, ".stderr");
  auto process = Subprocess::Spawn(std::move(spawn));
  if (!process.ok()) return process.status();
  server->process_ = *std::move(process);

  std::string last_problem = "no \"serving on port\" line (or serving event) on stderr yet";
  while (absl::Now() < deadline) {
    if (!server->process_->Running()) {
      return absl::InternalError(absl::StrCat("refx-server exited (code ", server->process_->exit_code(),
                                              ", signal ", server->process_->term_signal(),
                                              ") before it was ready; stderr:\n", server->process_->Stderr()));
    }
    if (server->port_ == 0) {
      // Text mode prints a line for people; JSON mode an event.
      const std::string err = server->process_->Stderr();
      for (const std::string marker : {"refx-server: serving on port ", "\"event\":\"serving\",\"port\":"}) {
        const size_t at = err.find(marker);
        if (at != std::string::npos) server->port_ = std::atoi(err.c_str() + at + marker.size());
      }
    }
    if (server->port_ != 0) {
      auto probe = client::ReferralClient::Connect(
          AgencyConnection(o.pki_directory, kPolice, server->address(), absl::Milliseconds(500)));
      if (!probe.ok()) return probe.status();
      auto me = probe->WhoAmI();
      if (me.ok()) return server;
      last_problem = std::string(me.status().message());
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  const std::string err = server->process_->Stderr();
  server->process_->KillAndReap();
  return absl::DeadlineExceededError(absl::StrCat("refx-server was not ready within ",
                                                  absl::FormatDuration(o.ready_timeout), "; last problem: ",
                                                  last_problem, "\nstderr:\n", err));
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

client::ReferralClient ServerProcess::Client(const std::string& agency_id, absl::Duration timeout) const {
  auto client = client::ReferralClient::Connect(AgencyConnection(options_.pki_directory, agency_id, address(), timeout));
  if (!client.ok()) {
    std::fprintf(stderr, "cannot build a client for %s: %s\n", agency_id.c_str(),
                 std::string(client.status().message()).c_str());
    std::abort();  // The PKI files are the fixture's own: a bug in the test.
  }
  return *std::move(client);
}

void ServerProcess::Crash() { process_->KillAndReap(); }

absl::StatusOr<int> ServerProcess::Terminate(absl::Duration timeout) {
  process_->Signal(SIGTERM);
  if (!process_->WaitFor(timeout)) {
    process_->KillAndReap();
    return absl::DeadlineExceededError(
        absl::StrCat("refx-server did not exit within ", absl::FormatDuration(timeout), " of SIGTERM"));
  }
  if (process_->term_signal() != 0) {
    return absl::InternalError(absl::StrCat("refx-server died of signal ", process_->term_signal()));
  }
  return process_->exit_code();
}

}  // namespace refx::testing
