// How --layer-report condenses a tensor's quantization parameters: range, bit histogram, alpha and clip fraction.
#include <gtest/gtest.h>

#include "quantsim/quant/aciq.h"
#include "quantsim/quant/quant_params_summary.h"

namespace quantsim {
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

TEST(QuantParamsSummary, PerChannelRangeAndBitHistogram) {
  QuantParams params;
  params.per_channel = true;
  params.bits = 4;
  params.lo = {-1.0f, -0.5f, -2.0f};
  params.hi = {1.0f, 3.0f, 0.5f};
  params.channel_bits = {4, 3, 4};
  const QuantParamsSummary s = summarize_quant_params(params);
  EXPECT_TRUE(s.per_channel);
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(s.range_min, -2.0);
  EXPECT_EQ(s.range_max, 3.0);
  EXPECT_DOUBLE_EQ(s.mean_width, (2.0 + 3.5 + 2.5) / 3);
  EXPECT_DOUBLE_EQ(s.bits_mean, 11.0 / 3);
  EXPECT_EQ(s.bits_histogram, (std::map<int, double>{{3, 1.0}, {4, 2.0}}));
  EXPECT_FALSE(s.alpha.has_value());
}

TEST(QuantParamsSummary, LaplaceClippingOfASignedTensor) {
  const ChannelwiseStats value{stats(-10.0, 10.0, 0.0, 1.0, 0.5), {}, std::nullopt};
  TensorQuantRequest request;
  request.bits = 4;
  request.clipping.kind = Clipping::Kind::kLaplace;
  const QuantParams params = compute_quant_params(request, value, nullptr);
  QuantParamsSummary s = summarize_quant_params(params);
  summarize_clipping(s, request, params, value, nullptr);
  const double alpha = 0.5 * optimal_alpha(Prior::kLaplace, 4);
  ASSERT_TRUE(s.alpha.has_value());
  EXPECT_DOUBLE_EQ(*s.alpha, alpha);
  ASSERT_TRUE(s.clip_fraction.has_value());
  EXPECT_NEAR(*s.clip_fraction, 2.0 * alpha / 20.0, 1e-12);
  EXPECT_EQ(s.bits_histogram, (std::map<int, double>{{4, 1.0}}));
}

TEST(QuantParamsSummary, UnsignedSitesTakeAlphaFromThePreActivationPrior) {
  const ChannelwiseStats post{stats(0.0, 8.0, 0.5, 0.7, 0.6), {}, std::nullopt};
  const ChannelwiseStats pre{stats(-8.0, 8.0, 0.1, 2.0, 1.5), {}, std::nullopt};
  TensorQuantRequest request;
  request.bits = 4;
  request.signedness = Signedness::kUnsigned;
  request.clipping.kind = Clipping::Kind::kGauss;
  const QuantParams params = compute_quant_params(request, post, &pre);
  QuantParamsSummary s = summarize_quant_params(params);
  summarize_clipping(s, request, params, post, &pre);
  ASSERT_TRUE(s.alpha.has_value());
  EXPECT_DOUBLE_EQ(*s.alpha, 2.0 * optimal_alpha_unsigned(Prior::kGauss, 4));
  EXPECT_NEAR(*s.clip_fraction, (0.1 + *s.alpha) / 8.0, 1e-12);  // unclipped: [0, max_post]
}

TEST(QuantParamsSummary, NoClippingLeavesAlphaOut) {
  const ChannelwiseStats value{stats(-1.0, 2.0, 0.0, 1.0, 0.5), {}, std::nullopt};
  TensorQuantRequest request;
  const QuantParams params = compute_quant_params(request, value, nullptr);
  QuantParamsSummary s = summarize_quant_params(params);
  summarize_clipping(s, request, params, value, nullptr);
  EXPECT_FALSE(s.alpha.has_value());
  EXPECT_FALSE(s.clip_fraction.has_value());
  EXPECT_EQ(s.range_min, -1.0);
  EXPECT_EQ(s.range_max, 2.0);
}

TEST(QuantParamsSummary, MeanOverBatchesAveragesEveryField) {
  QuantParamsSummary a, b;
  a.channels = b.channels = 2;
  a.range_min = -1.0, b.range_min = -3.0;
  a.bits_histogram = {{3, 2.0}};
  b.bits_histogram = {{3, 1.0}, {5, 1.0}};
  a.alpha = 1.0;
  b.alpha = 2.0;
  QuantParamsSummaryMean mean;
  EXPECT_TRUE(mean.empty());
  mean.add(a);
  EXPECT_EQ(mean.mean().range_min, -1.0);
  mean.add(b);
  const QuantParamsSummary m = mean.mean();
  EXPECT_EQ(m.range_min, -2.0);
  EXPECT_EQ(m.bits_histogram, (std::map<int, double>{{3, 1.5}, {5, 0.5}}));
  EXPECT_EQ(*m.alpha, 1.5);
  EXPECT_FALSE(m.clip_fraction.has_value());
}

}  // namespace
}  // namespace quantsim
