#pragma once
// Internal to src/quant: the output stage of fixed_point.h on a whole int32 tensor, with the offset and clamp of
// requantize_accumulators (integer_layer.h) fused into the same pass.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/quant/fixed_point.h"

namespace quantsim::fixed_point_detail {

// clamp(offset + multiply_by_quantized_multiplier(x, m[c]), lo, hi) element for element (the sum in 64 bits), c the
// index along `axis` (one multiplier: all). Checks as the public tensor function does; returns a new int32 tensor.
at::Tensor output_stage(const at::Tensor& x, const std::vector<FixedPointMultiplier>& m, int64_t axis, int64_t offset,
                        int64_t lo, int64_t hi);

}  // namespace quantsim::fixed_point_detail
