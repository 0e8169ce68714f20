// Fixed-point requantization against straightforward int64 definitions: SaturatingRoundingDoublingHighMul rounds
// a * b / 2^31 half up (its one overflow saturated), RoundingDivideByPOT rounds x / 2^e half away from zero, and the
// multiplier of QuantizeMultiplier reproduces the real one to 31 bits.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "quantsim/quant/fixed_point.h"

namespace quantsim {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

// floor((2ab + 2^31) / 2^32): a * b / 2^31 rounded half towards +inf.
int32_t reference_high_mul(int32_t a, int32_t b) {
  if (a == kMin && b == kMin) return kMax;
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int64_t q = (ab + (int64_t{1} << 30)) >> 31;  // arithmetic shift = floor division
  return static_cast<int32_t>(q);
}

// x / 2^e rounded half away from zero, by magnitudes.
int32_t reference_divide_by_pot(int32_t x, int e) {
  if (e == 0) return x;
  const int64_t magnitude = std::abs(static_cast<int64_t>(x));
  const int64_t rounded = (magnitude + (int64_t{1} << (e - 1))) >> e;
  return static_cast<int32_t>(x < 0 ? -rounded : rounded);
}

int32_t reference_multiply(int32_t x, FixedPointMultiplier m) {
  const int left = std::max(m.exponent, 0);
  const int64_t shifted = std::clamp<int64_t>(static_cast<int64_t>(x) * (int64_t{1} << left), kMin, kMax);
  return reference_divide_by_pot(reference_high_mul(static_cast<int32_t>(shifted), m.multiplier),
                                 std::max(-m.exponent, 0));
}

std::vector<int32_t> interesting_values() {
  return {0,    1,    -1,       2,        -2,        3,          -3,    7,     -7, 1 << 30, -(1 << 30), (1 << 30) + 1,
          kMax, kMin, kMin + 1, kMax - 1, 123456789, -123456789, 65535, -65536};
}

TEST(FixedPoint, HighMulMatchesReferenceIncludingSaturationAndTies) {
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMin), kMax);
  // Ties: a * b = 2^30 (exactly half of 2^31) rounds up to 1; -2^30 rounds up to 0; 3 * 2^30 rounds up to 2.
  EXPECT_EQ(saturating_rounding_doubling_high_mul(1 << 15, 1 << 15), 1);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-(1 << 15), 1 << 15), 0);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(3 << 15, 1 << 15), 2);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-(3 << 15), 1 << 15), -1);
  const std::vector<int32_t> values = interesting_values();
  for (int32_t a : values) {
    for (int32_t b : values)
      EXPECT_EQ(saturating_rounding_doubling_high_mul(a, b), reference_high_mul(a, b)) << a << " " << b;
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  for (int i = 0; i < 200000; ++i) {
    const int32_t a = any(rng), b = any(rng);
    ASSERT_EQ(saturating_rounding_doubling_high_mul(a, b), reference_high_mul(a, b)) << a << " " << b;
  }
}

TEST(FixedPoint, RoundingDivideByPotMatchesReferenceIncludingTies) {
  EXPECT_EQ(rounding_divide_by_pot(3, 1), 2);    // 1.5 -> 2
  EXPECT_EQ(rounding_divide_by_pot(-3, 1), -2);  // -1.5 -> -2
  EXPECT_EQ(rounding_divide_by_pot(5, 2), 1);    // 1.25 -> 1
  EXPECT_EQ(rounding_divide_by_pot(-6, 2), -2);  // -1.5 -> -2
  EXPECT_EQ(rounding_divide_by_pot(kMin, 31), -1);
  EXPECT_EQ(rounding_divide_by_pot(kMax, 31), 1);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  for (int e = 0; e <= 31; ++e) {
    for (int32_t x : interesting_values())
      EXPECT_EQ(rounding_divide_by_pot(x, e), reference_divide_by_pot(x, e)) << x << " " << e;
    for (int i = 0; i < 5000; ++i) {
      const int32_t x = any(rng);
      ASSERT_EQ(rounding_divide_by_pot(x, e), reference_divide_by_pot(x, e)) << x << " " << e;
      // Exact ties at this exponent: odd multiples of 2^(e-1).
      if (e > 0) {
        const int32_t tie = static_cast<int32_t>(((x >> e) * int64_t{2} + 1) << (e - 1));
        ASSERT_EQ(rounding_divide_by_pot(tie, e), reference_divide_by_pot(tie, e)) << tie << " " << e;
      }
    }
  }
  EXPECT_THROW(rounding_divide_by_pot(1, 32), std::invalid_argument);
  EXPECT_THROW(rounding_divide_by_pot(1, -1), std::invalid_argument);
}

TEST(FixedPoint, QuantizeMultiplierRoundTrips) {
  const FixedPointMultiplier one = quantize_multiplier(1.0);
  EXPECT_EQ(one.multiplier, 1 << 30);
  EXPECT_EQ(one.exponent, 1);
  EXPECT_EQ(one.real(), 1.0);
  // A mantissa that rounds up to 2^31 is halved and the exponent raised.
  const FixedPointMultiplier up = quantize_multiplier(std::nextafter(1.0, 0.0));
  EXPECT_EQ(up.multiplier, 1 << 30);
  EXPECT_EQ(up.exponent, 1);
  const FixedPointMultiplier zero = quantize_multiplier(0.0);
  EXPECT_EQ(zero.multiplier, 0);
  EXPECT_EQ(zero.real(), 0.0);
  EXPECT_EQ(quantize_multiplier(std::ldexp(1.0, -32)).exponent, -31);
  EXPECT_EQ(quantize_multiplier(std::ldexp(0.75, 30)).exponent, 30);

  std::mt19937 rng(3);
  std::uniform_real_distribution<double> mantissa(0.5, 1.0);
  std::uniform_int_distribution<int> exponent(-31, 30);
  for (int i = 0; i < 100000; ++i) {
    const double real = std::ldexp(mantissa(rng), exponent(rng));
    const FixedPointMultiplier m = quantize_multiplier(real);
    ASSERT_GE(m.multiplier, 1 << 30) << real;
    ASSERT_LE(m.exponent, 30);
    ASSERT_GE(m.exponent, -31);
    // The closest Q31 value: within half a unit of the last place of the 31-bit mantissa.
    ASSERT_LE(std::abs(m.real() - real), std::ldexp(0.5, m.exponent - 31)) << real;
  }
}

