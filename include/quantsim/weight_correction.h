#pragma once
// Weight corrections after quantization (-bcw, -vcw; SPEC section 5): quantization shifts each output channel's
// mean and shrinks or inflates its spread, which biases the layer's outputs; these restore the FP32 per-channel
// mean and (population) standard deviation. Output channels are axis 0; the tensors keep their dtype and shape.
#include <ATen/core/Tensor.h>

namespace quantsim {

// -bcw: W_q[c] - mean(W_q[c]) + mean(W[c]) for every output channel c.
at::Tensor bias_corrected_weight(const at::Tensor& quantized, const at::Tensor& original);

// -vcw: (W_q[c] - mean(W_q[c])) * std(W[c]) / std(W_q[c]) + mean(W_q[c]); a channel with std(W_q[c]) == 0 (all its
// weights quantized to one value) is returned unchanged, since no scaling can give it a spread.
at::Tensor variance_corrected_weight(const at::Tensor& quantized, const at::Tensor& original);

struct WeightCorrections {
  bool variance = false;  // -vcw
  bool bias = false;      // -bcw
};

// Applies the requested corrections in the SPEC's order: variance first, then bias (the mean correction last, so
// that the final mean is the FP32 one whatever the variance step did). With neither, returns `quantized` itself.
at::Tensor corrected_weight(const at::Tensor& quantized, const at::Tensor& original, WeightCorrections corrections);

}  // namespace quantsim
