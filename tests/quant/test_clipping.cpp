// Clipping ranges of docs/QUANTIZATION.md, section 2 for signed and unsigned sites.
#include <gtest/gtest.h>

#include "quantsim/core/errors.h"
#include "quantsim/quant/aciq.h"
#include "quantsim/quant/clipping.h"
#include "quantsim/quant/quant_params.h"

namespace quantsim {
namespace {

Clipping clipping_of(Clipping::Kind kind, double n_std = 0.0) {
  Clipping clipping;
  clipping.kind = kind;
  clipping.n_std = n_std;
  return clipping;
}

RangeStats wide_stats() {
  RangeStats stats;
  stats.min = -100.0;
  stats.max = 120.0;
  stats.mean = 0.5;
  stats.std = 2.0;
  stats.b = 1.5;
  return stats;
}

TEST(Clipping, NoClippingUsesMinAndMax) {
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kNone), wide_stats(), 4);
  EXPECT_EQ(range.lo, -100.0);
  EXPECT_EQ(range.hi, 120.0);
}

TEST(Clipping, RangeStatsPickTheExtremesOfStatsKind) {
  TensorStats stats;
  stats.min = -9.0;
  stats.max = 8.0;
  stats.min_batch_mean = -3.0;
  stats.max_batch_mean = 2.0;
  stats.mean = 0.1;
  stats.std = 1.2;
  stats.b = 0.9;
  const RangeStats batch_mean = range_stats(stats, StatsKind::kMean);
  EXPECT_EQ(batch_mean.min, -3.0);
  EXPECT_EQ(batch_mean.max, 2.0);
  const RangeStats global = range_stats(stats, StatsKind::kMax);
  EXPECT_EQ(global.min, -9.0);
  EXPECT_EQ(global.max, 8.0);
  EXPECT_EQ(global.mean, 0.1);
  EXPECT_EQ(global.std, 1.2);
  EXPECT_EQ(global.b, 0.9);
}

TEST(Clipping, SignedLaplaceRangeIsCentredOnTheMean) {
  const RangeStats stats = wide_stats();
  const double alpha = stats.b * optimal_alpha(Prior::kLaplace, 4);
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kLaplace), stats, 4);
  EXPECT_DOUBLE_EQ(range.lo, stats.mean - alpha);
  EXPECT_DOUBLE_EQ(range.hi, stats.mean - alpha + 2.0 * alpha);
}

TEST(Clipping, SignedGaussRangeUsesSigma) {
  const RangeStats stats = wide_stats();
  const double alpha = stats.std * optimal_alpha(Prior::kGauss, 3);
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kGauss), stats, 3);
  EXPECT_DOUBLE_EQ(range.hi - range.lo, 2.0 * alpha);
  EXPECT_DOUBLE_EQ(range.lo, stats.mean - alpha);
}

TEST(Clipping, SignedRangeStopsAtMinAndKeepsItsWidthUpwards) {
  RangeStats stats = wide_stats();
  stats.min = -1.0;  // mean - alpha would lie below the observed minimum
  const double alpha = stats.b * optimal_alpha(Prior::kLaplace, 2);
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kLaplace), stats, 2);
  EXPECT_EQ(range.lo, -1.0);
  EXPECT_DOUBLE_EQ(range.hi, -1.0 + 2.0 * alpha);
}

TEST(Clipping, SignedRangeNeverExceedsMax) {
  RangeStats stats = wide_stats();
  stats.max = 1.0;
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kLaplace), stats, 8);
  EXPECT_EQ(range.hi, 1.0);
  EXPECT_LT(range.lo, range.hi);
}

TEST(Clipping, NStdUsesNSigmaForBothSignedness) {
  const RangeStats stats = wide_stats();
  const Clipping two_std = clipping_of(Clipping::Kind::kNStd, 2.0);
  EXPECT_DOUBLE_EQ(clipping_alpha(two_std, stats, 4, Signedness::kSigned), 4.0);
  EXPECT_DOUBLE_EQ(clipping_alpha(two_std, stats, 4, Signedness::kUnsigned), 4.0);
  const ClipRange range = signed_clip_range(two_std, stats, 4);
  EXPECT_DOUBLE_EQ(range.lo, 0.5 - 4.0);
  EXPECT_DOUBLE_EQ(range.hi, 0.5 + 4.0);
  EXPECT_THROW(clipping_alpha(clipping_of(Clipping::Kind::kNStd, -1.0), stats, 4, Signedness::kSigned), UserError);
}

