#pragma once
// Test-only helpers for the ACIQ tests: seeded samples of the priors and a local scalar copy of the affine
// quantizer (docs/QUANTIZATION.md, section 1), so that these tests check the clipping maths independently of the
// fake-quant kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quantsim/app/config.h"
#include "reference/fake_quant_reference.h"

namespace quantsim::testing {

// n samples of Laplace(0, scale) (inverse CDF) or Gauss(0, scale), from a fixed seed.
inline std::vector<float> sample_prior(Prior prior, size_t n, double scale, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> uniform(-0.5, 0.5);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> samples(n);
  for (float& x : samples) {
    if (prior == Prior::kGauss) {
      x = static_cast<float>(normal(engine));
    } else {
      const double u = uniform(engine);
      x = static_cast<float>(-scale * std::copysign(std::log1p(-2.0 * std::abs(u)), u));
    }
  }
  return samples;
}

// Mean squared error of quantizing `samples` with the affine quantizer on [lo, hi].
inline double empirical_mse(const std::vector<float>& samples, double lo, double hi, int bits) {
  double sum = 0.0;
  for (float x : samples) {
    const double error = double{reference::fake_quant(x, static_cast<float>(lo), static_cast<float>(hi), bits)} - x;
    sum += error * error;
  }
  return sum / static_cast<double>(samples.size());
}

// The quantizer the ACIQ error model describes: clip to [-alpha, alpha], 2^bits equal bins, bin centres.
inline double model_quantizer_mse(const std::vector<float>& samples, double alpha, int bits) {
  const double bins = std::ldexp(1.0, bits);
  const double width = 2.0 * alpha / bins;
  double sum = 0.0;
  for (float x : samples) {
    const double clipped = std::clamp(double{x}, -alpha, alpha);
    const double bin = std::clamp(std::floor((clipped + alpha) / width), 0.0, bins - 1.0);
    const double error = -alpha + (bin + 0.5) * width - x;
    sum += error * error;
  }
  return sum / static_cast<double>(samples.size());
}

}  // namespace quantsim::testing
