#pragma once
// The integer forms of the ops the integer path runs between conv/linear layers and sites (docs/QUANTIZATION.md,
// section 16). Each takes accumulator-domain tensors (codes are converted first, see to_accumulator) and computes
// in exact integer arithmetic; what a runtime rounds, these round as that runtime does (TFLite's reference kernels,
// gemmlowp's output stage). They throw IntegerOpError (integer_tensor.h) for arguments with no integer form and for
// int32 overflows; the interpreter names the op.
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "integer_tensor.h"

namespace quantsim::graph {

// clamp(x, lo, hi) with lo/hi None, a number or a tensor broadcastable to x (real values): the bounds rounded to the
// nearest point of each channel's accumulator grid. relu = clamp(x, 0, None) is exact.
IntegerTensor clamp_accumulators(const IntegerTensor& x, const c10::IValue& lo, const c10::IValue& hi);

// x for x >= 0, else x times a fixed-point multiplier for `negative_slope` (TFLite's quantized LeakyRelu: the
// negative side through MultiplyByQuantizedMultiplier). negative_slope must be in [0, 1].
IntegerTensor leaky_relu(const IntegerTensor& x, double negative_slope);

// a + b: each operand rescaled to the finer of the two scales per channel by a fixed-point multiplier (>= 1; skipped
// where the scales are equal), then added in int32. Shapes broadcast as aten::add.
IntegerTensor add(const IntegerTensor& a, const IntegerTensor& b);

// aten::cat: along axis 1 values and scales are concatenated; along any other axis every input is rescaled to the
// finest scale per channel first (as add does).
IntegerTensor concatenate(const std::vector<IntegerTensor>& xs, int64_t dim);

// avg_pool2d: the integer sum of each window divided by the window's count (or divisor_override), rounded half away
// from zero as TFLite's reference AveragePool does: (sum +- count / 2) / count, truncated.
IntegerTensor average_pool2d(const IntegerTensor& x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                             std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                             std::optional<int64_t> divisor_override);

// The mean over axes 2.. (adaptive_avg_pool to 1x1, mean over H and W), rounded as average_pool2d: [N, C, 1, 1] with
// keepdim, else [N, C].
IntegerTensor spatial_mean(const IntegerTensor& x, bool keepdim);

// How an op that moves values treats axis 1.
enum class ChannelAxis {
  kKept,   // output channel c holds input channel c's values (max pooling, spatial padding): the scales stay
  kMoved,  // anything else (reshape, flatten, permute, ...): followed element by element
};

// An op that only moves, selects or compares values (max pooling, constant-0 padding, reshape, flatten, permute,
// ...), applied to x's int32 values (through double when `through_double`, for kernels without an integer version;
// exact: int32 fits a double's mantissa). Each output element keeps the scale of the channel it came from: with
// kMoved the op is also applied to a tensor of channel indices, and an output channel that mixes input channels of
// different scales throws IntegerOpError. Codes stay codes (same quantizer) unless `zero_fill`: an op that fills in
// zeros (padding) takes codes to the accumulator domain first, where a real 0 is the integer 0.
IntegerTensor move_values(const IntegerTensor& x, const std::function<at::Tensor(const at::Tensor&)>& op,
                          bool through_double, bool zero_fill, ChannelAxis channels);

}  // namespace quantsim::graph