TEST(FixedPoint, QuantizeMultiplierRefusesWhatHasNoQ31Form) {
  EXPECT_THROW(quantize_multiplier(-0.5), std::invalid_argument);
  EXPECT_THROW(quantize_multiplier(std::nan("")), std::invalid_argument);
  EXPECT_THROW(quantize_multiplier(std::numeric_limits<double>::infinity()), std::invalid_argument);
  EXPECT_THROW(quantize_multiplier(std::ldexp(1.0, -33)), std::invalid_argument);  // exponent -32
  EXPECT_THROW(quantize_multiplier(std::ldexp(1.0, 30)), std::invalid_argument);   // exponent 31
}

TEST(FixedPoint, MultiplyMatchesReferenceIncludingSaturatedLeftShift) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  std::uniform_int_distribution<int32_t> small(-100000, 100000);
  std::uniform_real_distribution<double> mantissa(0.5, 1.0);
  std::uniform_int_distribution<int> exponent(-31, 30);
  for (int i = 0; i < 100000; ++i) {
    const FixedPointMultiplier m = quantize_multiplier(std::ldexp(mantissa(rng), exponent(rng)));
    const int32_t x = (i % 2) ? any(rng) : small(rng);
    ASSERT_EQ(multiply_by_quantized_multiplier(x, m), reference_multiply(x, m))
        << x << " " << m.multiplier << " " << m.exponent;
  }
  // A left shift past int32 saturates before the multiplication.
  const FixedPointMultiplier big = quantize_multiplier(1024.0);
  EXPECT_EQ(multiply_by_quantized_multiplier(kMax / 2, big), multiply_by_quantized_multiplier(kMax, big));
  EXPECT_EQ(multiply_by_quantized_multiplier(-(1 << 29), big), reference_multiply(kMin, big));
  // Close to the real product for values far from saturation.
  const FixedPointMultiplier third = quantize_multiplier(1.0 / 3.0);
  EXPECT_EQ(multiply_by_quantized_multiplier(300, third), 100);
  EXPECT_EQ(multiply_by_quantized_multiplier(-300, third), -100);
  // Two roundings (the high multiplication, then the shift) may each move half a unit: -301 / 3 = -100.33 becomes
  // -200.67 -> -201 after the multiplication by 2/3 and -100.5 -> -101 after the shift by 1, as in gemmlowp.
  EXPECT_EQ(multiply_by_quantized_multiplier(-301, third), -101);
  for (int32_t x = -100000; x <= 100000; x += 7) {
    ASSERT_LE(std::abs(multiply_by_quantized_multiplier(x, third) - x / 3.0), 1.0) << x;
  }
}

TEST(FixedPoint, TensorFormEqualsScalarPerTensorAndPerChannel) {
  at::manual_seed(1);
  const at::Tensor x = at::randint(-(int64_t{1} << 31), int64_t{1} << 31, {3, 5, 4, 7}, at::kLong).to(at::kInt);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> mantissa(0.5, 1.0);
  std::uniform_int_distribution<int> exponent(-31, 30);
  for (int64_t axis : {0, 1, 3, -1}) {
    const int64_t channels = x.size(axis < 0 ? axis + x.dim() : axis);
    std::vector<FixedPointMultiplier> m;
    for (int64_t c = 0; c < channels; ++c) m.push_back(quantize_multiplier(std::ldexp(mantissa(rng), exponent(rng))));
    const at::Tensor y = multiply_by_quantized_multiplier(x, m, axis);
    ASSERT_EQ(y.scalar_type(), at::kInt);
    ASSERT_EQ(y.sizes(), x.sizes());
    const at::Tensor moved = x.movedim(axis, 0).contiguous();
    const at::Tensor y_moved = y.movedim(axis, 0).contiguous();
    for (int64_t c = 0; c < channels; ++c) {
      const int32_t* xs = moved[c].contiguous().data_ptr<int32_t>();
      const at::Tensor yc = y_moved[c].contiguous();
      for (int64_t i = 0; i < yc.numel(); ++i) {
        ASSERT_EQ(yc.data_ptr<int32_t>()[i], multiply_by_quantized_multiplier(xs[i], m[c])) << axis << " " << c;
      }
    }
  }
  // One multiplier for the whole tensor; a non-contiguous input.
  const FixedPointMultiplier one = quantize_multiplier(0.0123);
  const at::Tensor t = x.transpose(1, 3);
  const at::Tensor y = multiply_by_quantized_multiplier(t, {one}, 1);
  const at::Tensor tc = t.contiguous();
  const at::Tensor yc = y.contiguous();
  for (int64_t i = 0; i < tc.numel(); ++i) {
    ASSERT_EQ(yc.data_ptr<int32_t>()[i], multiply_by_quantized_multiplier(tc.data_ptr<int32_t>()[i], one));
  }
  EXPECT_THROW(multiply_by_quantized_multiplier(x, {one, one}, 1), std::invalid_argument);
  EXPECT_THROW(multiply_by_quantized_multiplier(x.to(at::kLong), {one}, 1), std::invalid_argument);
}

}  // namespace
}  // namespace quantsim
