#include "quantsim/quant_options.h"

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

ActivationQuantOptions activation_quant_options(const Config& config) {
  ActivationQuantOptions options;
  options.bits = config.act_bits;
  options.first_last_bits = config.first_last_bits;
  options.per_channel = config.per_channel_activations;
  options.clipping = config.clipping;
  options.bit_allocation =
      bit_allocation_options(config, config.bit_alloc_activations, config.bit_alloc_target_activations);
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

}  // namespace quantsim
