// The servers refx-bench measures, run as child processes: spawned with
// their stderr in a file, handed out once they print "serving on port N",
// measured through /proc/PID/stat, and stopped (SIGTERM, then SIGKILL) by
// their owner's destructor, so no exit path of the benchmark leaves a
// server behind.
//
// Also a child run to its end for what it prints (RunChildToCompletion: the
// overload run's well-behaved agency, refx-bench-agency).
//
// Linux only: each child asks the kernel to SIGKILL it if refx-bench dies
// (PR_SET_PDEATHSIG), which covers even a SIGKILLed benchmark.
#ifndef REFX_BENCH_CHILD_PROCESS_H_
#define REFX_BENCH_CHILD_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace refx::bench {

// User plus system CPU time a process has used so far (utime + stime of
// /proc/PID/stat, clock-tick resolution, usually 10 ms).
struct CpuTime {
  absl::Duration total;
};

// Reads /proc/`pid`/stat. NotFound when the process is gone.
absl::StatusOr<CpuTime> ReadCpuTime(pid_t pid);

// Resident set size of `pid` in bytes (VmRSS of /proc/PID/status).
absl::StatusOr<long long> ReadRssBytes(pid_t pid);

class ChildServer {
 public:
  // Starts `argv` (argv[0] is the executable) with stdout and stderr
  // appended to `log_path`, its own process group and stdin from /dev/null,
  // then waits up to `startup_timeout` for a line containing
  // "serving on port N" in the log. FailedPrecondition with the log's tail
  // when the child exits first, DeadlineExceeded when it never says so.
  static absl::StatusOr<std::unique_ptr<ChildServer>> Start(
      std::string name, std::vector<std::string> argv, std::string log_path,
      absl::Duration startup_timeout);

  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;
  ~ChildServer();  // Stop(absl::Seconds(5)).

  // SIGTERM, waits up to `grace`, then SIGKILL; always reaps. Idempotent.
  void Stop(absl::Duration grace);

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }
  // True while the child has not exited (reaps it if it has).
  bool Running();

 private:
  ChildServer(std::string name, pid_t pid, std::string log_path)
      : name_(std::move(name)), pid_(pid), log_path_(std::move(log_path)) {}

  std::string name_;
  pid_t pid_;
  std::string log_path_;
  int port_ = 0;
  bool reaped_ = false;
};

// Runs `argv` (argv[0] is the executable) to its end, with stdout written
// to `stdout_path` and stderr appended to `stderr_path`, in its own process
// group and SIGKILLed if refx-bench dies, and returns its stdout.
// FailedPrecondition with its stderr's tail when it does not exit with 0;
// Cancelled, after a SIGTERM to it, once `*cancel` (if given) turns true.
absl::StatusOr<std::string> RunChildToCompletion(std::vector<std::string> argv, const std::string& stdout_path,
                                                 const std::string& stderr_path,
                                                 const std::atomic<bool>* cancel = nullptr);

// The last `max_bytes` of a file, for error messages ("" if unreadable).
std::string FileTail(const std::string& path, size_t max_bytes);

}  // namespace refx::bench

#endif  // REFX_BENCH_CHILD_PROCESS_H_
