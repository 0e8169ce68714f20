#pragma once
// `quant-sim merge RESULTS.jsonl [--out FILE]`: adds up the shards of sharded runs (--shard K/N) into one results
// line per run, whose top-1/top-5 equal the unsharded run's exactly (they are recomputed from summed counts).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/results_file.h"

namespace quantsim {

// One merged record per sharded run in `lines` (read from `path`), in the order the runs first appear. Lines of one
// run share the config (but for shard, results and save_logits), model_sha256, data and N. Throws UserError naming
// the run when a shard is missing or present twice, before anything is merged.
std::vector<nlohmann::json> merge_sharded_runs(const std::vector<ResultLine>& lines, const std::string& path);

// The subcommand; `args` follow "merge". Appends the merged lines to --out (default: the results file itself).
int run_merge_command(const std::vector<std::string>& args);

}  // namespace quantsim
