#include "bench/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace refx::bench {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The N of the first "serving on port N" in `text`, or 0.
int ParseServingPort(const std::string& text) {
  constexpr absl::string_view kMarker = "serving on port ";
  const size_t at = absl::string_view(text).find(kMarker);
  if (at == absl::string_view::npos) return 0;
  size_t end = at + kMarker.size();
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  int port = 0;
  if (!absl::SimpleAtoi(absl::string_view(text).substr(at + kMarker.size(), end - at - kMarker.size()), &port)) {
    return 0;
  }
  return port;
}

}  // namespace

absl::StatusOr<CpuTime> ReadCpuTime(pid_t pid) {
  const std::string stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  // The command name (field 2) may hold spaces; fields after its ')' are
  // plain. utime and stime are fields 14 and 15, i.e. the 12th and 13th
  // after the ')'.
  const size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("cannot read /proc/", pid, "/stat"));
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  long long utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InternalError(absl::StrCat("unexpected /proc/", pid, "/stat"));
  }
  static const long ticks_per_second = sysconf(_SC_CLK_TCK);
  return CpuTime{absl::Seconds(static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second))};
}

absl::StatusOr<long long> ReadRssBytes(pid_t pid) {
  const std::string status = ReadWholeFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    long long kib = 0;
    if (!parts.empty() && absl::SimpleAtoi(parts[0], &kib)) return kib * 1024;
  }
  return absl::NotFoundError(absl::StrCat("no VmRSS in /proc/", pid, "/status"));
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::string text = ReadWholeFile(path);
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

namespace {

// Forks and execs `argv` with stdin from /dev/null and stdout and stderr on
// `out_fd` and `err_fd`, in its own process group (a terminal's Ctrl-C
// reaches refx-bench only; it stops its children), SIGKILLed if refx-bench
// dies. Returns the child's pid, or -1.
pid_t Spawn(std::vector<std::string>& argv, int out_fd, int err_fd) {
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  if (null_fd >= 0) close(null_fd);
  return pid;
}

}  // namespace

absl::StatusOr<std::string> RunChildToCompletion(std::vector<std::string> argv, const std::string& stdout_path,
                                                 const std::string& stderr_path, const std::atomic<bool>* cancel) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  const int out_fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out_fd < 0 || err_fd < 0) {
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    return absl::UnavailableError(absl::StrCat("cannot open ", stdout_path, " or ", stderr_path));
  }
  const pid_t pid = Spawn(argv, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  if (pid < 0) return absl::UnavailableError("fork failed");
  int status = 0;
  bool stopped = false;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (!stopped && cancel != nullptr && cancel->load()) {
      kill(pid, SIGTERM);
      stopped = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (stopped) return absl::CancelledError("interrupted");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(argv[0], " failed (wait status ", status, "):\n", FileTail(stderr_path, 2000)));
  }
  return ReadWholeFile(stdout_path);
}

absl::StatusOr<std::unique_ptr<ChildServer>> ChildServer::Start(std::string name, std::vector<std::string> argv,
                                                                std::string log_path, absl::Duration startup_timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", log_path));
  const pid_t pid = Spawn(argv, log_fd, log_fd);
  if (pid < 0) {
    close(log_fd);
    return absl::UnavailableError("fork failed");
  }
  close(log_fd);
  auto child = std::unique_ptr<ChildServer>(new ChildServer(std::move(name), pid, log_path));
  const absl::Time deadline = absl::Now() + startup_timeout;
  while (absl::Now() < deadline) {
    const int port = ParseServingPort(ReadWholeFile(child->log_path_));
    if (port > 0) {
      child->port_ = port;
      return child;
    }
    if (!child->Running()) {
      return absl::FailedPreconditionError(absl::StrCat(child->name_, " exited during startup:\n",
                                                        FileTail(child->log_path_, 2000)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(child->name_, " did not report its port within ",
                                                  absl::FormatDuration(startup_timeout), ":\n",
                                                  FileTail(child->log_path_, 2000)));
}

bool ChildServer::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void ChildServer::Stop(absl::Duration grace) {
  if (!Running()) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (!Running()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);  // Bounded: SIGKILL cannot be ignored.
  reaped_ = true;
}

ChildServer::~ChildServer() { Stop(absl::Seconds(5)); }

}  // namespace refx::bench
