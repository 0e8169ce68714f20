// Site bits, ranges and bit allocation of docs/QUANTIZATION.md, sections 2-4 as the passes apply them.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/quant/aciq.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/weight_quantization.h"

using namespace quantsim;

namespace {

TensorStats stats(double min, double max, double mean, double std, double b) {
  TensorStats s;
  s.min = s.min_batch_mean = min;
  s.max = s.max_batch_mean = max;
  s.mean = mean;
  s.std = std;
  s.b = b;
  return s;
}

ChannelwiseStats per_tensor_only(const TensorStats& s) { return {s, {s}, std::nullopt}; }

}  // namespace

TEST(SiteBits, PoolsLogitsAndFloatFollowTheSpec) {
  ActivationQuantOptions options;
  options.bits = 4;
  options.first_last_bits = 8;
  Site conv, pool, logits, first_input;
  pool.kind = SiteKind::kPoolOutput;
  logits.is_logits = true;
  first_input.kind = SiteKind::kLayerInput;
  first_input.first_last = true;
  EXPECT_EQ(site_bits(conv, options), 4);
  EXPECT_EQ(site_bits(pool, options), 8);
  EXPECT_EQ(site_bits(logits, options), 8);
  EXPECT_EQ(site_bits(first_input, options), 8);
  options.first_last_bits = 0;
  EXPECT_EQ(site_bits(logits, options), 0);
  options.bits = 0;  // --qtype f32: everything off, pools included
  EXPECT_EQ(site_bits(pool, options), 0);
  EXPECT_EQ(site_bits(conv, options), 0);
}

TEST(QuantParams, SignedSiteWithoutClippingUsesMinMax) {
  TensorQuantRequest request;
  request.bits = 4;
  const QuantParams p = compute_quant_params(request, per_tensor_only(stats(-3, 5, 0.5, 1, 0.8)), nullptr);
  EXPECT_FALSE(p.per_channel);
  EXPECT_DOUBLE_EQ(p.range.lo, -3);
  EXPECT_DOUBLE_EQ(p.range.hi, 5);
}

TEST(QuantParams, UnsignedLaplaceSiteUsesPreReluStatsAndTheAlphaOfOneMoreBit) {
  TensorQuantRequest request;
  request.bits = 4;
  request.signedness = Signedness::kUnsigned;
  request.clipping.kind = Clipping::Kind::kLaplace;
  const ChannelwiseStats post = per_tensor_only(stats(0, 50, 1.0, 2.0, 1.5));
  const ChannelwiseStats pre = per_tensor_only(stats(-20, 50, 0.25, 3.0, 2.0));
  const QuantParams p = compute_quant_params(request, post, &pre);
  EXPECT_DOUBLE_EQ(p.range.lo, 0.0);
  EXPECT_NEAR(p.range.hi, 0.25 + optimal_alpha(Prior::kLaplace, 5) * 2.0, 1e-9);
}

TEST(QuantParams, BitAllocationOnlyPerChannelAndAtFourBitsOrFewer) {
  TensorQuantRequest request;
  request.per_channel = true;
  request.bit_allocation.enabled = true;
  ChannelwiseStats value;
  for (double scale : {0.1, 1.0, 10.0, 100.0}) value.per_channel.push_back(stats(-scale, scale, 0, scale, scale));
  value.per_tensor = value.per_channel.back();
  request.bits = 4;
  const QuantParams allocated = compute_quant_params(request, value, nullptr);
  EXPECT_NE(allocated.channel_bits.front(), allocated.channel_bits.back());
  double mean = 0;
  for (int b : allocated.channel_bits) mean += b / 4.0;
  EXPECT_NEAR(mean, 4.0, 0.26);  // 4 channels: the mean moves in steps of 0.25
  request.bits = 8;
  const QuantParams uniform = compute_quant_params(request, value, nullptr);
  for (int b : uniform.channel_bits) EXPECT_EQ(b, 8);
}

TEST(WeightQuantization, FloatLayersAreLeftAloneAndFirstLastKeepTheirBits) {
  Layer layer;
  layer.original_weight = at::randn({4, 3, 3, 3});
  WeightQuantOptions options;
  options.bits = 0;
  EXPECT_TRUE(quantize_layer_weight(layer, options).weight.equal(layer.original_weight));
  options.bits = 2;
  layer.first = true;
  EXPECT_EQ(quantize_layer_weight(layer, options).bits, 8);
}

