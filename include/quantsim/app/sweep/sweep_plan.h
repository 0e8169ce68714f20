#pragma once
// A sweep file (`quant-sim sweep FILE`): the configurations of one experiment, models x bits x methods, turned into
// the Configs of quant-sim runs.
//
//   {"models": [{"name": "resnet8", "model": "m.pt", "data": "test", "calib_data": "calib", "args": ["-cs", "500"]}],
//    "fp32": true,                                  // the FP32 baseline of each model too (default: true)
//    "weight_bits": [8, 4], "act_bits": [8, 4],     // every pair (32: not quantized) with every method ...
//    "methods": {"rtn": [], "aciq": ["-pcq_w", "-pcq_a", "-c", "laplace", "-baa", "-baw", "-bcw"]},
//    "configurations": [{"method": "aciq", "weight_bits": 4, "act_bits": 4}],  // ... or this explicit list
//    "common": ["--subset", "500"],                 // flags of every run of every model
//    "stats_dir": "statistics", "results": "results.jsonl"}
//
// Paths (model, data, calib_data, cache, stats_dir, results) are relative to the sweep file, and "${VAR}" in them is
// the environment variable VAR. Quantized runs use static ranges (-sm use) unless the method says `-sm no`.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/app/config.h"

namespace quantsim {

// A model entry's "cache": the image cache its runs read as --data, and the `quant-sim cache build` of it (--data is
// the entry's image folder) that the sweep runs first when the file does not exist.
struct SweepCache {
  std::string path;
  Config build;
};

struct SweepRun {
  // "<model>/<precision>/<method>/<hash>": what the sweep file says about this configuration (model entry, common
  // flags, bits, method flags), hashed. Recorded as config.sweep_key in its results line; a key found there is done.
  std::string key;
  std::string model;   // name of the model entry
  std::string method;  // method name, recorded as the run's --label ("fp32" for the baseline)
  Config evaluation;
  // The -sm collect run whose statistics this run uses; runs of one model entry and --act-sites mode share it.
  std::optional<Config> collect;
  std::optional<SweepCache> cache;  // the entry's "cache", when it names one
};

struct SweepPlan {
  std::string source;   // the sweep file, for messages
  std::string results;  // results file of every run
  std::vector<SweepRun> runs;
};

// Command-line overrides of the file's output locations (empty: the file's).
struct SweepOutputs {
  std::string results;
  std::string stats_dir;
};

// Reads and checks the sweep file: throws UserError naming the file and the entry for unknown keys, bad values,
// repeated names, flags that the sweep sets itself (--model, --qtype, --results, ...) and flags quant-sim rejects.
SweepPlan load_sweep_plan(const std::string& path, const SweepOutputs& outputs = {});

// The same from parsed JSON (ordered, so that runs follow the file's order of methods); relative paths are taken
// from `base_dir`, `source` names the file in messages.
SweepPlan sweep_plan_from_json(const nlohmann::ordered_json& file, const std::string& base_dir,
                               const std::string& source, const SweepOutputs& outputs = {});

}  // namespace quantsim
