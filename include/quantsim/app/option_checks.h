#pragma once
// Checks of one feature's flags, run when the command line is parsed, before any work: --export, --layer-report and
// GPFQ's. Each throws UserError (one line, naming the flag).
#include <string>

#include "quantsim/app/config.h"

namespace quantsim {

// Refuses -sm collect, an FP32 run, and dynamic activation ranges (-sm no with --qtype intN), which cannot be folded
// into a model (export/model_export.h).
void check_export_config(const Config& config);

// UserError unless --layer-report (when given) names a .json/.csv file and the run is a quantized evaluation: an
// FP32 run has no quantization to report, and -sm collect evaluates nothing.
void check_layer_report_option(const Config& config);

// --stability K: at most this many reruns.
constexpr int64_t kMaxStabilityReruns = 1000;

// UserError unless --stability (when given) comes with static activation ranges to perturb: -sm use and --qtype intN
// (dynamic ranges, -sm no, are recomputed per batch; -sm collect evaluates nothing).
void check_stability_option(const Config& config);

// -c mse | percentile:P | entropy need histograms, which only a statistics file has: refuses them for quantized
// activations with dynamic ranges (-sm no); weights (--clip-weights) use their own histograms.
void check_histogram_clipping(const Config& config);

// --arith int and --arith-report (docs/QUANTIZATION.md, section 16): refuses, in one line naming the flag and why,
// what the flags alone make impossible on integer hardware: float activations or weights (--qtype/-qw f32, or
// neither given), dynamic ranges (-sm no), activation bit allocation (-baa), and what measures only the float path
// (--stability, --layer-report); --arith-report without --arith int or not ending in .csv/.json. What needs the
// model (paper mode, -pcq_a, -bcw/-vcw, --first-last-bits f32, an empty range) is refused where it is loaded
// (passes/integer_program.h). -sm collect evaluates nothing: --arith-report is refused there, --arith is ignored.
void check_arith_options(const Config& config);

// Which GPFQ flags the command line set explicitly (they are refused without --weight-method gpfq).
struct GpfqFlagsGiven {
  bool scale = false;
  bool patch_prob = false;
  bool samples = false;
};

// Throws UserError (one line, naming the flag) for an out-of-range GPFQ setting, a GPFQ flag without
// --weight-method gpfq, or a combination GPFQ does not define: float weights (-qw f32), -baw, --clip-weights.
void check_gpfq_config(const Config& config, const GpfqFlagsGiven& given = {});

// The first AdaRound flag the command line set explicitly ("" when none; refused without --weight-method adaround).
struct AdaroundFlagsGiven {
  std::string first;
};

// Throws UserError (one line, naming the flag) for an out-of-range AdaRound setting, an --adaround-* flag without
// --weight-method adaround, --weight-method adaround without --calib-data, or with float weights (-qw f32).
void check_adaround_config(const Config& config, const AdaroundFlagsGiven& given = {});

}  // namespace quantsim
