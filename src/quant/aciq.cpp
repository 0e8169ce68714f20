// ACIQ optimal clipping: closed-form expected MSE and a bisection on its derivative. See aciq.h for the model.
#include "quantsim/quant/aciq.h"

#include <array>
#include <cmath>
#include <string>

#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

// The half-distribution variant needs the solution for kMaxAciqBits + 1.
constexpr int kMaxSolvedBits = kMaxAciqBits + 1;

const double kInvSqrt2 = 1.0 / std::sqrt(2.0);
const double kInvSqrt2Pi = 1.0 / std::sqrt(2.0 * M_PI);

void check_bits(int bits) {
  if (bits < kMinAciqBits || bits > kMaxAciqBits) {
    throw UserError("ACIQ: bit width must be in " + std::to_string(kMinAciqBits) + ".." + std::to_string(kMaxAciqBits) +
                    ", got " + std::to_string(bits));
  }
}

// 3 * 4^bits, the denominator of the quantization term.
double quantization_denominator(int bits) { return 3.0 * std::ldexp(1.0, 2 * bits); }

double standard_normal_pdf(double x) { return kInvSqrt2Pi * std::exp(-0.5 * x * x); }

// P(X > x) for X ~ N(0, 1).
double standard_normal_tail(double x) { return 0.5 * std::erfc(x * kInvSqrt2); }

// d/d alpha of the clipping term, which is -2 E[(|X| - alpha) ; |X| > alpha] for any symmetric prior.
double clipping_mse_derivative(Prior prior, double alpha) {
  if (prior == Prior::kLaplace) return -2.0 * std::exp(-alpha);
  // 2 * integral_alpha^inf (x - alpha) phi(x) dx = 2 (phi(alpha) - alpha Q(alpha)), times -2.
  return -4.0 * (standard_normal_pdf(alpha) - alpha * standard_normal_tail(alpha));
}

double expected_mse_derivative(Prior prior, double alpha, int bits) {
  return clipping_mse_derivative(prior, alpha) + 2.0 * alpha / quantization_denominator(bits);
}

// The expected MSE is strictly convex in alpha (the clipping term's second derivative is 2 P(|X| > alpha) >= 0,
// the quantization term's is positive), and its derivative is negative at alpha = 0 and positive for large alpha.
// So the minimizer is the derivative's single root, which bisection finds without any starting guess.
double solve_optimal_alpha(Prior prior, int bits) {
  double lo = 0.0;
  double hi = 1.0;
  while (expected_mse_derivative(prior, hi, bits) < 0.0) hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (expected_mse_derivative(prior, mid, bits) < 0.0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

using AlphaTable = std::array<double, kMaxSolvedBits + 1>;  // indexed by bits; entry 0 unused

AlphaTable solve_all(Prior prior) {
  AlphaTable table{};
  for (int bits = 1; bits <= kMaxSolvedBits; ++bits) table[bits] = solve_optimal_alpha(prior, bits);
  return table;
}

// Solved once per prior on first use (thread-safe static initialization); a few microseconds in all.
double cached_optimal_alpha(Prior prior, int bits) {
  static const AlphaTable laplace = solve_all(Prior::kLaplace);
  static const AlphaTable gauss = solve_all(Prior::kGauss);
  return (prior == Prior::kLaplace ? laplace : gauss)[bits];
}

}  // namespace

double expected_clipping_mse(Prior prior, double alpha) {
  if (prior == Prior::kLaplace) {
    // 2 * integral_alpha^inf (x - alpha)^2 exp(-x) / 2 dx = 2 exp(-alpha): both tails of the two-sided density.
    return 2.0 * std::exp(-alpha);
  }
  // 2 * integral_alpha^inf (x - alpha)^2 phi(x) dx, expanded with E[X^2; X > a] = a phi(a) + Q(a).
  return (1.0 + alpha * alpha) * std::erfc(alpha * kInvSqrt2) - 2.0 * alpha * standard_normal_pdf(alpha);
}

double expected_quantization_mse(double alpha, int bits) { return alpha * alpha / quantization_denominator(bits); }

double expected_mse(Prior prior, double alpha, int bits) {
  check_bits(bits);
  if (!(alpha >= 0.0)) throw UserError("ACIQ: alpha must be >= 0, got " + std::to_string(alpha));
  return expected_clipping_mse(prior, alpha) + expected_quantization_mse(alpha, bits);
}

double optimal_alpha(Prior prior, int bits) {
  check_bits(bits);
  return cached_optimal_alpha(prior, bits);
}

double optimal_alpha_unsigned(Prior prior, int bits) {
  check_bits(bits);
  return cached_optimal_alpha(prior, bits + 1);
}

}  // namespace quantsim
