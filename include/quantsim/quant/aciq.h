#pragma once
// ACIQ (Banner, Nahshan, Soudry, NeurIPS 2019): the clipping value alpha that minimizes the expected mean squared
// error of "clip to [-alpha, alpha], then quantize uniformly with M bits" for a tensor with a Laplace(0, b) or
// Gaussian(0, sigma) prior (docs/QUANTIZATION.md, section 2).
//
// Everything here is at unit scale: alpha is in units of b (Laplace) or sigma (Gauss), and the MSE in units of
// b^2 or sigma^2. Multiply alpha by the tensor's b or sigma to get a clipping value in data units.
//
// Model (for the full, two-sided distribution):
//   expected_mse(alpha, M) = E[(|X| - alpha)^2 ; |X| > alpha]     clipping term, exact
//                          + alpha^2 / (3 * 4^M)                    quantization term: 2^M bins of width
//                                                                   Delta = 2 alpha / 2^M, uniform noise Delta^2/12
//   Laplace(0, 1):  clipping = 2 exp(-alpha)
//   Gauss(0, 1):    clipping = (1 + alpha^2) erfc(alpha / sqrt 2) - alpha sqrt(2 / pi) exp(-alpha^2 / 2)
// The quantization term assumes a flat density inside each bin; it underestimates the true error at low M
// (by roughly 10-40% at M = 2..4) and becomes accurate from about M = 5 on.
#include "quantsim/quant/choices.h"

namespace quantsim {

// Bit widths the solver accepts (docs/QUANTIZATION.md, section 1: M in 1..16).
constexpr int kMinAciqBits = 1;
constexpr int kMaxAciqBits = 16;

// The clipping part of the expected MSE at unit scale (alpha >= 0).
double expected_clipping_mse(Prior prior, double alpha);

// The quantization part of the expected MSE: alpha^2 / (3 * 4^bits).
double expected_quantization_mse(double alpha, int bits);

// Clipping plus quantization MSE at unit scale. Throws UserError when bits is outside 1..16 or alpha < 0.
double expected_mse(Prior prior, double alpha, int bits);

// The unrounded alpha minimizing expected_mse for a signed (two-sided) tensor quantized with `bits` bits.
// Solved numerically (not a table) to ~1e-12 and cached per (prior, bits). Throws UserError outside 1..16.
double optimal_alpha(Prior prior, int bits);

// Alpha for an unsigned (post-ReLU, half-distribution) tensor quantized with `bits` bits: the solution for
// bits + 1. Why: after ReLU half of the mass sits exactly at 0 (representable, no error) and the other half is one
// tail of the prior. Clipping then costs only one tail, half the two-sided term, and the range [0, alpha] split into
// 2^bits bins has Delta = alpha / 2^bits, with the uniform noise Delta^2/12 paid by half of the mass:
//   mse_half(alpha, M) = clipping(alpha) / 2 + alpha^2 / (24 * 4^M) = expected_mse(alpha, M + 1) / 2,
// so both have the same minimizer. For bits = 16 this is the solution for 17 bits.
double optimal_alpha_unsigned(Prior prior, int bits);

}  // namespace quantsim
