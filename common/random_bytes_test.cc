// RandomBytes: small draws come from a per-thread pool of CSPRNG output, so
// these check what the pool must never do: hand the same bytes out twice
// (in one thread, across threads, or to a forked child and its parent).
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/hash.h"
#include "gtest/gtest.h"

namespace refx {
namespace {

TEST(RandomBytesTest, DrawsHaveTheAskedSizeAndNeverRepeat) {
  std::set<std::string> seen;
  // Many pool refills' worth, in the sizes refx draws (nonces, etags, ids)
  // and sizes that straddle the end of a pool.
  for (int i = 0; i < 20000; ++i) {
    for (size_t n : {12u, 10u, 16u, 7u}) {
      std::string bytes = RandomBytes(n);
      ASSERT_EQ(bytes.size(), n);
      EXPECT_TRUE(seen.insert(bytes).second) << "a " << n << "-byte draw repeated";
    }
  }
}

TEST(RandomBytesTest, LargeDrawsAndEmptyDrawsWork) {
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(NewRandomId().size(), 32u);
}

TEST(RandomBytesTest, ThreadsNeverDrawTheSameBytes) {
  absl::Mutex mu;
  std::set<std::string> seen;
  int repeats = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(RandomBytes(12));
      absl::MutexLock lock(&mu);
      for (auto& bytes : mine) repeats += seen.insert(bytes).second ? 0 : 1;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(repeats, 0);
  EXPECT_EQ(seen.size(), 20000u);
}

TEST(RandomBytesTest, AForkedChildNeverDrawsWhatItsParentDraws) {
  // Fill this thread's pool, so that without the fork handler the child
  // and the parent would both hand out the rest of it.
  ASSERT_EQ(RandomBytes(12).size(), 12u);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    std::string drawn;
    for (int i = 0; i < 8; ++i) drawn += RandomBytes(12);
    const bool written = write(pipe_fds[1], drawn.data(), drawn.size()) == static_cast<ssize_t>(drawn.size());
    _exit(written ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string parent;
  for (int i = 0; i < 8; ++i) parent += RandomBytes(12);
  std::string from_child(parent.size(), '\0');
  size_t got = 0;
  while (got < from_child.size()) {
    ssize_t n = read(pipe_fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, from_child.size());
  for (size_t i = 0; i < parent.size(); i += 12) {
    EXPECT_NE(parent.substr(i, 12), from_child.substr(i, 12)) << "draw " << i / 12 << " repeated across the fork";
  }
}

}  // namespace
}  // namespace refx
