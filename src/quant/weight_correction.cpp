// Per-output-channel mean and variance corrections of quantized weights. Statistics are computed in float64 so that
// the corrected float32 weights match the FP32 moments to float rounding, whatever the channel size.
#include "quantsim/weight_correction.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace quantsim {
namespace {

void check_pair(const at::Tensor& quantized, const at::Tensor& original) {
  if (quantized.dim() < 1 || !quantized.sizes().equals(original.sizes())) {
    throw std::invalid_argument("weight correction: quantized and original weights need the same shape, "
                                "with output channels on axis 0");
  }
}

// [channels, elements per channel] in float64.
at::Tensor as_channel_rows(const at::Tensor& weight) {
  return weight.reshape({weight.size(0), -1}).to(at::kDouble);
}

at::Tensor channel_mean(const at::Tensor& rows) { return rows.mean(/*dim=*/{1}, /*keepdim=*/true); }

at::Tensor channel_population_std(const at::Tensor& rows) {
  return rows.std(/*dim=*/{1}, /*unbiased=*/false, /*keepdim=*/true);
}

at::Tensor back_to_weight(const at::Tensor& rows, const at::Tensor& like) {
  return rows.to(like.scalar_type()).reshape(like.sizes());
}

}  // namespace

at::Tensor bias_corrected_weight(const at::Tensor& quantized, const at::Tensor& original) {
  check_pair(quantized, original);
  if (quantized.numel() == 0) return quantized.clone();
  const at::Tensor q = as_channel_rows(quantized);
  const at::Tensor w = as_channel_rows(original);
  return back_to_weight(q - channel_mean(q) + channel_mean(w), quantized);
}

at::Tensor variance_corrected_weight(const at::Tensor& quantized, const at::Tensor& original) {
  check_pair(quantized, original);
  if (quantized.numel() == 0) return quantized.clone();
  const at::Tensor q = as_channel_rows(quantized);
  const at::Tensor w = as_channel_rows(original);
  const at::Tensor q_mean = channel_mean(q);
  const at::Tensor q_std = channel_population_std(q);
  const at::Tensor has_spread = q_std > 0;
  // Divide by 1 where the channel is constant; those rows are replaced by the input below anyway.
  const at::Tensor safe_q_std = at::where(has_spread, q_std, at::ones_like(q_std));
  const at::Tensor rescaled = (q - q_mean) * (channel_population_std(w) / safe_q_std) + q_mean;
  return back_to_weight(at::where(has_spread, rescaled, q), quantized);
}

at::Tensor corrected_weight(const at::Tensor& quantized, const at::Tensor& original, WeightCorrections corrections) {
  at::Tensor result = quantized;
  if (corrections.variance) result = variance_corrected_weight(result, original);
  if (corrections.bias) result = bias_corrected_weight(result, original);
  return result;
}

}  // namespace quantsim
