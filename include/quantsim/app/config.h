#pragma once
// Every option of one quant-sim run (docs/CLI.md). Filled by the CLI, serialized whole into results.jsonl.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/data/preprocess.h"
#include "quantsim/data/shard.h"
#include "quantsim/quant/choices.h"

namespace quantsim {

enum class StatsMode { kNo, kCollect, kUse };  // -sm

// "no", "collect", "use" (the name table of quant/choices.h).
template <>
const std::vector<ChoiceName<StatsMode>>& choice_names<StatsMode>();
std::string to_string(StatsMode mode);

struct Config {
  // Model and data.
  std::string arch;        // -a: model name
  std::string model_path;  // --model: overrides <models_dir>/<arch>.pt
  std::string models_dir;  // --models-dir, default ~/aciq_data/models
  std::string data;        // --data, default ~/datasets/ILSVRC2012
  std::string synsets;     // --synsets: class-order file (else <data>/synsets.txt, else sorted folders)
  std::string calib_data;  // --calib-data: calibration images (else --data)
  std::string output;      // --output KEY|INDEX: the logits element of a tuple/list/dict output (else the first 2-D)
  PreprocessOverrides preprocess;

  // Execution.
  int batch_size = 256;               // -b
  int workers = 4;                    // -j: decode threads
  std::string device;                 // --device; empty: cuda when available, else cpu
  bool progress = true;               // progress bar on stderr when it is a terminal
  double max_bad_image_share = 0.01;  // the run fails when more than this share of images cannot be decoded

  // Quantization (docs/QUANTIZATION.md, sections 1-5). Bits: 0 means f32 (not quantized).
  int act_bits = 0;                                      // --qtype intN|f32
  int weight_bits = 8;                                   // -qw intN|f32
  bool per_channel_weights = false;                      // -pcq_w
  bool per_channel_activations = false;                  // -pcq_a
  Clipping clipping;                                     // -c
  bool clip_weights = false;                             // --clip-weights
  bool bit_alloc_activations = false;                    // -baa
  bool bit_alloc_weights = false;                        // -baw
  BitRounding bit_alloc_rounding = BitRounding::kRound;  // -bam
  Prior bit_alloc_prior = Prior::kGauss;                 // -bap
  std::optional<double> bit_alloc_target_activations;    // -bata
  std::optional<double> bit_alloc_target_weights;        // -batw
  bool ba_any_bits = false;                              // --ba-any-bits
  bool bias_correct_weights = false;                     // -bcw
  bool variance_correct_weights = false;                 // -vcw
  ActSites act_sites = ActSites::kOutputs;               // --act-sites
  int first_last_bits = 8;                               // --first-last-bits N|f32 (0 = f32)
  WeightMethod weight_method = WeightMethod::kRtn;       // --weight-method rtn|gpfq|adaround
  double gpfq_scale = 1.16;                              // --gpfq-scale: C in delta = C * mean(max|w|) / 2^(b-1)
  double gpfq_patch_prob = 0.25;                         // --gpfq-patch-prob: share of conv patches GPFQ keeps
  int64_t gpfq_samples = 128;                            // --gpfq-samples: calibration images GPFQ runs on
  // AdaRound (--weight-method adaround, docs/QUANTIZATION.md, section 13); defaults: the paper's.
  int64_t adaround_iters = 10000;     // --adaround-iters: Adam steps per layer
  double adaround_lambda = 0.01;      // --adaround-lambda: weight of the rounding regulariser
  double adaround_beta_start = 20.0;  // --adaround-beta START:END, annealed after the warm-up
  double adaround_beta_end = 2.0;
  double adaround_warmup = 0.2;       // --adaround-warmup: share of iterations without the regulariser
  double adaround_lr = 1e-3;          // --adaround-lr: Adam's learning rate
  int64_t adaround_batch = 32;        // --adaround-batch: images whose sample rows make one batch
  int64_t adaround_samples = 1024;    // --adaround-samples: images of --calib-data AdaRound learns from
  double adaround_patch_prob = 0.25;  // --adaround-patch-prob: share of conv patches kept as sample rows
  // Cross-layer equalization and empirical bias correction (docs/QUANTIZATION.md, section 14).
  bool cross_layer_equalization = false;   // --cle
  bool empirical_bias_correction = false;  // --bias-correction empirical (none: false)
  int64_t bias_correction_samples = 256;   // --bias-correction-samples: calibration images it measures on
  // Integer arithmetic (docs/QUANTIZATION.md, section 16): the evaluation on integer codes, beside the float path.
  ArithChoice arith = ArithChoice::kFloat;  // --arith float|int
  std::string arith_report;                 // --arith-report FILE.csv|FILE.json: the gap per quantized tensor

  // Statistics (docs/QUANTIZATION.md, section 6).
  StatsMode stats_mode = StatsMode::kNo;    // -sm
  StatsKind stats_kind = StatsKind::kMean;  // -sk
  std::string stats_dir;                    // --stats-dir, default ~/aciq_data/statistics
  std::optional<int64_t> calib_size;        // -cs, default 5120 or all

  // Evaluation (docs/QUANTIZATION.md, section 7).
  bool shuffle = false;           // -sh
  std::optional<int64_t> subset;  // -ss/--subset
  uint64_t seed = 0;              // --seed
  std::string results;            // --results, default <stats-dir>/../results.jsonl
  std::string save_logits;        // --save-logits FILE.npy
  std::string export_path;        // --export PATH: save the quantized model (model_export.h)
  std::string layer_report;       // --layer-report FILE.json|FILE.csv (layer_report.h)
  int64_t stability = 0;          // --stability K: reruns with perturbed static ranges (docs/QUANTIZATION.md, s. 13)

  // Sharding: unset evaluates every selected image.
  std::optional<Shard> shard;  // --shard K/N

  // Experiment bookkeeping, recorded in the results line: a method name for reports, and the sweep
  // configuration a run belongs to (set by `quant-sim sweep`, which skips configurations whose key is recorded).
  std::string label;      // --label NAME
  std::string sweep_key;  // --sweep-key KEY
};

}  // namespace quantsim
