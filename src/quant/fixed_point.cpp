#include "quantsim/quant/fixed_point.h"

#include "fixed_point_detail.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace quantsim {

double FixedPointMultiplier::real() const { return std::ldexp(static_cast<double>(multiplier), exponent - 31); }

FixedPointMultiplier quantize_multiplier(double real) {
  if (!std::isfinite(real) || real < 0.0) {
    throw std::invalid_argument("quantize_multiplier: the multiplier must be finite and >= 0, got " +
                                std::to_string(real));
  }
  if (real == 0.0) return FixedPointMultiplier{};
  // TFLite's QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc): frexp gives real =
  // q * 2^exponent with q in [0.5, 1); q * 2^31 rounded half away from zero (TfLiteRound = std::round).
  int exponent = 0;
  const double mantissa = std::frexp(real, &exponent);
  auto q_fixed = static_cast<int64_t>(std::round(mantissa * static_cast<double>(int64_t{1} << 31)));
  if (q_fixed == (int64_t{1} << 31)) {  // the mantissa rounded up to 1.0
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31 || exponent > 30) {
    throw std::invalid_argument("quantize_multiplier: " + std::to_string(real) + " needs the exponent " +
                                std::to_string(exponent) + ", outside [-31, 30]");
  }
  return FixedPointMultiplier{static_cast<int32_t>(q_fixed), exponent};
}

// gemmlowp fixedpoint.h's scalar SaturatingRoundingDoublingHighMul: the nudge rounds half away from zero before the
// truncating division by 2^31.
int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const auto high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

// gemmlowp fixedpoint.h's RoundingDivideByPOT: arithmetic shift plus one when the remainder exceeds half (ties of a
// negative x round down in magnitude's favour, i.e. away from zero).
namespace {
inline int32_t rounding_divide_by_pot_unchecked(int32_t x, int exponent) {
  const auto mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}
}  // namespace

int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  if (exponent < 0 || exponent > 31) {
    throw std::invalid_argument("rounding_divide_by_pot: exponent " + std::to_string(exponent) + " outside [0, 31]");
  }
  return rounding_divide_by_pot_unchecked(x, exponent);
}

namespace {

// gemmlowp's ShiftLeft: the product in 64 bits, saturated to int32.
inline int32_t saturating_shift_left(int32_t x, int shift) {
  const int64_t wide = static_cast<int64_t>(x) * (int64_t{1} << shift);
  if (wide < std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::min();
  if (wide > std::numeric_limits<int32_t>::max()) return std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(wide);
}

// The loop body without argument checks (exponent already validated by the caller).
inline int32_t multiply_unchecked(int32_t x, int32_t multiplier, int left_shift, int right_shift) {
  return rounding_divide_by_pot_unchecked(
      saturating_rounding_doubling_high_mul(saturating_shift_left(x, left_shift), multiplier), right_shift);
}

void check_multiplier(const FixedPointMultiplier& m) {
  if (m.exponent < -31 || m.exponent > 30) {
    throw std::invalid_argument("multiply_by_quantized_multiplier: exponent " + std::to_string(m.exponent) +
                                " outside [-31, 30]");
  }
}

}  // namespace

int32_t multiply_by_quantized_multiplier(int32_t x, FixedPointMultiplier m) {
  check_multiplier(m);
  return multiply_unchecked(x, m.multiplier, std::max(m.exponent, 0), std::max(-m.exponent, 0));
}

at::Tensor multiply_by_quantized_multiplier(const at::Tensor& x, const std::vector<FixedPointMultiplier>& m,
                                            int64_t axis) {
  return fixed_point_detail::output_stage(x, m, axis, 0, std::numeric_limits<int32_t>::min(),
                                          std::numeric_limits<int32_t>::max());
}

namespace fixed_point_detail {

at::Tensor output_stage(const at::Tensor& x, const std::vector<FixedPointMultiplier>& m, int64_t axis, int64_t offset,
                        int64_t lo, int64_t hi) {
  if (x.scalar_type() != at::kInt) {
    throw std::invalid_argument("multiply_by_quantized_multiplier: x must be int32");
  }
  const int64_t dim = x.dim();
  const int64_t channels_axis = axis < 0 ? axis + dim : axis;
  const bool per_channel = m.size() != 1;
  if (per_channel &&
      (channels_axis < 0 || channels_axis >= dim || static_cast<int64_t>(m.size()) != x.size(channels_axis))) {
    throw std::invalid_argument("multiply_by_quantized_multiplier: " + std::to_string(m.size()) +
                                " multipliers do not match axis " + std::to_string(axis) + " of the tensor");
  }
  for (const FixedPointMultiplier& one : m) check_multiplier(one);

  const at::Tensor src = x.contiguous();
  at::Tensor out = at::empty(src.sizes(), src.options());
  // Contiguous memory seen as [outer, channels, inner] around the axis (one channel for a single multiplier); the
  // elements are split into chunks without regard to rows, each chunk walked row segment by row segment.
  int64_t channels = 1;
  int64_t inner = src.numel();
  if (per_channel) {
    channels = src.size(channels_axis);
    inner = 1;
    for (int64_t d = channels_axis + 1; d < dim; ++d) inner *= src.size(d);
  }
  if (src.numel() == 0) return out;
  const int32_t* in_data = src.data_ptr<int32_t>();
  int32_t* out_data = out.data_ptr<int32_t>();
  at::parallel_for(0, src.numel(), 16384, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    while (i < end) {
      const int64_t row = i / inner;
      const int64_t row_end = std::min(end, (row + 1) * inner);
      const FixedPointMultiplier& mc = m[static_cast<size_t>(row % channels)];
      const int left = std::max(mc.exponent, 0);
      const int right = std::max(-mc.exponent, 0);
      for (; i < row_end; ++i) {
        const int64_t v = offset + multiply_unchecked(in_data[i], mc.multiplier, left, right);
        out_data[i] = static_cast<int32_t>(std::min(std::max(v, lo), hi));
      }
    }
  });
  return out;
}

}  // namespace fixed_point_detail

}  // namespace quantsim
