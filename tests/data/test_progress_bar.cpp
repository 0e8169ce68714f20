#include "quantsim/data/progress_bar.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

namespace quantsim {
namespace {

TEST(ProgressBar, RenderShowsCountRateAndEta) {
  const std::string line = ProgressBar::render("eval", 250, 1000, 2.0);
  EXPECT_NE(line.find("eval 250/1000"), std::string::npos) << line;
  EXPECT_NE(line.find("[######..................]"), std::string::npos) << line;
  EXPECT_NE(line.find("125.0 img/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:06"), std::string::npos) << line;  // 750 images at 125/s
}

TEST(ProgressBar, RenderBeforeAnyProgressHasNoEta) {
  EXPECT_NE(ProgressBar::render("x", 0, 10, 0.0).find("ETA ?"), std::string::npos);
}

// A bar that draws nothing leaves stderr untouched; `use_bar` runs with stderr on a pseudo-terminal and what reached
// it is returned.
std::string stderr_on_a_terminal(const std::function<void()>& use_bar) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return "no pseudo-terminal";
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(terminal, STDERR_FILENO);
  use_bar();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  // The terminal hands the bytes on asynchronously: read until none came for a while.
  std::string text;
  char buffer[4096];
  pollfd readable{master, POLLIN, 0};
  while (::poll(&readable, 1, 200) > 0) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(terminal);
  ::close(master);
  return text;
}

TEST(ProgressBar, QuietWhenStderrIsNotATerminal) {
  ::testing::internal::CaptureStderr();  // stderr to a file
  {
    ProgressBar bar("x", 10, true);
    bar.advance(5);
    bar.finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(ProgressBar, DisabledBarIsInactive) {
  const std::string enabled = stderr_on_a_terminal([] {
    ProgressBar bar("x", 10, true);
    bar.advance(5);
    bar.finish();
  });
  ASSERT_NE(enabled.find("x 5/10"), std::string::npos) << enabled;  // else the terminal proves nothing
  EXPECT_EQ(stderr_on_a_terminal([] {
              ProgressBar bar("x", 10, false);
              bar.advance(5);
              bar.finish();
            }),
            "");
}

}  // namespace
}  // namespace quantsim
