#pragma once
// Runs `quant-sim <subcommand> ...` as a user would. cli_runner.h's run_quant_sim puts --no-progress first, which
// would hide the subcommand's name, so subcommands need their own runner.
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include "support/cli_runner.h"

namespace quantsim::testing {

inline CommandResult run_subcommand(const std::string& arguments) {
  const std::string command = std::string(QUANTSIM_BINARY_DIR) + "/quant-sim " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace quantsim::testing
