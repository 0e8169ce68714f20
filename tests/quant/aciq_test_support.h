#pragma once
// Test-only helpers for the ACIQ tests: seeded samples of the priors and a local scalar copy of the SPEC section 1
// quantizer, so that these tests check the clipping maths independently of the fake-quant kernels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quantsim/config.h"

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

// SPEC section 1, float32 in the order written, round half to even.
inline float spec_fake_quant(float x, float lo, float hi, int bits) {
  const float lo0 = std::min(lo, 0.0f);
  const float hi0 = std::max(hi, 0.0f);
  if (hi0 - lo0 == 0.0f) return x;
  const float qmax = static_cast<float>((1 << bits) - 1);
  const float scale = (hi0 - lo0) / qmax;
  const float zero_point = std::nearbyint(-lo0 / scale);
  const float q = std::clamp(std::nearbyint(x / scale) + zero_point, 0.0f, qmax);
  return (q - zero_point) * scale;
}

// Mean squared error of quantizing `samples` with the SPEC quantizer on [lo, hi].
inline double empirical_mse(const std::vector<float>& samples, double lo, double hi, int bits) {
  double sum = 0.0;
  for (float x : samples) {
    const double error = double{spec_fake_quant(x, static_cast<float>(lo), static_cast<float>(hi), bits)} - x;
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
