#pragma once
// Runs `quant-sim <subcommand> ...` as a user would. cli_runner.h's run_quant_sim puts --no-progress first, which
// would hide the subcommand's name, so subcommands need their own runner.
#include <string>

#include "support/cli_runner.h"

namespace quantsim::testing {

inline CommandResult run_subcommand(const std::string& arguments) {
  return run_command(std::string(QUANTSIM_BINARY_DIR) + "/quant-sim " + arguments);
}

}  // namespace quantsim::testing
