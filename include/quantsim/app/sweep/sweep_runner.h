#pragma once
// Runs the configurations of a sweep plan in this process, skipping finished ones, so that any number of processes
// (machines, GPUs) can work on one sweep at once and an interrupted sweep resumes where it stopped:
//
// - a configuration is finished when its key is in the results file (config.sweep_key); run_evaluation appends
//   whole lines under a lock, so a killed run leaves no partial line;
// - a process claims a configuration by holding the lock file <results>.claims/<key>.lock (FileLock) while it runs
//   it; others skip claimed ones, and a dead process's claim is released by the kernel;
// - the statistics a model needs are collected under <statistics file>.lock by the first process that needs them,
//   and reused (same model SHA-256 and --act-sites mode) by every later run.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "quantsim/app/sweep/sweep_plan.h"

namespace quantsim {

// Execution settings that do not change results, given on the sweep's command line rather than in the file.
struct SweepOptions {
  std::string device;          // --device, empty: the run's own
  std::optional<int> workers;  // -j
};

enum class SweepRunState { kDone, kRunningElsewhere, kPending };

struct SweepSummary {
  int ran = 0;
  int already_done = 0;               // found in the results file
  int running_elsewhere = 0;          // claimed by another process
  std::vector<std::string> failures;  // "key: reason"
};

// Sweep keys recorded in unsharded lines of `results_path`; empty when the file does not exist yet.
std::set<std::string> finished_sweep_keys(const std::string& results_path);

// <results>.claims/<key with '/' as '_'>.lock
std::string claim_path(const SweepPlan& plan, const SweepRun& run);

// The state of every run of `plan`, in order (for `quant-sim sweep --list`).
std::vector<SweepRunState> sweep_states(const SweepPlan& plan);

// Runs every unfinished, unclaimed configuration. A configuration that fails with a UserError is reported in the
// summary and the sweep goes on with the others.
SweepSummary run_sweep(const SweepPlan& plan, const SweepOptions& options);

}  // namespace quantsim
