// GPFQ on a single layer given its inputs (docs/QUANTIZATION.md, GPFQ): the blocked algorithm against the paper's
// loop, the alphabet, and the error guarantees that make it worth having.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "quantsim/quant/gpfq.h"
#include "quantsim/quant/gpfq_layer.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

// The loop of the paper, literally, one input column at a time over all neurons of each group.
at::Tensor literal_gpfq(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& w,
                        const GpfqAlphabet& alphabet) {
  at::Tensor q = at::zeros_like(w);
  for (int64_t g = 0; g < w.size(0); ++g) {
    at::Tensor u = at::zeros({x.size(1), w.size(1)}, x.options());
    const GpfqAlphabet group{alphabet.step.narrow(0, g, 1), alphabet.half_levels};
    for (int64_t t = 0; t < w.size(2); ++t) {
      const at::Tensor x_t = x[g].select(1, t), x_tilde_t = x_tilde[g].select(1, t), w_t = w[g].select(1, t);
      u += at::outer(x_t, w_t);
      const double norm = x_tilde_t.dot(x_tilde_t).item<double>();
      const at::Tensor target = norm > 0 ? at::mv(u.t(), x_tilde_t) / norm : w_t;
      const at::Tensor q_t = gpfq_round(target.unsqueeze(0), group).squeeze(0);
      u -= at::outer(x_tilde_t, q_t);
      q[g].select(1, t).copy_(q_t);
    }
  }
  return q;
}

// Samples lying near a `rank`-dimensional subspace of R^n, as layer inputs of a trained network do: what makes
// fitting the calibration samples carry over to new ones.
struct LowRankSource {
  at::Tensor basis;  // [rank, n]
  at::Tensor draw(int64_t m) const {
    return at::matmul(at::randn({m, basis.size(0)}, basis.options()), basis) / std::sqrt(basis.size(0)) +
           0.01 * at::randn({m, basis.size(1)}, basis.options());
  }
};

Layer linear_layer(const at::Tensor& weight) {
  Layer layer;
  layer.kind = LayerKind::kLinear;
  layer.op = "aten::linear";
  layer.name = "fc";
  layer.original_weight = weight;
  return layer;
}

double relative_error(const at::Tensor& x, const at::Tensor& w, const at::Tensor& q) {
  const at::Tensor exact = at::matmul(x, w.t());
  return ((exact - at::matmul(x, q.t())).norm() / exact.norm()).item<double>();
}

// Held-out relative output errors of GPFQ and of the default round-to-nearest on one random linear layer.
struct Errors {
  double gpfq = 0.0;
  double rtn = 0.0;
};

Errors linear_layer_errors(int64_t n, int bits, uint64_t seed) {
  at::manual_seed(seed);
  const LowRankSource source{at::randn({32, n})};
  const at::Tensor w = at::randn({32, n});
  const at::Tensor x = source.draw(256), held_out = source.draw(1000);
  const Layer layer = linear_layer(w);
  GpfqLayerOptions options;
  options.bits = bits;
  const at::Tensor q = gpfq_layer_weight(layer, x.unsqueeze(0), x.unsqueeze(0), options).weight;
  WeightQuantOptions rtn;
  rtn.bits = bits;
  rtn.first_last_bits = bits;
  return {relative_error(held_out, w, q), relative_error(held_out, w, quantize_layer_weight(layer, rtn).weight)};
}

TEST(Gpfq, BlockedAlgorithmEqualsThePapersLoop) {
  at::manual_seed(1);
  // Two groups, 300 inputs (more than two blocks of columns), X~ a perturbed X, one column of X~ all zero.
  const at::Tensor x = at::randn({2, 400, 300}, at::kDouble);
  at::Tensor x_tilde = x + 0.1 * at::randn_like(x);
  x_tilde.select(2, 17).zero_();
  const at::Tensor w = at::randn({2, 12, 300}, at::kDouble);
  for (int bits : {2, 4}) {
    const GpfqAlphabet alphabet = gpfq_alphabet(w, bits, 1.16, /*per_neuron=*/false);
    const at::Tensor literal = literal_gpfq(x, x_tilde, w, alphabet);
    EXPECT_FALSE(at::equal(literal, gpfq_round(w, alphabet))) << "GPFQ must differ from rounding to nearest";
    for (int64_t block : {0, 7, 128}) {  // 0: the default
      EXPECT_TRUE(at::equal(gpfq_quantize(x, x_tilde, w, alphabet, block), literal)) << bits << " bits, " << block;
    }
  }
}

