#include "quantsim/app/commands/sweep_command.h"

#include <cstdio>

#include <fmt/format.h>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/app/sweep/sweep_plan.h"
#include "quantsim/app/sweep/sweep_runner.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

cxxopts::Options sweep_options() {
  cxxopts::Options options("quant-sim sweep", "Runs the unfinished configurations of a sweep file (models x bits x "
                                              "methods); any number of processes may run the same sweep at once.");
  options.custom_help("SWEEP.json [--results FILE] [--stats-dir DIR] [--device D] [-j N] [--list]");
  // clang-format off
  options.add_options()
    ("sweep", "sweep file", cxxopts::value<std::string>())
    ("results", "results file (overrides the sweep file's \"results\")", cxxopts::value<std::string>())
    ("stats-dir", "statistics folder (overrides the sweep file's \"stats_dir\")", cxxopts::value<std::string>())
    ("device", "cpu | cuda[:k] for every run (not part of the configurations' keys)", cxxopts::value<std::string>())
    ("j,workers", "image decoding threads of every run", cxxopts::value<std::string>())
    ("list", "print every configuration with its state (done, running, pending) and run nothing")
    ("h,help", "print this help");
  // clang-format on
  return options;
}

const char* state_name(SweepRunState state) {
  switch (state) {
    case SweepRunState::kDone: return "done";
    case SweepRunState::kRunningElsewhere: return "running";
    case SweepRunState::kPending: return "pending";
  }
  return "?";
}

int list_sweep(const SweepPlan& plan) {
  const std::vector<SweepRunState> states = sweep_states(plan);
  int done = 0;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    std::printf("%-8s %s\n", state_name(states[i]), plan.runs[i].key.c_str());
    done += states[i] == SweepRunState::kDone ? 1 : 0;
  }
  std::printf("%d of %zu configurations done; results: %s\n", done, plan.runs.size(), plan.results.c_str());
  return 0;
}

}  // namespace

int run_sweep_command(const std::vector<std::string>& args) {
  cxxopts::Options options = sweep_options();
  const cxxopts::ParseResult r = parse_subcommand_args(options, "sweep", args);
  if (printed_help(options, r)) return 0;
  SweepOptions run_options;  // checked before the sweep file is read, as every flag is
  if (r.count("device")) run_options.device = r["device"].as<std::string>();
  if (r.count("workers")) run_options.workers = static_cast<int>(subcommand_integer(options, r, "workers", 1, 1024));
  SweepOutputs outputs;
  if (r.count("results")) outputs.results = expand_user(r["results"].as<std::string>());
  if (r.count("stats-dir")) outputs.stats_dir = expand_user(r["stats-dir"].as<std::string>());
  const std::string path = expand_user(r["sweep"].as<std::string>());
  const SweepPlan plan = load_sweep_plan(path, outputs);
  if (r.count("list")) return list_sweep(plan);
  const SweepSummary summary = run_sweep(plan, run_options);
  std::printf("sweep %s: %zu configurations: %d ran, %d already done, %d running in another process, %zu failed; "
              "results: %s\n",
              path.c_str(), plan.runs.size(), summary.ran, summary.already_done, summary.running_elsewhere,
              summary.failures.size(), plan.results.c_str());
  if (!summary.failures.empty()) {
    throw UserError(fmt::format("sweep {}: {} of {} configurations failed (first: {})", path, summary.failures.size(),
                                plan.runs.size(), summary.failures.front()));
  }
  return 0;
}

}  // namespace quantsim
