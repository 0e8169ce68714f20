#include "quantsim/weight_quantization.h"

#include <ATen/ATen.h>

namespace quantsim {

ChannelwiseStats weight_statistics(const at::Tensor& weight) {
  // A weight [O, ...] is one "batch" of one sample whose channels are the output channels.
  return dynamic_batch_stats(weight.to(at::kFloat).unsqueeze(0));
}

QuantizedWeight quantize_layer_weight(const Layer& layer, const WeightQuantOptions& options) {
  QuantizedWeight result;
  result.bits = effective_bits(options.bits, options.first_last_bits, layer.first || layer.last);
  if (result.bits == 0) {
    result.weight = layer.original_weight;
    return result;
  }
  TensorQuantRequest request;
  request.bits = result.bits;
  request.per_channel = options.per_channel;
  request.signedness = Signedness::kSigned;
  request.clipping = options.clipping.value_or(Clipping{});
  request.bit_allocation = options.bit_allocation;
  request.stats_kind = StatsKind::kMax;  // one "batch": global and batch-mean extremes coincide
  const at::Tensor original = layer.original_weight.to(at::kFloat).contiguous();
  result.params = compute_quant_params(request, weight_statistics(original), nullptr);
  QuantParamTensors tensors;
  const at::Tensor quantized = apply_quant_params(original, result.params, /*axis=*/0, tensors);
  result.weight = corrected_weight(quantized, original, options.corrections);
  return result;
}

}  // namespace quantsim
