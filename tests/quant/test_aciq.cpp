// ACIQ solver: the published table, the closed forms against numeric integration, and Monte-Carlo checks with the
// affine quantizer on sampled Laplace and Gaussian data.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>

#include "quant/aciq_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/aciq.h"

namespace quantsim {
namespace {

using testing::empirical_mse;
using testing::model_quantizer_mse;
using testing::sample_prior;

constexpr std::array<Prior, 2> kPriors = {Prior::kLaplace, Prior::kGauss};
constexpr size_t kSamples = 200000;
constexpr uint64_t kSeed = 20190;

// Simpson's rule on [a, b] with n (even) intervals.
double integrate(const std::function<double(double)>& f, double a, double b, int n = 20000) {
  const double h = (b - a) / n;
  double sum = f(a) + f(b);
  for (int i = 1; i < n; ++i) sum += f(a + i * h) * (i % 2 ? 4.0 : 2.0);
  return sum * h / 3.0;
}

double unit_density(Prior prior, double x) {
  if (prior == Prior::kLaplace) return 0.5 * std::exp(-std::abs(x));
  return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

TEST(Aciq, ReproducesThePublishedTableWithinOneHundredth) {
  // docs/QUANTIZATION.md, section 2 (the published values mix rounding and truncation, hence 0.01).
  const std::array<double, 8> laplace = {1.86, 2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89};
  const std::array<double, 8> gauss = {1.24, 1.71, 2.15, 2.55, 2.93, 3.28, 3.61, 3.92};
  for (int bits = 1; bits <= 8; ++bits) {
    EXPECT_NEAR(optimal_alpha(Prior::kLaplace, bits), laplace[bits - 1], 0.01) << "bits " << bits;
    EXPECT_NEAR(optimal_alpha(Prior::kGauss, bits), gauss[bits - 1], 0.01) << "bits " << bits;
  }
  EXPECT_NEAR(optimal_alpha(Prior::kLaplace, 3), 3.897, 5e-4);  // the unrounded value (docs/QUANTIZATION.md, section 2)
}

TEST(Aciq, LaplaceOptimumSolvesItsStationarityCondition) {
  // d/dalpha [2 exp(-alpha) + alpha^2 / (3 4^M)] = 0  <=>  alpha exp(alpha) = 3 * 4^M.
  for (int bits = 1; bits <= kMaxAciqBits; ++bits) {
    const double alpha = optimal_alpha(Prior::kLaplace, bits);
    EXPECT_NEAR(alpha * std::exp(alpha) / (3.0 * std::ldexp(1.0, 2 * bits)), 1.0, 1e-9) << "bits " << bits;
  }
}

TEST(Aciq, SolvesEveryBitWidthUpTo16AndAlphaGrowsWithBits) {
  for (Prior prior : kPriors) {
    double previous = 0.0;
    for (int bits = kMinAciqBits; bits <= kMaxAciqBits; ++bits) {
      const double alpha = optimal_alpha(prior, bits);
      ASSERT_TRUE(std::isfinite(alpha));
      EXPECT_GT(alpha, previous) << "bits " << bits;
      // A minimum: both neighbours are worse.
      const double best = expected_mse(prior, alpha, bits);
      EXPECT_LT(best, expected_mse(prior, alpha * (1.0 - 1e-4), bits)) << "bits " << bits;
      EXPECT_LT(best, expected_mse(prior, alpha * (1.0 + 1e-4), bits)) << "bits " << bits;
      previous = alpha;
    }
  }
}

TEST(Aciq, ClippingTermMatchesNumericIntegrationOverBothTails) {
  for (Prior prior : kPriors) {
    for (double alpha : {0.0, 0.5, 1.7, 3.0, 6.0}) {
      const auto squared_excess = [&](double x) {
        const double excess = std::abs(x) - alpha;
        return excess > 0.0 ? excess * excess * unit_density(prior, x) : 0.0;
      };
      // Both tails, integrated separately so that the kink at +-alpha falls on an end point.
      const double numeric = integrate(squared_excess, alpha, alpha + 60.0) +
                             integrate(squared_excess, -alpha - 60.0, -alpha);
      EXPECT_NEAR(expected_clipping_mse(prior, alpha), numeric, 1e-9 + 1e-7 * numeric) << "alpha " << alpha;
    }
  }
}

TEST(Aciq, ExpectedMseIsClippingPlusQuantizationTerm) {
  EXPECT_DOUBLE_EQ(expected_quantization_mse(2.0, 3), 4.0 / (3.0 * 64.0));
  EXPECT_DOUBLE_EQ(expected_mse(Prior::kGauss, 2.0, 3),
                   expected_clipping_mse(Prior::kGauss, 2.0) + expected_quantization_mse(2.0, 3));
  EXPECT_DOUBLE_EQ(expected_clipping_mse(Prior::kLaplace, 0.0), 2.0);  // the variance of Laplace(0, 1)
  EXPECT_NEAR(expected_clipping_mse(Prior::kGauss, 0.0), 1.0, 1e-15);  // the variance of N(0, 1)
}

TEST(Aciq, UnsignedAlphaMinimizesTheHalfDistributionError) {
  for (Prior prior : kPriors) {
    for (int bits = 1; bits <= kMaxAciqBits; ++bits) {
      const double alpha = optimal_alpha_unsigned(prior, bits);
      if (bits < kMaxAciqBits) {
        EXPECT_DOUBLE_EQ(alpha, optimal_alpha(prior, bits + 1));
      }
      // One tail clipped, Delta = alpha / 2^M paid by half of the mass.
      const auto half_mse = [&](double a) {
        return 0.5 * expected_clipping_mse(prior, a) + a * a / (24.0 * std::ldexp(1.0, 2 * bits));
      };
      EXPECT_LT(half_mse(alpha), half_mse(alpha * (1.0 - 1e-4))) << "bits " << bits;
      EXPECT_LT(half_mse(alpha), half_mse(alpha * (1.0 + 1e-4))) << "bits " << bits;
    }
  }
}

TEST(Aciq, RejectsBitWidthsOutsideOneToSixteen) {
  EXPECT_THROW(optimal_alpha(Prior::kLaplace, 0), UserError);
  EXPECT_THROW(optimal_alpha(Prior::kGauss, 17), UserError);
  EXPECT_THROW(optimal_alpha_unsigned(Prior::kGauss, 17), UserError);
  EXPECT_THROW(expected_mse(Prior::kGauss, 1.0, 0), UserError);
  EXPECT_THROW(expected_mse(Prior::kGauss, -1.0, 4), UserError);
}

TEST(AciqMonteCarlo, SpecQuantizerPrefersTheSolvedAlphaAtThreeAndFourBits) {
  for (Prior prior : kPriors) {
    const std::vector<float> samples = sample_prior(prior, kSamples, 1.0, kSeed);
    for (int bits : {3, 4}) {
      const double alpha = optimal_alpha(prior, bits);
      const double at_optimum = empirical_mse(samples, -alpha, alpha, bits);
      EXPECT_LT(at_optimum, empirical_mse(samples, -0.9 * alpha, 0.9 * alpha, bits)) << "bits " << bits;
      EXPECT_LT(at_optimum, empirical_mse(samples, -1.1 * alpha, 1.1 * alpha, bits)) << "bits " << bits;
    }
  }
}

TEST(AciqMonteCarlo, EmpiricalOptimumLiesWithinTenPercentOfTheSolvedAlpha) {
  // At 2 bits the affine quantizer's grid (2^M - 1 steps, rounded zero point: levels -4/3, -2/3, 0, 2/3 of alpha)
  // is asymmetric and moves the empirical optimum a few percent below alpha*; it stays close.
  for (Prior prior : kPriors) {
    const std::vector<float> samples = sample_prior(prior, kSamples, 1.0, kSeed + 1);
    for (int bits : {2, 3, 4}) {
      const double alpha = optimal_alpha(prior, bits);
      double best_factor = 0.0;
      double best_mse = INFINITY;
      for (double factor = 0.70; factor <= 1.30 + 1e-9; factor += 0.02) {
        const double mse = empirical_mse(samples, -factor * alpha, factor * alpha, bits);
        if (mse < best_mse) {
          best_mse = mse;
          best_factor = factor;
        }
      }
      EXPECT_NEAR(best_factor, 1.0, 0.10) << "bits " << bits;
    }
  }
}

TEST(AciqMonteCarlo, ExpectedMseMatchesSamplesOnceBinsAreFine) {
  // The quantization term assumes a flat density inside a bin: accurate at 6 bits, an underestimate at 2 that
  // shrinks as the bins get finer.
  for (Prior prior : kPriors) {
    const std::vector<float> samples = sample_prior(prior, 1000000, 1.0, kSeed + 2);
    const double alpha6 = optimal_alpha(prior, 6);
    const double expected6 = expected_mse(prior, alpha6, 6);
    EXPECT_NEAR(model_quantizer_mse(samples, alpha6, 6) / expected6, 1.0, 0.05);
    EXPECT_NEAR(empirical_mse(samples, -alpha6, alpha6, 6) / expected6, 1.0, 0.05);
    double previous_gap = INFINITY;
    for (int bits : {2, 4, 6}) {
      const double alpha = optimal_alpha(prior, bits);
      const double gap = std::abs(model_quantizer_mse(samples, alpha, bits) / expected_mse(prior, alpha, bits) - 1.0);
      EXPECT_LT(gap, previous_gap) << "bits " << bits;
      previous_gap = gap;
    }
  }
}

TEST(AciqMonteCarlo, ScaleOfThePriorScalesAlpha) {
  // Data with b = 0.25: the data-unit alpha b * alpha* beats a unit-scale alpha used as if b were 1.
  const double b = 0.25;
  const std::vector<float> samples = sample_prior(Prior::kLaplace, kSamples, b, kSeed + 3);
  const double alpha = optimal_alpha(Prior::kLaplace, 4);
  EXPECT_LT(empirical_mse(samples, -b * alpha, b * alpha, 4), empirical_mse(samples, -alpha, alpha, 4));
  EXPECT_NEAR(empirical_mse(samples, -b * alpha, b * alpha, 4) / (b * b),
              empirical_mse(sample_prior(Prior::kLaplace, kSamples, 1.0, kSeed + 3), -alpha, alpha, 4), 1e-3);
}

}  // namespace
}  // namespace quantsim
