#pragma once
// Weight corrections after quantization (-bcw, -vcw; docs/QUANTIZATION.md, section 5): quantization shifts each output
// channel's mean and shrinks or inflates its spread, which biases the layer's outputs; these restore the FP32
// per-channel mean and (population) standard deviation. Output channels are axis 0; the tensors keep their dtype and
// shape.
#include <ATen/core/Tensor.h>

#include <optional>

namespace quantsim {

// For every output channel c:
//   -bcw (bias): W_q[c] - mean(W_q[c]) + mean(W[c]).
//   -vcw (variance): (W_q[c] - mean(W_q[c])) * std(W[c]) / std(W_q[c]) + mean(W_q[c]); a channel with
//   std(W_q[c]) == 0 (all its weights quantized to one value) is left unchanged, since no scaling can give it a spread.
struct WeightCorrections {
  bool variance = false;  // -vcw
  bool bias = false;      // -bcw
};

// Applies the requested corrections in the order of docs/QUANTIZATION.md, section 5: variance first, then bias (the
// mean correction last, so that the final mean is the FP32 one whatever the variance step did). With neither, returns
// `quantized` itself. With a correction asked for, throws std::invalid_argument when the tensors (not empty) differ in
// shape or are scalars.
at::Tensor corrected_weight(const at::Tensor& quantized, const at::Tensor& original, WeightCorrections corrections);

// The corrections as per-output-channel parameters, so that an exported model can rebuild the corrected weight from
// its integer grid exactly: every tensor is float64 [channels, 1]; a step applies in float64 to the rows of its
// input and rounds to float32 once, exactly as corrected_weight does (it takes these steps).
//   variance: has_spread ? (w - q_mean) * ratio + q_mean : w      (ratio = std(W[c]) / std(W_q[c]))
//   mean:     (w - q_mean) + target_mean                          (target_mean = mean(W[c]))
struct VarianceCorrection {
  at::Tensor q_mean, ratio, has_spread;  // has_spread: bool
};
struct MeanCorrection {
  at::Tensor q_mean, target_mean;
};
struct CorrectionSteps {
  std::optional<VarianceCorrection> variance;  // applied first
  std::optional<MeanCorrection> mean;
};

VarianceCorrection variance_correction(const at::Tensor& quantized, const at::Tensor& original);
MeanCorrection mean_correction(const at::Tensor& quantized, const at::Tensor& original);
at::Tensor apply_correction(const at::Tensor& weight, const VarianceCorrection& correction);
at::Tensor apply_correction(const at::Tensor& weight, const MeanCorrection& correction);

// The steps corrected_weight(quantized, original, corrections) takes, and their replay.
CorrectionSteps correction_steps(const at::Tensor& quantized, const at::Tensor& original,
                                 WeightCorrections corrections);
at::Tensor apply_correction_steps(const at::Tensor& quantized, const CorrectionSteps& steps);

}  // namespace quantsim
