#pragma once
// Runs the built quant-sim binary as a user would, for end-to-end tests.
#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace quantsim::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, capturing stdout and stderr together.
inline CommandResult run_command(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
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

inline CommandResult run_quant_sim(const std::string& arguments) {
  return run_command(std::string(QUANTSIM_BINARY_DIR) + "/quant-sim --no-progress " + arguments);
}

// The folder of real models and images: $QUANTSIM_DATA, else ../shared/data beside the checkout.
inline std::string shared_data_dir() {
  const char* env = std::getenv("QUANTSIM_DATA");
  return env != nullptr && *env != '\0' ? env : QUANTSIM_DATA_DEFAULT;
}

}  // namespace quantsim::testing
