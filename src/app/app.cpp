#include "quantsim/app.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "quantsim/cli.h"
#include "quantsim/errors.h"
#include "quantsim/gate_command.h"
#include "quantsim/merge_command.h"
#include "quantsim/report_command.h"
#include "quantsim/runs.h"
#include "quantsim/sweep_command.h"

namespace quantsim {
namespace {

int run_command(int argc, char** argv) {
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

// What a command printed may still sit in stdio's buffer; a failed write of it (a full disk under `> table.csv`,
// /dev/full) would otherwise pass for success with the table or accuracy lost.
void check_standard_output() {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return;
  const int error = errno;  // 0 when only an earlier write failed and its errno is gone
  throw UserError(fmt::format("writing standard output: {}", error != 0 ? std::strerror(error) : "write failed"));
}

}  // namespace

int run_app(int argc, char** argv) {
  const int code = run_command(argc, argv);
  check_standard_output();
  return code;
}

}  // namespace quantsim
