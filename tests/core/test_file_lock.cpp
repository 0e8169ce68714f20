// FileLock: one holder at a time, released on destruction and when its process dies.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "quantsim/core/file_lock.h"
#include "support/fixtures.h"

using namespace quantsim;
using namespace quantsim::testing;

namespace {

TEST(FileLock, OneHolderAtATime) {
  const std::string path = fresh_temp_dir("file_lock") + "/sub/a.lock";
  {
    const FileLock held = FileLock::acquire(path);  // creates the folders
    EXPECT_FALSE(FileLock::try_acquire(path));
  }
  std::optional<FileLock> again = FileLock::try_acquire(path);
  ASSERT_TRUE(again);
  FileLock moved = std::move(*again);
  again.reset();  // a moved-from lock releases nothing
  EXPECT_FALSE(FileLock::try_acquire(path));
}

TEST(FileLock, ReleasedWhenItsProcessIsKilled) {
  const std::string path = fresh_temp_dir("file_lock_kill") + "/a.lock";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const FileLock held = FileLock::acquire(path);
    const char byte = 1;
    (void)!::write(ready[1], &byte, 1);
    ::pause();  // killed here, never releasing the lock itself
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_FALSE(FileLock::try_acquire(path));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(FileLock::try_acquire(path));
  ::close(ready[0]);
  ::close(ready[1]);
}

}  // namespace
