// Per-output-channel mean and variance corrections of quantized weights. Statistics are computed in float64 so that
// the corrected float32 weights match the FP32 moments to float rounding, whatever the channel size. Each correction
// is split into its per-channel parameters and their application, so that an export can store the parameters and
// a reader can replay the very same float64 operations.
#include "quantsim/quant/weight_correction.h"

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
at::Tensor as_channel_rows(const at::Tensor& weight) { return weight.reshape({weight.size(0), -1}).to(at::kDouble); }

at::Tensor channel_mean(const at::Tensor& rows) { return rows.mean(/*dim=*/{1}, /*keepdim=*/true); }

at::Tensor channel_population_std(const at::Tensor& rows) {
  return rows.std(/*dim=*/{1}, /*unbiased=*/false, /*keepdim=*/true);
}

at::Tensor back_to_weight(const at::Tensor& rows, const at::Tensor& like) {
  return rows.to(like.scalar_type()).reshape(like.sizes());
}

}  // namespace

VarianceCorrection variance_correction(const at::Tensor& quantized, const at::Tensor& original) {
  check_pair(quantized, original);
  const at::Tensor q = as_channel_rows(quantized);
  const at::Tensor q_std = channel_population_std(q);
  VarianceCorrection correction;
  correction.q_mean = channel_mean(q);
  correction.has_spread = q_std > 0;
  // Divide by 1 where the channel is constant; those rows are left as they are anyway.
  const at::Tensor safe_q_std = at::where(correction.has_spread, q_std, at::ones_like(q_std));
  correction.ratio = channel_population_std(as_channel_rows(original)) / safe_q_std;
  return correction;
}

MeanCorrection mean_correction(const at::Tensor& quantized, const at::Tensor& original) {
  check_pair(quantized, original);
  return MeanCorrection{channel_mean(as_channel_rows(quantized)), channel_mean(as_channel_rows(original))};
}

at::Tensor apply_correction(const at::Tensor& weight, const VarianceCorrection& correction) {
  if (weight.numel() == 0) return weight.clone();
  const at::Tensor q = as_channel_rows(weight);
  const at::Tensor rescaled = (q - correction.q_mean) * correction.ratio + correction.q_mean;
  return back_to_weight(at::where(correction.has_spread, rescaled, q), weight);
}

at::Tensor apply_correction(const at::Tensor& weight, const MeanCorrection& correction) {
  if (weight.numel() == 0) return weight.clone();
  const at::Tensor q = as_channel_rows(weight);
  return back_to_weight(q - correction.q_mean + correction.target_mean, weight);
}

CorrectionSteps correction_steps(const at::Tensor& quantized, const at::Tensor& original,
                                 WeightCorrections corrections) {
  CorrectionSteps steps;
  at::Tensor current = quantized;
  if (corrections.variance) {
    steps.variance = variance_correction(current, original);
    current = apply_correction(current, *steps.variance);
  }
  if (corrections.bias) steps.mean = mean_correction(current, original);
  return steps;
}

at::Tensor apply_correction_steps(const at::Tensor& quantized, const CorrectionSteps& steps) {
  at::Tensor result = quantized;
  if (steps.variance) result = apply_correction(result, *steps.variance);
  if (steps.mean) result = apply_correction(result, *steps.mean);
  return result;
}

at::Tensor corrected_weight(const at::Tensor& quantized, const at::Tensor& original, WeightCorrections corrections) {
  if (!corrections.variance && !corrections.bias) return quantized;
  if (quantized.numel() == 0) return quantized.clone();
  return apply_correction_steps(quantized, correction_steps(quantized, original, corrections));
}

}  // namespace quantsim
