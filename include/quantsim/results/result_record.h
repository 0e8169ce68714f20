#pragma once
// One results line (results_log.h) as its readers understand it, checked once for every reader: `quant-sim merge`,
// `report`, `gate` and the sweep's search for finished keys all read lines through read_results_file, which refuses a
// line that no run can have written (more top-1 hits than images, a percentage that disagrees with its counts, a
// field of the wrong type, ...), so that an impossible line is never merged, tabulated or compared as if it were real.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/per_image.h"

namespace quantsim {

// The gap summary of an --arith int line ("arith_gap"; docs/QUANTIZATION.md, section 16), as counts so that shards
// merge exactly: the shares a line also writes are these counts' quotients.
struct ArithGapSummary {
  int64_t codes_compared = 0;       // site codes compared between the integer and the float path
  int64_t codes_differing = 0;      // of them, codes that differ
  int64_t max_step_difference = 0;  // largest |q_int - q_float| at any site, in steps
  int64_t top1_differs = 0;         // images whose top-1 class differs between the two paths
};

// A results line as its readers understand it: the fields that merge, report, gate and sweep interpret, typed, and
// what they do not interpret (model, device, fields of newer versions, ...) kept as it was, so that to_json gives
// the line back and merge writes its merged line through this type.
struct ResultRecord {
  std::string model_name;
  std::string precision = "FP32";  // absent in hand-written FP32 lines
  std::string mode;                // "static", "dynamic", "fp32"; empty when absent
  double top1 = 0.0;               // percent
  std::optional<double> top5;      // percent
  std::optional<int64_t> images;   // evaluated images, at least 1
  std::optional<int64_t> top1_correct;
  std::optional<int64_t> top5_correct;
  std::optional<int64_t> bad_images;
  // 95% Wilson score intervals of top1/top5 in percent (comparison_stats.h); absent in older lines. When given, they
  // must be the ones the counts give.
  std::optional<std::pair<double, double>> top1_ci95;
  std::optional<std::pair<double, double>> top5_ci95;
  // Whether each image was right (per_image.h); absent in older lines, shard merges of older shards, and runs that
  // skipped bad images. When given, its counts must be top1_correct/top5_correct of `images` images.
  std::optional<PerImageCorrectness> per_image;
  // --stability K: the top-1 hits of each of the K reruns with perturbed ranges (stability_json below); absent
  // when not measured.
  std::optional<std::vector<int64_t>> stability_top1_correct;
  int stability_ulps = 0;
  // --arith int: "arith": "int" (top1/top5 above are the integer path's), the float path's scores on the same
  // images and the gap summary. Empty / absent for float runs ("arith" absent or "float").
  std::string arith;
  std::optional<double> float_top1;  // percent
  std::optional<double> float_top5;
  std::optional<int64_t> float_top1_correct;
  std::optional<int64_t> float_top5_correct;
  std::optional<ArithGapSummary> arith_gap;
  std::optional<std::map<std::string, double>> times;  // seconds per phase ("evaluate_s", ...)
  std::optional<double> images_per_second;
  std::optional<int64_t> merged_from;       // the number of shards a merged line sums
  std::optional<std::string> model_sha256;  // what identifies the run of a shard (with data and config)
  std::optional<std::string> data;
  std::optional<std::string> version;
  std::optional<std::string> timestamp;
  std::string shard;                                 // config.shard "K/N"; empty for an unsharded or merged run
  std::string sweep_key;                             // config.sweep_key; empty for a run outside a sweep
  nlohmann::json config = nlohmann::json::object();  // the "config" object, every option of the run
  // The rest of the line: the fields above do not hold, and those of them at their default (absent, null, "" or
  // "FP32") as the line spelled them.
  nlohmann::json other_fields = nlohmann::json::object();

  // Checks `record` and returns its fields. Throws UserError "<where>: <field>: <what is wrong>" (one line) for the
  // first impossible field; `where` is "FILE:LINE".
  static ResultRecord from_json(const nlohmann::json& record, const std::string& where);

  // The line: other_fields with every field above that holds a value written over it, shard and sweep_key into
  // config. from_json(r.to_json()) gives r back.
  nlohmann::json to_json() const;
};

// The "stability" field of a line whose main run had `top1_correct` hits of `images`, and whose reruns with ranges
// perturbed by up to `ulps` float32 ulps had `rerun_top1_correct`: {"reruns": K, "ulps": U, "top1_correct": [...],
// "top1": [...], "top1_min", "top1_max", "top1_std"}. Min, max and std (sample, n - 1) are over the main run and the
// reruns together: the main run's ranges are one more draw of the same rounding.
nlohmann::json stability_json(int64_t top1_correct, int64_t images, const std::vector<int64_t>& rerun_top1_correct,
                              int ulps);

// The 95% Wilson interval of `hits` of `images` as a line writes it: [lo, hi] in percent.
nlohmann::json ci95_json(int64_t hits, int64_t images);

// Largest image count a line may hold: 2^53, so that every count and every sum of a few counts is exact in a double.
constexpr int64_t kMaxResultCount = int64_t{1} << 53;

// Longest string (value or key) a line may hold: PATH_MAX, so that paths fit and a corrupt line cannot flood a table.
constexpr size_t kMaxResultStringBytes = 4096;

// `value` as a count in [0, kMaxResultCount], or nothing when it is not an integer or out of that range.
std::optional<int64_t> json_count(const nlohmann::json& value);

// Whether `value` is a finite number in [0, 100].
bool is_json_percentage(const nlohmann::json& value);

// `value` for a message: its JSON text, cut to a few dozen characters.
std::string json_excerpt(const nlohmann::json& value);

}  // namespace quantsim
