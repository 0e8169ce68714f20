#include "quantsim/app/commands/merge_command.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/data/shard.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_log.h"

namespace quantsim {
namespace {

struct ShardLine {
  const ResultLine* line;
  Shard shard;
};

// All the shard lines of one run, in file order.
struct ShardedRun {
  std::string key;
  std::vector<ShardLine> shards;
};

// `value`, or the UserError of a line without `key` (absent or null).
template <typename T>
const T& given(const std::optional<T>& value, const ResultLine& line, const std::string& path, const char* key) {
  if (!value) throw UserError(fmt::format("{}:{}: no \"{}\" in this results line", path, line.line_number, key));
  return *value;
}

// What identifies a run across its shards. The shard's own K, and the per-shard output files, may differ.
std::string run_key(const ResultLine& line, const std::string& path, const Shard& shard) {
  nlohmann::json config = line.fields.config;
  for (const char* per_shard : {"shard", "results", "save_logits", "layer_report", "arith_report"}) {
    config.erase(per_shard);
  }
  const nlohmann::json key = {{"config", config},
                              {"model_sha256", given(line.fields.model_sha256, line, path, "model_sha256")},
                              {"data", given(line.fields.data, line, path, "data")},
                              {"shards", shard.count}};
  return key.dump();  // objects dump with sorted keys, so equal runs give equal strings
}

std::vector<ShardedRun> group_sharded_runs(const std::vector<ResultLine>& lines, const std::string& path) {
  std::vector<ShardedRun> runs;
  std::map<std::string, size_t> run_of_key;
  for (const ResultLine& line : lines) {
    if (line.fields.shard.empty()) continue;  // unsharded or already merged
    const Shard shard = parse_shard(fmt::format("{}:{}: config.shard", path, line.line_number), line.fields.shard);
    const std::string key = run_key(line, path, shard);
    const auto [it, inserted] = run_of_key.emplace(key, runs.size());
    if (inserted) runs.push_back({key, {}});
    runs[it->second].shards.push_back({&line, shard});
  }
  return runs;
}

// The precision as the line writes it, for messages: "?" when it has none (a hand-written line, read as FP32; the
// fields at their default stay in other_fields as the line spelled them).
std::string written_precision(const ResultRecord& record) {
  return record.precision != "FP32" || record.other_fields.contains("precision") ? record.precision : "?";
}

// "cnn W4A4 (first shard on line 3)", to name a run in messages.
std::string describe_run(const ShardedRun& run) {
  const ResultLine& first = *run.shards.front().line;
  return fmt::format("{} {} (first shard on line {})", first.fields.model_name, written_precision(first.fields),
                     first.line_number);
}

// Every K in 1..N exactly once; returns the shards ordered by K. Walks the shards present, not 1..N, so that a
// corrupt N of 10^9 costs nothing.
std::vector<ShardLine> check_every_shard_once(const ShardedRun& run, const std::string& path) {
  const int64_t count = run.shards.front().shard.count;
  std::map<int64_t, std::vector<const ShardLine*>> by_index;
  for (const ShardLine& s : run.shards) by_index[s.shard.index].push_back(&s);
  const auto missing = [&](int64_t k) {
    return UserError(fmt::format("{}: run {} is missing shard {}/{}", path, describe_run(run), k, count));
  };
  std::vector<ShardLine> ordered;
  int64_t next = 1;  // the lowest K not seen yet
  for (const auto& [k, found] : by_index) {
    if (k != next) throw missing(next);
    if (found.size() > 1) {
      throw UserError(fmt::format("{}: run {} has shard {}/{} more than once (lines {} and {})", path,
                                  describe_run(run), k, count, found[0]->line->line_number,
                                  found[1]->line->line_number));
    }
    ordered.push_back(*found.front());
    ++next;
  }
  if (next <= count) throw missing(next);
  return ordered;
}

int64_t sum_counts(const std::vector<ShardLine>& shards, const std::string& path, const char* key,
                   std::optional<int64_t> ResultRecord::*count) {
  int64_t sum = 0;
  for (const ShardLine& s : shards) {
    if (__builtin_add_overflow(sum, given(s.line->fields.*count, *s.line, path, key), &sum)) {
      throw UserError(fmt::format("{}:{}: \"{}\" of the shards add up to more than a count can hold", path,
                                  s.line->line_number, key));
    }
  }
  return sum;
}

// Each phase's time summed over the shards: the compute the run took, wherever its shards ran.
std::map<std::string, double> summed_times(const std::vector<ShardLine>& shards) {
  std::map<std::string, double> times;
  for (const ShardLine& s : shards) {
    if (!s.line->fields.times) continue;
    for (const auto& [phase, seconds] : *s.line->fields.times) times[phase] += seconds;
  }
  return times;
}

// The shards' per-image correctness back in evaluation order (per_image.h), or nothing when a shard has none: the
// merged line then says nothing per image rather than something partial.
std::optional<PerImageCorrectness> merged_per_image(const std::vector<ShardLine>& shards, const std::string& path) {
  std::vector<const PerImageCorrectness*> parts;
  for (const ShardLine& s : shards) {
    if (!s.line->fields.per_image) return std::nullopt;
    parts.push_back(&*s.line->fields.per_image);
  }
  try {
    return merge_shard_correctness(parts);
  } catch (const UserError& e) {
    throw UserError(fmt::format("{}:{}: {}", path, shards.front().line->line_number, e.what()));
  }
}

// --stability of a sharded run: rerun k of every shard used the same seeds, so its hits add up like the main run's.
// Nothing unless every shard measured the same number of reruns at the same ulps.
std::optional<std::vector<int64_t>> merged_stability(const std::vector<ShardLine>& shards, int* ulps) {
  const ResultRecord& first = shards.front().line->fields;
  if (!first.stability_top1_correct) return std::nullopt;
  std::vector<int64_t> sums(first.stability_top1_correct->size(), 0);
  for (const ShardLine& s : shards) {
    const ResultRecord& r = s.line->fields;
    if (!r.stability_top1_correct || r.stability_top1_correct->size() != sums.size() ||
        r.stability_ulps != first.stability_ulps) {
      return std::nullopt;
    }
    for (size_t k = 0; k < sums.size(); ++k) sums[k] += (*r.stability_top1_correct)[k];
  }
  *ulps = first.stability_ulps;
  return sums;
}

// --arith int (docs/QUANTIZATION.md, section 16): the float path's hits add up like the integer path's, and so do
// the gap's counts (its largest step difference is the largest of any shard). Every shard must have them: a shard
// without would leave the merged float top-1 covering part of the images.
void merge_arith(ResultRecord& merged, const std::vector<ShardLine>& shards, const std::string& path) {
  if (merged.arith != "int") return;
  for (const ShardLine& s : shards) {
    if (s.line->fields.arith != "int") {
      throw UserError(
          fmt::format("{}:{}: a shard of an --arith int run without \"arith\": \"int\"", path, s.line->line_number));
    }
  }
  const int64_t images = *merged.images;
  const int64_t top1 = sum_counts(shards, path, "float_top1_correct", &ResultRecord::float_top1_correct);
  const int64_t top5 = sum_counts(shards, path, "float_top5_correct", &ResultRecord::float_top5_correct);
  merged.float_top1_correct = top1;
  merged.float_top5_correct = top5;
  merged.float_top1 = percent(top1, images);
  merged.float_top5 = percent(top5, images);
  ArithGapSummary gap;
  for (const ShardLine& s : shards) {
    const ArithGapSummary& part = given(s.line->fields.arith_gap, *s.line, path, "arith_gap");
    gap.codes_compared += part.codes_compared;
    gap.codes_differing += part.codes_differing;
    gap.top1_differs += part.top1_differs;
    gap.max_step_difference = std::max(gap.max_step_difference, part.max_step_difference);
  }
  merged.arith_gap = gap;
}

// The first shard's line with the counts, percentages and times of all of them.
ResultRecord merged_record(const std::vector<ShardLine>& shards, const std::string& path) {
  ResultRecord merged = shards.front().line->fields;
  const int64_t images = sum_counts(shards, path, "images", &ResultRecord::images);
  const int64_t top1 = sum_counts(shards, path, "top1_correct", &ResultRecord::top1_correct);
  const int64_t top5 = sum_counts(shards, path, "top5_correct", &ResultRecord::top5_correct);
  merged.images = images;
  merged.top1_correct = top1;
  merged.top5_correct = top5;
  merged.top1 = percent(top1, images);  // as TopKAccuracy computes it, so that merged and unsharded runs agree
  merged.top5 = percent(top5, images);
  // Recomputed from the merged counts, present or not in the shards: every merged line carries them.
  merged.top1_ci95 = wilson_interval_percent(top1, images);
  merged.top5_ci95 = wilson_interval_percent(top5, images);
  merged.per_image = merged_per_image(shards, path);
  merged.stability_top1_correct = merged_stability(shards, &merged.stability_ulps);
  merge_arith(merged, shards, path);
  // A first shard with bad_images, even a null one (kept in other_fields), asks every shard for its count.
  if (merged.bad_images || merged.other_fields.contains("bad_images")) {
    merged.bad_images = sum_counts(shards, path, "bad_images", &ResultRecord::bad_images);
  }
  merged.times = summed_times(shards);
  const auto evaluate = merged.times->find("evaluate_s");
  const double evaluate_s = evaluate == merged.times->end() ? 0.0 : evaluate->second;
  merged.images_per_second = evaluate_s > 0 ? images / evaluate_s : 0.0;
  merged.shard.clear();  // config.shard null: the whole run
  merged.merged_from = static_cast<int64_t>(shards.size());
  merged.version = QUANTSIM_VERSION;
  merged.timestamp = utc_timestamp();
  return merged;
}

// The merged record of every sharded run of `lines`, once every run is complete: a bad file gives nothing.
std::vector<ResultRecord> merged_records(const std::vector<ResultLine>& lines, const std::string& path) {
  std::vector<std::vector<ShardLine>> complete_runs;
  for (const ShardedRun& run : group_sharded_runs(lines, path)) {
    complete_runs.push_back(check_every_shard_once(run, path));
  }
  std::vector<ResultRecord> merged;
  for (const auto& shards : complete_runs) merged.push_back(merged_record(shards, path));
  return merged;
}

}  // namespace

std::vector<nlohmann::json> merge_sharded_runs(const std::vector<ResultLine>& lines, const std::string& path) {
  std::vector<nlohmann::json> merged;
  for (const ResultRecord& record : merged_records(lines, path)) merged.push_back(record.to_json());
  return merged;
}

int run_merge_command(const std::vector<std::string>& args) {
  cxxopts::Options options("quant-sim merge", "Merges the shards of --shard runs into one results line per run.");
  options.custom_help("RESULTS.jsonl [--out FILE]");
  options.add_options()("results", "results file", cxxopts::value<std::string>())(
      "out", "file to append the merged lines to (default: RESULTS.jsonl)", cxxopts::value<std::string>())(
      "h,help", "print this help");
  const cxxopts::ParseResult r = parse_subcommand_args(options, "results", args);
  if (printed_help(options, r)) return 0;
  const std::string path = expand_user(r["results"].as<std::string>());
  const std::string out = r.count("out") ? expand_user(r["out"].as<std::string>()) : path;
  const std::vector<ResultRecord> merged = merged_records(read_results_file(path), path);
  if (merged.empty()) std::fprintf(stderr, "quant-sim merge: no sharded runs in %s\n", path.c_str());
  for (const ResultRecord& record : merged) {
    append_result(out, record.to_json());
    if (record.mode == "dynamic") {
      std::fprintf(stderr,
                   "quant-sim merge: warning: %s %s has dynamic ranges (-sm no), computed per batch; its "
                   "shards batched other images together, so it may differ from an unsharded run\n",
                   record.model_name.c_str(), written_precision(record).c_str());
    }
    std::printf("%s %s: merged %d shards: top-1 %.2f%%  top-5 %.2f%%  (%lld images) -> %s\n", record.model_name.c_str(),
                written_precision(record).c_str(), static_cast<int>(*record.merged_from), record.top1, *record.top5,
                static_cast<long long>(*record.images), out.c_str());
  }
  return 0;
}

}  // namespace quantsim