TEST(Clipping, UnsignedRangeUsesTheAlphaOfOneMoreBit) {
  const RangeStats pre_relu = wide_stats();
  const double alpha_pos = pre_relu.b * optimal_alpha(Prior::kLaplace, 5);
  const ClipRange range = unsigned_clip_range(clipping_of(Clipping::Kind::kLaplace), pre_relu, 50.0, 4);
  EXPECT_EQ(range.lo, 0.0);
  EXPECT_DOUBLE_EQ(range.hi, pre_relu.mean + alpha_pos);
  EXPECT_DOUBLE_EQ(clipping_alpha(clipping_of(Clipping::Kind::kGauss), pre_relu, 8, Signedness::kUnsigned),
                   pre_relu.std * optimal_alpha_unsigned(Prior::kGauss, 8));
}

TEST(Clipping, UnsignedRangeIgnoresANegativeMeanAndStopsAtThePostReluMax) {
  RangeStats pre_relu = wide_stats();
  pre_relu.mean = -3.0;
  const double alpha_pos = pre_relu.std * optimal_alpha(Prior::kGauss, 4);
  const Clipping gauss = clipping_of(Clipping::Kind::kGauss);
  EXPECT_DOUBLE_EQ(unsigned_clip_range(gauss, pre_relu, 50.0, 3).hi, alpha_pos);
  EXPECT_EQ(unsigned_clip_range(gauss, pre_relu, 1.25, 3).hi, 1.25);
}

TEST(Clipping, UnsignedWithoutClippingIsZeroToPostReluMax) {
  const ClipRange range = unsigned_clip_range(clipping_of(Clipping::Kind::kNone), wide_stats(), 7.0, 4);
  EXPECT_EQ(range.lo, 0.0);
  EXPECT_EQ(range.hi, 7.0);
}

// compute_quant_params (quant_params.h) picks the signed or the unsigned range by the request's signedness; an
// unsigned site's range comes from its pre-ReLU statistics and stops at the maximum of its (post-ReLU) value.
TEST(Clipping, DispatchFollowsSignedness) {
  const RangeStats stats = wide_stats();
  const Clipping laplace = clipping_of(Clipping::Kind::kLaplace);
  ChannelwiseStats value;  // as wide_stats, read with -sk max
  value.per_tensor = {stats.min, stats.max, 0.0, 0.0, stats.mean, stats.std, stats.b};
  ChannelwiseStats post_relu = value;
  post_relu.per_tensor.min = 0.0;
  post_relu.per_tensor.max = 3.0;
  TensorQuantRequest request;
  request.bits = 4;
  request.clipping = laplace;
  request.stats_kind = StatsKind::kMax;
  const ClipRange as_signed = compute_quant_params(request, value, nullptr).range;
  request.signedness = Signedness::kUnsigned;
  const ClipRange as_unsigned = compute_quant_params(request, post_relu, &value).range;
  EXPECT_DOUBLE_EQ(as_signed.lo, signed_clip_range(laplace, stats, 4).lo);
  EXPECT_EQ(as_unsigned.lo, 0.0);
  EXPECT_EQ(as_unsigned.hi, 3.0);
}

TEST(Clipping, ConstantTensorGivesAnEmptyRangeAtItsValue) {
  RangeStats stats;
  stats.min = stats.max = stats.mean = 2.5;  // std = b = 0
  const ClipRange range = signed_clip_range(clipping_of(Clipping::Kind::kGauss), stats, 4);
  EXPECT_EQ(range.lo, 2.5);
  EXPECT_EQ(range.hi, 2.5);
}

TEST(Clipping, NoClippingValueWithoutClipping) {
  EXPECT_THROW(clipping_alpha(clipping_of(Clipping::Kind::kNone), wide_stats(), 4, Signedness::kSigned), UserError);
}

}  // namespace
}  // namespace quantsim