TEST(WeightQuantization, PerChannelEightBitsErrorsBelowHalfAStepAndBiasCorrectionKeepsMeans) {
  at::manual_seed(1);
  Layer layer;
  layer.original_weight = at::randn({6, 4, 3, 3}) * at::linspace(0.1, 3.0, 6).reshape({6, 1, 1, 1});
  WeightQuantOptions options;
  options.bits = 8;
  options.per_channel = true;
  const QuantizedWeight q = quantize_layer_weight(layer, options);
  for (int64_t c = 0; c < 6; ++c) {
    const at::Tensor w = layer.original_weight[c];
    const double step = (w.max().item<double>() - std::min(0.0, w.min().item<double>())) / 255.0;
    EXPECT_LE((q.weight[c] - w).abs().max().item<double>(), step / 2 + 1e-6);
  }
  options.bits = 3;
  options.corrections.bias = true;
  const QuantizedWeight corrected = quantize_layer_weight(layer, options);
  EXPECT_TRUE(at::allclose(corrected.weight.mean({1, 2, 3}), layer.original_weight.mean({1, 2, 3}), 1e-5, 1e-6));
}

TEST(ActivationQuantizer, StaticRangesComeFromTheStatisticsFile) {
  std::vector<Site> sites(1);
  sites[0].name = "conv";
  Statistics statistics;
  statistics.sites.push_back({"conv", {2, 3, 3}, per_tensor_only(stats(-1.0, 2.0, 0, 1, 1))});
  ActivationQuantOptions options;
  options.bits = 3;
  ActivationQuantizer quantizer(sites, options, &statistics);
  const at::Tensor x = at::randn({2, 2, 3, 3}) * 3;
  EXPECT_TRUE(quantizer.on_site(0, x).equal(fake_quant_per_tensor(x, -1.0f, 2.0f, 3)));
}

TEST(ActivationQuantizer, DynamicRangesComeFromTheBatch) {
  std::vector<Site> sites(1);
  sites[0].name = "conv";
  ActivationQuantOptions options;
  options.bits = 4;
  ActivationQuantizer quantizer(sites, options, nullptr);
  const at::Tensor x = at::randn({2, 2, 3, 3});
  const at::Tensor expected = fake_quant_per_tensor(x, x.min().item<float>(), x.max().item<float>(), 4);
  EXPECT_TRUE(quantizer.on_site(0, x).equal(expected));
}

// Static per-channel ranges: the quantizer table is computed and placed on the tensor's device on the first batch
// only; every later batch reuses that very tensor (no recomputation, no copy), with the same result as the lo/hi/bits
// op.
TEST(ActivationQuantizer, StaticPerChannelParamsAreComputedOnceAndReused) {
  std::vector<Site> sites(1);
  sites[0].name = "conv";
  Statistics statistics;
  statistics.sites.push_back(
      {"conv",
       {2, 3, 3},
       {stats(-1.0, 2.0, 0, 1, 1), {stats(-1.0, 1.0, 0, 1, 1), stats(-0.5, 2.0, 0, 1, 1)}, std::nullopt}});
  ActivationQuantOptions options;
  options.bits = 4;
  options.per_channel = true;
  ActivationQuantizer quantizer(sites, options, &statistics);
  EXPECT_FALSE(quantizer.states()[0].tensors.channel_params.defined());

  const at::Tensor first = at::randn({2, 2, 3, 3}) * 3;
  const at::Tensor y1 = quantizer.on_site(0, first);
  const ActivationQuantizer::SiteState& state = quantizer.states()[0];
  ASSERT_TRUE(state.decided);
  ASSERT_TRUE(state.params.per_channel);
  const at::Tensor table = state.tensors.channel_params;
  ASSERT_TRUE(table.defined());
  EXPECT_EQ(table.sizes(), (std::vector<int64_t>{3, 2}));
  const auto expected = [&](const at::Tensor& x) {
    return fake_quant_per_channel(
        x, at::tensor(state.params.lo), at::tensor(state.params.hi),
        at::tensor(std::vector<int32_t>{state.params.channel_bits.begin(), state.params.channel_bits.end()}), 1);
  };
  EXPECT_TRUE(y1.equal(expected(first)));

  for (int batch = 0; batch < 3; ++batch) {
    const at::Tensor x = at::randn({3, 2, 3, 3}) * 2;
    EXPECT_TRUE(quantizer.on_site(0, x).equal(expected(x)));
    EXPECT_TRUE(quantizer.states()[0].tensors.channel_params.is_same(table)) << "batch " << batch;
  }
}
