#include "quantsim/quant/gpfq_layer.h"

#include <ATen/ATen.h>

#include <vector>

#include "quantsim/quant/gpfq.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

std::vector<float> to_vector(const at::Tensor& t) {
  const at::Tensor flat = t.to(at::kCPU, at::kFloat).contiguous().reshape(-1);
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

// The grid and ranges of the alphabet: one entry per output channel when it is per channel, else one.
void describe_alphabet(const GpfqAlphabet& alphabet, bool per_channel, int bits, QuantizedWeight& result) {
  std::vector<float> steps = to_vector(alphabet.step);
  if (!per_channel) steps.resize(1);
  const auto k = static_cast<float>(alphabet.half_levels);
  result.params.per_channel = per_channel;
  result.params.bits = bits;
  for (const float step : steps) {
    result.grid.offset.push_back(-k * step);
    result.grid.step.push_back(step);
    result.grid.levels.push_back(2 * alphabet.half_levels + 1);
    if (per_channel) {
      result.params.lo.push_back(-k * step);
      result.params.hi.push_back(k * step);
      result.params.channel_bits.push_back(bits);
    }
  }
  if (!per_channel) result.params.range = {-k * static_cast<double>(steps[0]), k * static_cast<double>(steps[0])};
}

}  // namespace

at::Tensor grouped_weight_matrix(const Layer& layer) {
  const at::Tensor& weight = layer.original_weight;
  const int64_t groups = layer.kind == LayerKind::kConv ? layer.groups : 1;
  return weight.to(at::kFloat).reshape({groups, weight.size(0) / groups, -1});
}

QuantizedWeight gpfq_layer_weight(const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde,
                                  const GpfqLayerOptions& options) {
  check_finite_weight(layer);  // NaN would spread through the greedy walk to every later weight of the neuron
  const at::Tensor& original = layer.original_weight;
  const at::Tensor weight = grouped_weight_matrix(layer).to(x.device());
  const GpfqAlphabet alphabet = gpfq_alphabet(weight, options.bits, options.scale, options.per_channel);
  const at::Tensor q = gpfq_quantize(x.to(at::kFloat), x_tilde.to(at::kFloat), weight, alphabet);
  QuantizedWeight result;
  result.bits = options.bits;
  result.grid_weight = q.reshape(original.sizes()).to(original.device(), original.scalar_type());
  result.weight = corrected_weight(result.grid_weight, original, options.corrections);
  describe_alphabet(alphabet, options.per_channel, options.bits, result);
  return result;
}

}  // namespace quantsim
