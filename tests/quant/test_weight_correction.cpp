// Weight mean (-bcw) and variance (-vcw) corrections (docs/QUANTIZATION.md, section 5).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "quantsim/quant/weight_correction.h"

namespace quantsim {
namespace {

// A conv weight [out, in, kh, kw] whose channels have different means and spreads; channel 0 is so narrow
// (0.1 +- 0.04 at most) that the coarse quantizer below maps all of it to 0.
at::Tensor make_weight() {
  at::manual_seed(7);
  const at::Tensor base = at::randn({8, 4, 3, 3});
  const at::Tensor scale = at::linspace(0.05, 2.0, 8).reshape({8, 1, 1, 1});
  const at::Tensor shift = at::linspace(-0.3, 0.4, 8).reshape({8, 1, 1, 1});
  at::Tensor weight = base * scale + shift;
  weight[0] = 0.1 + 0.01 * at::clamp(base[0], -4.0, 4.0);
  return weight;
}

// Coarse per-tensor quantization, which shifts channel means and changes their spread.
at::Tensor quantize_coarsely(const at::Tensor& weight) {
  const double step = 0.5;
  return at::round(weight / step) * step;
}

at::Tensor channel_means(const at::Tensor& w) { return w.reshape({w.size(0), -1}).to(at::kDouble).mean(1); }

at::Tensor channel_stds(const at::Tensor& w) {
  return w.reshape({w.size(0), -1}).to(at::kDouble).std(/*dim=*/{1}, /*unbiased=*/false);
}

// -bcw alone and -vcw alone.
at::Tensor bias_corrected(const at::Tensor& q, const at::Tensor& w) {
  return corrected_weight(q, w, WeightCorrections{/*variance=*/false, /*bias=*/true});
}
at::Tensor variance_corrected(const at::Tensor& q, const at::Tensor& w) {
  return corrected_weight(q, w, WeightCorrections{/*variance=*/true, /*bias=*/false});
}

TEST(WeightCorrection, QuantizationReallyChangesTheMoments) {  // else the tests below would prove nothing
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  EXPECT_GT((channel_means(q) - channel_means(w)).abs().max().item<double>(), 1e-3);
  EXPECT_GT((channel_stds(q) - channel_stds(w)).abs().max().item<double>(), 1e-2);
}

TEST(WeightCorrection, BiasCorrectionRestoresChannelMeans) {
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  const at::Tensor corrected = bias_corrected(q, w);
  EXPECT_EQ(corrected.scalar_type(), at::kFloat);
  EXPECT_EQ(corrected.sizes(), w.sizes());
  EXPECT_TRUE(at::allclose(channel_means(corrected), channel_means(w), /*rtol=*/0.0, /*atol=*/1e-6));
  // Only a per-channel shift: the spread is the quantized one.
  EXPECT_TRUE(at::allclose(channel_stds(corrected), channel_stds(q), 0.0, 1e-6));
}

TEST(WeightCorrection, VarianceCorrectionRestoresChannelStdAndKeepsTheQuantizedMean) {
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  const at::Tensor corrected = variance_corrected(q, w);
  // The coarse grid flattens the narrowest channels to one value: those must stay as they are.
  const at::Tensor constant = channel_stds(q) == 0;
  ASSERT_GT(constant.sum().item<int64_t>(), 0);
  ASSERT_LT(constant.sum().item<int64_t>(), w.size(0));
  const at::Tensor spread = constant.logical_not();
  EXPECT_TRUE(
      at::allclose(channel_stds(corrected).masked_select(spread), channel_stds(w).masked_select(spread), 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(channel_means(corrected), channel_means(q), 0.0, 1e-6));
  for (int64_t c = 0; c < w.size(0); ++c) {
    if (constant[c].item<bool>()) {
      EXPECT_TRUE(at::equal(corrected[c], q[c])) << "channel " << c;
    }
  }
}

TEST(WeightCorrection, BothRestoreMeanAndStd) {
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  const at::Tensor corrected = corrected_weight(q, w, WeightCorrections{/*variance=*/true, /*bias=*/true});
  EXPECT_TRUE(at::allclose(channel_means(corrected), channel_means(w), 0.0, 1e-6));
  const at::Tensor spread = channel_stds(q) > 0;
  EXPECT_TRUE(
      at::allclose(channel_stds(corrected).masked_select(spread), channel_stds(w).masked_select(spread), 1e-6, 1e-6));
  // Variance first, then bias: the same as composing the two by hand.
  EXPECT_TRUE(at::equal(corrected, bias_corrected(variance_corrected(q, w), w)));
}

TEST(WeightCorrection, NoCorrectionLeavesTheWeightAlone) {
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  EXPECT_TRUE(at::equal(corrected_weight(q, w, WeightCorrections{}), q));
}

TEST(WeightCorrection, WorksOnLinearWeights) {
  at::manual_seed(3);
  const at::Tensor w = at::randn({10, 32}) * 0.1 + 0.02;
  const at::Tensor q = at::round(w / 0.05) * 0.05;
  const at::Tensor corrected = bias_corrected(q, w);
  EXPECT_TRUE(at::allclose(channel_means(corrected), channel_means(w), 0.0, 1e-7));
}

TEST(WeightCorrection, RejectsMismatchedShapes) {
  EXPECT_THROW(bias_corrected(at::zeros({4, 3}), at::zeros({3, 4})), std::invalid_argument);
  EXPECT_THROW(variance_corrected(at::zeros({}), at::zeros({})), std::invalid_argument);
}

TEST(WeightCorrection, StoredStepsReplayToTheSameWeightBitForBit) {  // what --export relies on
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);
  for (const WeightCorrections corrections :
       {WeightCorrections{true, false}, WeightCorrections{false, true}, WeightCorrections{true, true}}) {
    const CorrectionSteps steps = correction_steps(q, w, corrections);
    EXPECT_EQ(steps.variance.has_value(), corrections.variance);
    EXPECT_EQ(steps.mean.has_value(), corrections.bias);
    const at::Tensor expected = corrected_weight(q, w, corrections);
    EXPECT_FALSE(at::equal(expected, q));
    EXPECT_TRUE(at::equal(apply_correction_steps(q, steps), expected));
  }
}

TEST(WeightCorrection, VarianceStepMarksConstantChannels) {
  const at::Tensor w = make_weight();
  const at::Tensor q = quantize_coarsely(w);  // channel 0 quantizes to one value
  const VarianceCorrection step = variance_correction(q, w);
  EXPECT_EQ(step.has_spread.sizes(), (std::vector<int64_t>{8, 1}));
  EXPECT_FALSE(step.has_spread[0][0].item<bool>());
  EXPECT_TRUE(step.has_spread.slice(0, 1).all().item<bool>());
}

}  // namespace
}  // namespace quantsim
