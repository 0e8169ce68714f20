#include "quantsim/app/option_checks.h"

#include <cmath>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "quantsim/passes/arith_report.h"
#include "quantsim/passes/layer_report.h"

#include "quantsim/core/errors.h"
#include "quantsim/quant/range_methods.h"

namespace quantsim {
namespace {

void refuse_given_flags(const GpfqFlagsGiven& given) {
  const std::vector<std::pair<bool, const char*>> flags = {
      {given.scale, "--gpfq-scale"}, {given.patch_prob, "--gpfq-patch-prob"}, {given.samples, "--gpfq-samples"}};
  for (const auto& [set, flag] : flags) {
    if (set) throw UserError(fmt::format("flag {}: only applies with --weight-method gpfq", flag));
  }
}

}  // namespace

void check_export_config(const Config& config) {
  if (config.stats_mode == StatsMode::kCollect) {
    throw UserError("--export needs an evaluation run (-sm use, or -sm no for weights only), not -sm collect");
  }
  if (config.act_bits == 0 && config.weight_bits == 0) {
    throw UserError("--export needs a quantized run (--qtype and/or -qw); an FP32 model is its own export");
  }
  if (config.stats_mode == StatsMode::kNo && config.act_bits != 0) {
    throw UserError("--export cannot fold dynamic activation ranges (-sm no) into a model: collect statistics "
                    "(-sm collect) and export with -sm use, or quantize only the weights (--qtype f32)");
  }
}

void check_layer_report_option(const Config& config) {
  if (config.layer_report.empty()) return;
  layer_report_format(config.layer_report);
  if (config.stats_mode == StatsMode::kCollect) {
    throw UserError("flag --layer-report: -sm collect evaluates nothing; give it to the -sm use run");
  }
  if (config.act_bits == 0 && config.weight_bits == 0) {
    throw UserError("flag --layer-report: an FP32 run has no quantization error to report; give --qtype and/or -qw");
  }
}

void check_stability_option(const Config& config) {
  if (config.stability == 0) return;
  if (config.stats_mode != StatsMode::kUse || config.act_bits == 0) {
    throw UserError("flag --stability: perturbs static activation ranges; it needs -sm use and --qtype intN");
  }
}

void check_gpfq_config(const Config& config, const GpfqFlagsGiven& given) {
  if (!(config.gpfq_scale > 0.0) || !std::isfinite(config.gpfq_scale)) {
    throw UserError(fmt::format("flag --gpfq-scale: must be a positive number, got {}", config.gpfq_scale));
  }
  if (!(config.gpfq_patch_prob > 0.0 && config.gpfq_patch_prob <= 1.0)) {
    throw UserError(fmt::format("flag --gpfq-patch-prob: must be in (0, 1], got {}", config.gpfq_patch_prob));
  }
  if (config.gpfq_samples < 1) {
    throw UserError(fmt::format("flag --gpfq-samples: must be at least 1, got {}", config.gpfq_samples));
  }
  if (config.weight_method != WeightMethod::kGpfq) {
    refuse_given_flags(given);
    return;
  }
  if (config.weight_bits == 0) {
    throw UserError("flag --weight-method gpfq: the weights are not quantized (-qw f32 or no -qw/--qtype); "
                    "give -qw intN");
  }
  if (config.bit_alloc_weights) {
    throw UserError("flags -baw and --weight-method gpfq do not combine: GPFQ uses one bit width per layer");
  }
  if (config.clip_weights) {
    throw UserError("flags --clip-weights and --weight-method gpfq do not combine: --gpfq-scale sets the range "
                    "of the GPFQ alphabet");
  }
}

void check_adaround_config(const Config& config, const AdaroundFlagsGiven& given) {
  const auto refuse = [](const char* flag, const std::string& what, double value) {
    throw UserError(fmt::format("flag {}: must be {}, got {}", flag, what, value));
  };
  if (!(config.adaround_lambda >= 0.0)) refuse("--adaround-lambda", "at least 0", config.adaround_lambda);
  if (!(config.adaround_beta_start > 0.0))
    refuse("--adaround-beta", "START:END with START > 0", config.adaround_beta_start);
  if (!(config.adaround_beta_end > 0.0)) refuse("--adaround-beta", "START:END with END > 0", config.adaround_beta_end);
  if (!(config.adaround_warmup >= 0.0 && config.adaround_warmup < 1.0)) {
    refuse("--adaround-warmup", "in [0, 1)", config.adaround_warmup);
  }
  if (!(config.adaround_lr > 0.0)) refuse("--adaround-lr", "a positive number", config.adaround_lr);
  if (!(config.adaround_patch_prob > 0.0 && config.adaround_patch_prob <= 1.0)) {
    refuse("--adaround-patch-prob", "in (0, 1]", config.adaround_patch_prob);
  }
  if (config.weight_method != WeightMethod::kAdaround) {
    if (!given.first.empty()) {
      throw UserError(fmt::format("flag {}: only applies with --weight-method adaround", given.first));
    }
    return;
  }
  if (config.weight_bits == 0) {
    throw UserError("flag --weight-method adaround: the weights are not quantized (-qw f32 or no -qw/--qtype); "
                    "give -qw intN");
  }
  if (config.calib_data.empty()) {
    throw UserError("flag --weight-method adaround: needs --calib-data (the images it learns the rounding from)");
  }
}

void check_histogram_clipping(const Config& config) {
  if (!is_histogram_method(config.clipping) || config.stats_mode != StatsMode::kNo || config.act_bits == 0) return;
  throw UserError(fmt::format("flag -c {}: the histogram methods need the histograms of a statistics file; use "
                              "-sm collect, then -sm use (dynamic ranges, -sm no, have none)",
                              to_string(config.clipping)));
}

void check_arith_options(const Config& config) {
  if (!config.arith_report.empty()) {
    arith_report_format(config.arith_report);
    if (config.arith != ArithChoice::kInt) {
      throw UserError("flag --arith-report: reports the gap between the integer and the float path; give --arith int");
    }
  }
  if (config.arith != ArithChoice::kInt) return;
  if (config.stats_mode == StatsMode::kCollect) {
    if (!config.arith_report.empty()) {
      throw UserError("flag --arith-report: -sm collect evaluates nothing; give it to the -sm use run");
    }
    return;  // --arith itself is ignored with a warning (flag_combinations.cpp)
  }
  // Integer hardware multiplies codes: every activation and every weight needs one (docs/QUANTIZATION.md, s. 16).
  if (config.act_bits == 0) {
    throw UserError("flag --arith int: activations are float (--qtype f32, or no --qtype); integer hardware computes "
                    "on activation codes: give --qtype intN");
  }
  if (config.weight_bits == 0) {
    throw UserError("flag --arith int: weights are float (-qw f32); integer hardware computes on weight codes: give "
                    "-qw intN");
  }
  if (config.stats_mode == StatsMode::kNo) {
    throw UserError("flag --arith int: -sm no computes each batch's activation ranges in float from its own values; "
                    "integer hardware runs with ranges fixed beforehand: collect statistics (-sm collect), then -sm "
                    "use");
  }
  if (config.bit_alloc_activations) {
    throw UserError("flags --arith int and -baa do not combine: bit allocation gives activation channels bit widths "
                    "of their own, and integer kernels take one bit width, scale and zero point per activation tensor");
  }
  if (config.stability > 0) {
    throw UserError("flags --arith int and --stability do not combine: the reruns would measure the float path, not "
                    "the integer one");
  }
  if (!config.layer_report.empty()) {
    throw UserError("flags --arith int and --layer-report do not combine: the layer report measures the float path "
                    "against FP32; --arith-report measures the integer path against the float one");
  }
}

}  // namespace quantsim
