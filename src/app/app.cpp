#include "quantsim/app.h"

#include <cstdio>
#include <string>
#include <vector>

#include "quantsim/cli.h"
#include "quantsim/gate_command.h"
#include "quantsim/merge_command.h"
#include "quantsim/report_command.h"
#include "quantsim/runs.h"
#include "quantsim/sweep_command.h"

namespace quantsim {

int run_app(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // Subcommands are a first word that no flag of the main job can be.
  if (!args.empty() && args.front() == "merge") return run_merge_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "report") return run_report_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "sweep") return run_sweep_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "gate") return run_gate_command({args.begin() + 1, args.end()});
  const ParsedCommandLine parsed = parse_command_line(args);
  if (parsed.help) {
    std::fputs(parsed.help_text.c_str(), stdout);
    return 0;
  }
  if (parsed.version) {
    std::printf("quant-sim %s\n", QUANTSIM_VERSION);
    return 0;
  }
  if (parsed.config.stats_mode == StatsMode::kCollect) return run_collect(parsed.config);
  return run_evaluation(parsed.config);
}

}  // namespace quantsim
