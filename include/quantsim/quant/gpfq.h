#pragma once
// GPFQ, the greedy path-following quantizer of Zhang, Zhou and Saab (2022), for one layer given its calibration
// inputs: X, what the layer reads in the FP32 network, and X~, what it reads in the network whose earlier layers are
// already quantized. Every neuron (row w of the weight) walks its weights in input order, keeping the running
// error U = X_{<=t} w_{<=t} - X~_{<t} q_{<t} small:
//
//   U += w_t X_t;   q_t = Q(<X~_t, U> / ||X~_t||^2);   U -= q_t X~_t
//
// with Q rounding to the nearest element of the alphabet delta * {-K, ..., K}, K = 2^(bits-1) (its ends clamp).
// A column with ||X~_t|| == 0 carries no information about the error: q_t = Q(w_t), round to nearest.
// Definition and choices: docs/QUANTIZATION.md, section 12.
//
// Shapes carry a leading group axis so that grouped (and depthwise) convolutions run all groups at once, each on
// its own input channels: x, x_tilde [G, m, n] (m samples, n inputs per group), weight [G, o, n] (o neurons per
// group). A linear layer is G = 1.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace quantsim {

struct GpfqAlphabet {
  at::Tensor step;          // delta per neuron, [G, o]; one value repeated unless the alphabet is per neuron
  int64_t half_levels = 1;  // K: the alphabet is step * {-K, ..., K}, 2K + 1 levels
};

// delta = scale * mean over all neurons of max|w| / K (per_neuron: scale * max|w| / K of each neuron itself),
// K = 2^(bits-1); bits in 1..16. `weight` is [G, o, n].
GpfqAlphabet gpfq_alphabet(const at::Tensor& weight, int bits, double scale, bool per_neuron);

// Q: the element of the alphabet nearest to each value (half-way cases to the even multiple), clamped to
// [-K delta, K delta]. `values` is [G, o] or [G, o, n]; a neuron whose delta is 0 gets 0.
at::Tensor gpfq_round(const at::Tensor& values, const GpfqAlphabet& alphabet);

// The GPFQ weight [G, o, n], in the dtype of `weight`, every entry on the alphabet. Computed in blocks of
// `block_columns` input columns with matrix products (see gpfq.cpp; 0: the default, which bench/bench_gpfq
// measures); equal, up to floating-point rounding, to the loop above whatever the block size.
at::Tensor gpfq_quantize(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight,
                         const GpfqAlphabet& alphabet, int64_t block_columns = 0);

}  // namespace quantsim
