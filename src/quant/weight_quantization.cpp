#include "quantsim/quant/weight_quantization.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "common/affine_quantizer.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/range_methods.h"

namespace quantsim {
namespace {

// The grid of the affine quantizer: kernels::make_affine_quant_params, the very parameters the fake-quant op uses.
void add_grid_entry(WeightGrid& grid, float lo, float hi, int bits) {
  const kernels::AffineQuantParams p = kernels::make_affine_quant_params(lo, hi, bits);
  grid.offset.push_back(-p.zero_point * p.scale);
  grid.step.push_back(p.scale);
  grid.levels.push_back(int64_t{1} << bits);
}

WeightGrid weight_grid(const QuantParams& params) {
  WeightGrid grid;
  if (!params.per_channel) {
    add_grid_entry(grid, static_cast<float>(params.range.lo), static_cast<float>(params.range.hi), params.bits);
    return grid;
  }
  for (size_t c = 0; c < params.lo.size(); ++c) {
    add_grid_entry(grid, params.lo[c], params.hi[c], params.channel_bits[c]);
  }
  return grid;
}

}  // namespace

void check_finite_weight(const Layer& layer) {
  const at::Tensor finite = at::isfinite(layer.original_weight);
  if (finite.all().item<bool>()) return;
  const at::Tensor flat_bad = finite.logical_not().flatten();
  const int64_t first = flat_bad.nonzero()[0][0].item<int64_t>();
  const int64_t per_channel = layer.original_weight.numel() / layer.original_weight.size(0);
  const double value = layer.original_weight.flatten()[first].item<double>();
  throw UserError(fmt::format("layer '{}': the weight holds {} non-finite values (first: {} in output channel {}); "
                              "a model with NaN or inf weights cannot be quantized",
                              layer.name, flat_bad.sum().item<int64_t>(), value, first / per_channel));
}

ChannelwiseStats weight_statistics(const at::Tensor& weight) {
  // A weight [O, ...] is one "batch" of one sample whose channels are the output channels.
  return dynamic_batch_stats(weight.to(at::kFloat).unsqueeze(0));
}

TensorQuantRequest weight_quant_request(int bits, const WeightQuantOptions& options) {
  TensorQuantRequest request;
  request.bits = bits;
  request.per_channel = options.per_channel;
  request.signedness = Signedness::kSigned;
  request.clipping = options.clipping.value_or(Clipping{});
  request.bit_allocation = options.bit_allocation;
  request.stats_kind = StatsKind::kMax;  // one "batch": global and batch-mean extremes coincide
  return request;
}

QuantizedWeight quantize_layer_weight(const Layer& layer, const WeightQuantOptions& options) {
  QuantizedWeight result;
  result.bits = effective_bits(options.bits, options.first_last_bits, layer.first || layer.last);
  if (result.bits == 0) {
    result.weight = layer.original_weight;
    return result;
  }
  check_finite_weight(layer);
  const TensorQuantRequest request = weight_quant_request(result.bits, options);
  const at::Tensor original = layer.original_weight.to(at::kFloat).contiguous();
  try {
    ChannelwiseStats stats = weight_statistics(original);
    // --clip-weights with a histogram method: the histograms of the weight itself (docs/QUANTIZATION.md, section 2).
    if (is_histogram_method(request.clipping)) stats.histograms = tensor_histograms(original);
    result.params = compute_quant_params(request, stats, nullptr);
  } catch (const UserError& error) {  // e.g. a range too wide for float32
    throw UserError(fmt::format("layer '{}': {}", layer.name, error.what()));
  }
  QuantParamTensors tensors;
  const at::Tensor quantized = apply_quant_params(original, result.params, /*axis=*/0, tensors);
  result.grid_weight = quantized;
  result.grid = weight_grid(result.params);
  result.weight = corrected_weight(quantized, original, options.corrections);
  return result;
}

}  // namespace quantsim
