#include "quantsim/app/run_options.h"

#include <fmt/format.h>

namespace quantsim {
namespace {

BitAllocationOptions bit_allocation_options(const Config& config, bool enabled, std::optional<double> target) {
  BitAllocationOptions options;
  options.enabled = enabled;
  options.rounding = config.bit_alloc_rounding;
  options.prior = config.bit_alloc_prior;
  options.target = target;
  options.any_bits = config.ba_any_bits;
  return options;
}

}  // namespace

PrepareOptions prepare_options(const Config& config) {
  PrepareOptions options;
  options.act_sites = config.act_sites;
  options.output.key = config.output;
  options.cross_layer_equalization = config.cross_layer_equalization;
  return options;
}

ActivationQuantOptions activation_quant_options(const Config& config) {
  ActivationQuantOptions options;
  options.bits = config.act_bits;
  options.first_last_bits = config.first_last_bits;
  options.per_channel = config.per_channel_activations;
  options.clipping = config.clipping;
  options.bit_allocation = bit_allocation_options(config, config.bit_alloc_activations,
                                                  config.bit_alloc_target_activations);
  options.stats_kind = config.stats_kind;
  return options;
}

WeightQuantOptions weight_quant_options(const Config& config) {
  WeightQuantOptions options;
  options.bits = config.weight_bits;
  options.first_last_bits = config.first_last_bits;
  options.per_channel = config.per_channel_weights;
  if (config.clip_weights) options.clipping = config.clipping;
  options.bit_allocation = bit_allocation_options(config, config.bit_alloc_weights, config.bit_alloc_target_weights);
  options.corrections.variance = config.variance_correct_weights;
  options.corrections.bias = config.bias_correct_weights;
  return options;
}

GpfqOptions gpfq_options(const Config& config) {
  GpfqOptions options;
  options.bits = config.weight_bits;
  options.first_last_bits = config.first_last_bits;
  options.per_channel = config.per_channel_weights;
  options.corrections = weight_quant_options(config).corrections;
  options.scale = config.gpfq_scale;
  options.patch_prob = config.gpfq_patch_prob;
  options.seed = config.seed;
  options.workers = config.workers;
  options.progress = config.progress;
  options.max_bad_image_share = config.max_bad_image_share;
  options.output.key = config.output;
  options.cross_layer_equalization = config.cross_layer_equalization;
  return options;
}

AdaRoundRunOptions adaround_options(const Config& config) {
  AdaRoundRunOptions options;
  options.rtn = weight_quant_options(config);
  options.adaround.iterations = config.adaround_iters;
  options.adaround.lambda = config.adaround_lambda;
  options.adaround.beta_start = config.adaround_beta_start;
  options.adaround.beta_end = config.adaround_beta_end;
  options.adaround.warmup = config.adaround_warmup;
  options.adaround.learning_rate = config.adaround_lr;
  options.adaround.batch_images = config.adaround_batch;
  options.adaround.seed = config.seed;
  options.patch_prob = config.adaround_patch_prob;
  options.workers = config.workers;
  options.progress = config.progress;
  options.max_bad_image_share = config.max_bad_image_share;
  options.output.key = config.output;
  options.cross_layer_equalization = config.cross_layer_equalization;
  return options;
}

LayerReportOptions layer_report_options(const Config& config) {
  LayerReportOptions options;
  options.precision = precision_label(config);
  options.act_sites = config.act_sites;
  options.dynamic_ranges = config.stats_mode == StatsMode::kNo;
  options.weights = weight_quant_options(config);
  options.round_to_nearest = config.weight_method == WeightMethod::kRtn;
  return options;
}

std::string precision_label(const Config& config) {
  if (config.act_bits == 0 && config.weight_bits == 0) return "FP32";
  const auto bits = [](int b) { return b == 0 ? 32 : b; };
  return fmt::format("W{}A{}", bits(config.weight_bits), bits(config.act_bits));
}

}  // namespace quantsim