// The greedy walk is chaotic: one decision flipped by rounding changes the path after it, so float32 and float64
// give different weights. What must agree is how well they do.
TEST(Gpfq, FloatPrecisionIsAsGoodAsDouble) {
  at::manual_seed(2);
  const at::Tensor x = LowRankSource{at::randn({32, 200}, at::kDouble)}.draw(2000).unsqueeze(0);
  const at::Tensor w = at::randn({1, 32, 200}, at::kDouble);
  const GpfqAlphabet alphabet = gpfq_alphabet(w, 4, 1.16, false);
  const at::Tensor in_double = gpfq_quantize(x, x, w, alphabet);
  const GpfqAlphabet alphabet32{alphabet.step.to(at::kFloat), alphabet.half_levels};
  const at::Tensor in_float = gpfq_quantize(x.to(at::kFloat), x.to(at::kFloat), w.to(at::kFloat), alphabet32);
  const double error_double = relative_error(x[0], w[0], in_double[0]);
  const double error_float = relative_error(x[0], w[0], in_float[0].to(at::kDouble));
  EXPECT_NEAR(error_float, error_double, 0.03 * error_double);
  EXPECT_LT(error_double, 0.5 * relative_error(x[0], w[0], gpfq_round(w, alphabet)[0]));
}

TEST(Gpfq, AlphabetFollowsTheDefinition) {
  at::manual_seed(3);
  const at::Tensor w = at::randn({3, 5, 7});
  const at::Tensor max_abs = w.abs().reshape({15, 7}).amax(1);
  const GpfqAlphabet shared = gpfq_alphabet(w, 3, 1.16, false);
  EXPECT_EQ(shared.half_levels, 4);
  EXPECT_TRUE(at::allclose(shared.step, at::full({3, 5}, 1.16 * max_abs.mean().item<double>() / 4), 1e-6));
  const GpfqAlphabet per_neuron = gpfq_alphabet(w, 5, 2.0, true);
  EXPECT_EQ(per_neuron.half_levels, 16);
  EXPECT_TRUE(at::allclose(per_neuron.step, (2.0 * max_abs / 16).reshape({3, 5}), 1e-6));
}

TEST(Gpfq, EveryWeightLiesOnTheAlphabet) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({2, 300, 50}).abs();  // post-ReLU-like inputs
  const at::Tensor w = 3.0 * at::randn({2, 16, 50});
  for (bool per_neuron : {false, true}) {
    for (int bits : {1, 3, 8}) {
      const GpfqAlphabet alphabet = gpfq_alphabet(w, bits, 0.5, per_neuron);  // small scale: the ends clamp
      const at::Tensor levels = gpfq_quantize(x, x, w, alphabet) / alphabet.step.unsqueeze(2);
      EXPECT_TRUE(at::allclose(levels, at::round(levels), 0.0, 1e-4)) << bits << " bits";
      EXPECT_LE(levels.abs().max().item<double>(), alphabet.half_levels + 1e-4);
      EXPECT_NEAR(levels.abs().max().item<double>(), alphabet.half_levels, 1e-4) << "the clamped ends are used";
    }
  }
}

TEST(Gpfq, ZeroStepGivesZeroWeights) {
  const at::Tensor w = at::zeros({1, 2, 3});
  const at::Tensor x = at::randn({1, 10, 3});
  const at::Tensor q = gpfq_quantize(x, x, w, gpfq_alphabet(w, 4, 1.16, false));
  EXPECT_TRUE(at::equal(q, w));
}

TEST(Gpfq, BeatsRoundToNearestOnHeldOutInputs) {
  for (int bits : {3, 4}) {
    for (uint64_t seed : {10, 11, 12}) {
      const Errors errors = linear_layer_errors(256, bits, seed);
      EXPECT_LT(errors.gpfq, 0.8 * errors.rtn) << bits << " bits, seed " << seed;
    }
  }
}

TEST(Gpfq, RelativeErrorFallsAsTheLayerWidens) {
  for (int bits : {3, 4}) {
    std::vector<double> mean_error;
    for (int64_t n : {64, 256, 1024}) {
      double sum = 0.0;
      for (uint64_t seed : {20, 21, 22}) sum += linear_layer_errors(n, bits, seed).gpfq;
      mean_error.push_back(sum / 3);
    }
    EXPECT_LT(mean_error[1], 0.85 * mean_error[0]) << bits << " bits: 64 -> 256 inputs";
    EXPECT_LT(mean_error[2], 0.85 * mean_error[1]) << bits << " bits: 256 -> 1024 inputs";
  }
}

TEST(Gpfq, SameInputsGiveTheSameWeights) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({1, 500, 160});
  const at::Tensor w = at::randn({1, 24, 160});
  const GpfqAlphabet alphabet = gpfq_alphabet(w, 3, 1.16, false);
  EXPECT_TRUE(at::equal(gpfq_quantize(x, x, w, alphabet), gpfq_quantize(x.clone(), x.clone(), w, alphabet)));
}

}  // namespace
}  // namespace quantsim
