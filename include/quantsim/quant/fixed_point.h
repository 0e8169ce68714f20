#pragma once
// Fixed-point requantization as gemmlowp and TFLite do it (docs/QUANTIZATION.md, section 16): a real multiplier
// M > 0 is held as a Q31 integer m in [2^30, 2^31) and a power-of-two exponent e, M ~= m / 2^31 * 2^e, and an int32 x
// is scaled by RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(e, 0), m), max(-e, 0)): gemmlowp's
// OutputStageScaleInt32ByFixedPointAndExponent, TFLite's MultiplyByQuantizedMultiplier.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace quantsim {

struct FixedPointMultiplier {
  int32_t multiplier = 0;  // Q31 in [2^30, 2^31); 0 only for a real multiplier of 0
  int exponent = 0;        // > 0: left shift before the multiplication; < 0: rounding right shift after it

  double real() const;  // multiplier / 2^31 * 2^exponent
};

// TFLite's QuantizeMultiplier: the closest Q31 multiplier (a mantissa that rounds up to 2^31 is halved and the
// exponent raised). Throws std::invalid_argument for a negative or non-finite `real`, or one whose exponent falls
// outside [-31, 30] (it would shift every int32 to 0, or need more than 31 bits of left shift).
FixedPointMultiplier quantize_multiplier(double real);

// gemmlowp's fixedpoint.h, bit for bit: (a * b * 2 + 2^31 rounding) >> 32 with the one overflow case
// (a == b == INT32_MIN) saturated to INT32_MAX.
int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
// x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31).
int32_t rounding_divide_by_pot(int32_t x, int exponent);
// x scaled by `m` as the output stage above does it. The left shift saturates to the int32 range.
int32_t multiply_by_quantized_multiplier(int32_t x, FixedPointMultiplier m);

// The same on an int32 tensor: one multiplier for the whole tensor (m.size() == 1) or one per index of `axis`
// (m.size() == x.size(axis)). Returns a new int32 tensor of x's shape; equals the scalar function element for element.
at::Tensor multiply_by_quantized_multiplier(const at::Tensor& x, const std::vector<FixedPointMultiplier>& m,
                                            int64_t axis);

}  // namespace quantsim
