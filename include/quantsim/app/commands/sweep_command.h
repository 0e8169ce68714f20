#pragma once
// `quant-sim sweep FILE [--results FILE] [--stats-dir DIR] [--device D] [-j N] [--list]`: runs the configurations
// of a sweep file (sweep_plan.h) that are neither finished nor claimed by another process (sweep_runner.h).
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "sweep".
int run_sweep_command(const std::vector<std::string>& args);

}  // namespace quantsim
