// The fsync floor of refx-bench: how long this disk takes to make a small
// write durable, measured in the database's own directory. Every durable
// write of refx-server waits for at least one such sync (SQLite's WAL at
// synchronous=FULL syncs at each commit), so its p99 is the floor under
// CreateReferral's p99 at one call in flight.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "bench/bench_workloads.h"

namespace refx::bench {

absl::Status RunFsyncFloor(Bench& b, const std::string& directory) {
  const std::string path = directory + "/refx-bench-fsync-floor";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot create ", path));
  // A WAL frame's worth of bytes per sync, appended in a 4 MiB circle as a
  // log's writes are.
  const std::string page(4096, 'x');
  constexpr off_t kCircle = 4 << 20;
  off_t offset = 0;
  b.report.rows.push_back(Measure(
      b, "fsync_floor", "this disk: write 4 KiB + fdatasync, one at a time, in the database's directory", 1,
      std::nullopt, [&](const LoadOptions& o) {
        return RunThreadLoop(o, [&](int) -> absl::Status {
          if (pwrite(fd, page.data(), page.size(), offset) != static_cast<ssize_t>(page.size()) || fdatasync(fd) != 0) {
            return absl::UnavailableError("write or fdatasync failed");
          }
          offset = (offset + static_cast<off_t>(page.size())) % kCircle;
          return absl::OkStatus();
        });
      }));
  close(fd);
  unlink(path.c_str());
  return absl::OkStatus();
}

}  // namespace refx::bench
