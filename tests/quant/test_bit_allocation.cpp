// Per-channel bit allocation (docs/QUANTIZATION.md, section 3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "quant/aciq_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/aciq.h"
#include "quantsim/quant/bit_allocation.h"

namespace quantsim {
namespace {

double mean_of(const std::vector<int>& bits) {
  return std::accumulate(bits.begin(), bits.end(), 0.0) / static_cast<double>(bits.size());
}

// n statistics spread geometrically over [low, high].
std::vector<double> geometric_scales(int n, double low, double high) {
  std::vector<double> scales(n);
  for (int i = 0; i < n; ++i) scales[i] = low * std::pow(high / low, static_cast<double>(i) / (n - 1));
  return scales;
}

TEST(BitAllocation, EqualChannelsGetTheTargetBits) {
  EXPECT_EQ(allocate_bits(std::vector<double>(6, 0.7), 4.0, BitRounding::kRound), std::vector<int>(6, 4));
  EXPECT_EQ(allocate_bits(std::vector<double>(6, 0.7), 3.0, BitRounding::kCeil), std::vector<int>(6, 3));
}

TEST(BitAllocation, MeanBitsMeetTheTargetWhereReachable) {
  for (BitRounding rounding : {BitRounding::kRound, BitRounding::kCeil}) {
    for (double target : {2.0, 3.0, 4.0}) {
      const std::vector<int> bits = allocate_bits(geometric_scales(64, 0.01, 3.0), target, rounding);
      EXPECT_NEAR(mean_of(bits), target, kBitBudgetTolerance) << "target " << target;
    }
  }
}

TEST(BitAllocation, WiderChannelsGetAtLeastAsManyBits) {
  const std::vector<int> bits = allocate_bits(geometric_scales(32, 0.05, 20.0), 4.0, BitRounding::kRound);
  EXPECT_TRUE(std::is_sorted(bits.begin(), bits.end()));
  EXPECT_LT(bits.front(), bits.back());
}

TEST(BitAllocation, BitsAreClampedToOneToEight) {
  // One huge channel among tiny ones would want far more than 8 bits, the tiny ones fewer than 1.
  std::vector<double> scales(16, 1e-9);
  scales[0] = 1e6;
  const std::vector<int> bits = allocate_bits(scales, 4.0, BitRounding::kRound);
  EXPECT_EQ(bits[0], kMaxAllocatedBits);
  for (int b : bits) {
    EXPECT_GE(b, kMinAllocatedBits);
    EXPECT_LE(b, kMaxAllocatedBits);
  }
  // Unreachable budgets end at the clamp.
  EXPECT_EQ(allocate_bits(std::vector<double>(4, 1.0), 12.0, BitRounding::kRound), std::vector<int>(4, 8));
  EXPECT_EQ(allocate_bits(std::vector<double>(4, 1.0), 0.25, BitRounding::kRound), std::vector<int>(4, 1));
}

TEST(BitAllocation, ConstantChannelsGetOneBitAndTheRestKeepsTheBudget) {
  std::vector<double> scales = geometric_scales(8, 0.5, 2.0);
  scales.push_back(0.0);
  scales.push_back(0.0);
  const std::vector<int> bits = allocate_bits(scales, 4.0, BitRounding::kRound);
  EXPECT_EQ(bits[8], 1);
  EXPECT_EQ(bits[9], 1);
  EXPECT_NEAR(mean_of(bits), 4.0, kBitBudgetTolerance);
  EXPECT_EQ(allocate_bits(std::vector<double>(5, 0.0), 3.0, BitRounding::kRound), std::vector<int>(5, 3));
}

TEST(BitAllocation, FollowsTheBudgetAdjustmentByHand) {
  // a = {1, 27}: a^(2/3) = {1, 9}, shares n a^(2/3) / sum = {0.2, 1.8}, log2 = {-2.32, 0.85}.
  // T = 3 gives {0.68, 3.85} -> {1, 4} (mean 2.5); T rises by 0.25 per step until T = 3.75: {1.43, 4.60} -> {1, 5}.
  EXPECT_EQ(allocate_bits({1.0, 27.0}, 3.0, BitRounding::kRound), (std::vector<int>{1, 5}));
  // ceil: T = 3 -> {1, 4}; T = 3.25: {0.93, 4.10} -> {1, 5}.
  EXPECT_EQ(allocate_bits({1.0, 27.0}, 3.0, BitRounding::kCeil), (std::vector<int>{1, 5}));
}

TEST(BitAllocation, UsesTheLastStepWhenTheBudgetCannotBeMet) {
  // Equal channels can only all get 3 or all 4 bits: T alternates 3.5 (-> 4, half to even), 3.25 (-> 3), ...
  // and the tenth step, at T = 3.25, decides.
  EXPECT_EQ(allocate_bits(std::vector<double>(3, 1.0), 3.5, BitRounding::kRound), std::vector<int>(3, 3));
}

TEST(BitAllocation, RejectsInvalidInputs) {
  EXPECT_THROW(allocate_bits({1.0, -0.5}, 4.0, BitRounding::kRound), UserError);
  EXPECT_THROW(allocate_bits({1.0, NAN}, 4.0, BitRounding::kRound), UserError);
  EXPECT_THROW(allocate_bits({1.0}, 0.0, BitRounding::kRound), UserError);
  EXPECT_TRUE(allocate_bits({}, 4.0, BitRounding::kRound).empty());
}

// Monte-Carlo: Laplace channels of very different scales, each quantized with the affine quantizer on its ACIQ range.
double total_channel_mse(const std::vector<std::vector<float>>& channels, const std::vector<double>& scales,
                         const std::vector<int>& bits) {
  double total = 0.0;
  for (size_t c = 0; c < channels.size(); ++c) {
    const double alpha = scales[c] * optimal_alpha(Prior::kLaplace, bits[c]);
    total += testing::empirical_mse(channels[c], -alpha, alpha, bits[c]);
  }
  return total;
}

TEST(BitAllocation, LowersTheTotalErrorOfLaplaceChannelsAtTheSameBudget) {
  const int target = 4;
  const std::vector<double> scales = geometric_scales(16, 0.02, 4.0);
  std::vector<std::vector<float>> channels;
  for (size_t c = 0; c < scales.size(); ++c) {
    channels.push_back(testing::sample_prior(Prior::kLaplace, 20000, scales[c], 1000 + c));
  }
  const std::vector<int> allocated = allocate_bits(scales, target, BitRounding::kRound);
  ASSERT_LE(mean_of(allocated), target + kBitBudgetTolerance);
  const std::vector<int> uniform(scales.size(), target);
  EXPECT_LT(total_channel_mse(channels, scales, allocated), 0.8 * total_channel_mse(channels, scales, uniform));
}

}  // namespace
}  // namespace quantsim
