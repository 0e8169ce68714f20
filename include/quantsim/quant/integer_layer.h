#pragma once
// One conv/linear layer as integer hardware runs it (docs/QUANTIZATION.md, section 16): uint codes of the input
// with one scale and zero point, weight codes with a scale and zero point per output channel (per tensor: the same
// for every channel), products of (code - zero point) summed in int32, plus an int32 bias at scale
// s_in * s_w[c]. The accumulators are then requantized to the next quantized tensor by `requantize_accumulators`.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/quant/fixed_point.h"
#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

// The codes of a per-tensor quantized activation: the affine quantizer of docs/QUANTIZATION.md, section 1, computed
// in float32 exactly as the fake quantizer computes it, so that x_hat = (q - zero_point) * scale.
struct ActivationCodes {
  float scale = 0.0f;
  int32_t zero_point = 0;
  int bits = 0;
  int32_t max_code() const { return (int32_t{1} << bits) - 1; }
};

// From per-tensor static QuantParams. Throws UserError (one line, naming no site: callers add it) when `params` is
// per channel, has no bits, or an empty range (the fake quantizer passes such a tensor through unchanged; integer
// hardware has no code for that).
ActivationCodes activation_codes(const QuantParams& params);

// float32 x -> int32 codes clamp(rint(x / scale) + zero_point, 0, max_code): the fake quantizer's q. NaN throws
// UserError.
at::Tensor quantize_to_codes(const at::Tensor& x, const ActivationCodes& codes);

// What accumulate() convolves with: the centred weight codes (q_w - z_w) as float32 "digits" of base 2^digit_bits,
// lowest first, each of which keeps one float32 pass exact (w = sum_j digits[j] * 2^(digit_bits * j)), or as one
// float64 tensor where float32 cannot be exact (integer_layer.cpp explains the engine). On the CPU.
struct AccumulateWeights {
  std::vector<at::Tensor> digits;
  int digit_bits = 0;
};

// Prepares them for weight codes, their zero points and the input codes' parameters; `float32` false: the float64
// form (for inputs on a GPU, whose float32 convolutions may use TF32).
AccumulateWeights accumulate_weights(const at::Tensor& weight_codes, const std::vector<int32_t>& weight_zero_points,
                                     const ActivationCodes& input, bool float32);

struct IntegerLayer {
  int64_t index = 0;
  std::string name;
  LayerKind kind = LayerKind::kConv;
  int64_t groups = 1;
  std::vector<int64_t> stride, padding, dilation;  // conv only, as in Layer

  at::Tensor weight_codes;                  // int32, the weight's shape; codes in [0, 2^weight_bits[c] - 1]
  std::vector<int32_t> weight_zero_points;  // per output channel
  std::vector<double> weight_scales;        // per output channel: the grid step (float32 value, widened)
  std::vector<int> weight_bits;             // per output channel
  ActivationCodes input;                    // the codes of the layer's input tensor
  std::vector<int32_t> bias;                // per output channel: rint(b[c] / (s_in * s_w[c])); zeros without bias
  std::vector<double> accumulator_scales;   // per output channel: s_in * s_w[c]
  // Prepared by integer_layer from weight_codes, weight_zero_points and input, once per layer rather than on every
  // accumulate() call. Empty: accumulate() prepares them on each call. Clear it when changing those fields.
  AccumulateWeights accumulate_weights;
};

// Builds the integer form of a quantized layer from the grid its weight was quantized on. Throws UserError naming
// the layer when the weight is float (no bits), when what the layer computes with is not its grid weight (-bcw/-vcw
// moved it off the grid), for a transposed conv, or when a bias or the largest possible accumulator does not fit in
// int32.
IntegerLayer integer_layer(const Layer& layer, const QuantizedWeight& weight, const ActivationCodes& input);

// The layer on input codes (int32 [N, C, ...] for a conv, [N, F] for a linear; values in [0, input.max_code()]):
// int32 accumulators sum((q_x - z_x) * (q_w - z_w)) + bias, [N, out_channels, ...]. Exact; padding holds the
// input's zero point, i.e. contributes nothing.
at::Tensor accumulate(const IntegerLayer& layer, const at::Tensor& input_codes);

// The output stage: int32 `accumulators` whose index c along axis 1 has real scale `scales[c]` (or one scale for
// all) -> codes of `out`: clamp(out.zero_point + multiply_by_quantized_multiplier(acc, quantize_multiplier(scales[c] /
// out.scale)), clamp_lo, clamp_hi), with 0 <= clamp_lo <= clamp_hi <= out.max_code() (a fused ReLU/ReLU6 raises
// clamp_lo / lowers clamp_hi). Returns int32 codes.
at::Tensor requantize_accumulators(const at::Tensor& accumulators, const std::vector<double>& scales,
                                   const ActivationCodes& out, int32_t clamp_lo, int32_t clamp_hi);

}  // namespace quantsim
