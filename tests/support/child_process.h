#pragma once
// Runs a check that could block forever (reading a FIFO) in a forked child with a deadline, so that a regression
// fails the test instead of hanging the suite.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace quantsim::testing {

// Runs `body` in a forked child that SIGALRM ends after `deadline_s`; true when `body` returned true in time.
inline bool passes_in_child_before_deadline(const std::function<bool()>& body, unsigned deadline_s = 10) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::alarm(deadline_s);
    ::_exit(body() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_FALSE(WIFSIGNALED(status)) << "blocked until killed by signal " << WTERMSIG(status);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace quantsim::testing
