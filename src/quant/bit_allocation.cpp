// Per-channel bit allocation with the budget adjustment loop of docs/QUANTIZATION.md, section 3.
#include "quantsim/quant/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

void check_inputs(const std::vector<double>& range_statistics, double target_bits) {
  if (!std::isfinite(target_bits) || target_bits <= 0.0) {
    throw UserError("bit allocation: target bits must be a positive number, got " + std::to_string(target_bits));
  }
  for (size_t i = 0; i < range_statistics.size(); ++i) {
    const double a = range_statistics[i];
    if (!std::isfinite(a) || a < 0.0) {
      throw UserError("bit allocation: channel " + std::to_string(i) + " has an invalid range statistic " +
                      std::to_string(a) + " (must be finite and >= 0)");
    }
  }
}

// Each channel's share n * a_i^(2/3) / sum_j a_j^(2/3) of the bins, so that bins_i = 2^T * share_i.
std::vector<double> bin_shares(const std::vector<double>& range_statistics) {
  std::vector<double> weights(range_statistics.size());
  std::transform(range_statistics.begin(), range_statistics.end(), weights.begin(),
                 [](double a) { return std::pow(a, 2.0 / 3.0); });
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  const double n = static_cast<double>(weights.size());
  std::vector<double> shares(weights.size(), 1.0);  // all channels constant: treat them as equal
  if (total > 0.0) {
    for (size_t i = 0; i < weights.size(); ++i) shares[i] = n * weights[i] / total;
  }
  return shares;
}

// bits_i for the budget exponent T; log2(2^T * share) = T + log2(share), -inf for a zero share.
std::vector<int> bits_for_budget(const std::vector<double>& shares, double budget_exponent, BitRounding rounding) {
  std::vector<int> bits(shares.size());
  for (size_t i = 0; i < shares.size(); ++i) {
    const double log2_bins = budget_exponent + std::log2(shares[i]);
    const double rounded = rounding == BitRounding::kCeil ? std::ceil(log2_bins) : std::nearbyint(log2_bins);
    // Clamp while still a double: -inf (a constant channel) must not reach the int conversion.
    bits[i] = static_cast<int>(std::clamp(rounded, double{kMinAllocatedBits}, double{kMaxAllocatedBits}));
  }
  return bits;
}

double mean_bits(const std::vector<int>& bits) {
  return std::accumulate(bits.begin(), bits.end(), 0.0) / static_cast<double>(bits.size());
}

}  // namespace

std::vector<int> allocate_bits(const std::vector<double>& range_statistics, double target_bits, BitRounding rounding) {
  check_inputs(range_statistics, target_bits);
  if (range_statistics.empty()) return {};
  const std::vector<double> shares = bin_shares(range_statistics);
  double budget_exponent = target_bits;
  std::vector<int> bits;
  for (int step = 0; step < kMaxBitBudgetSteps; ++step) {
    bits = bits_for_budget(shares, budget_exponent, rounding);
    const double miss = target_bits - mean_bits(bits);
    if (std::abs(miss) <= kBitBudgetTolerance) break;
    budget_exponent += miss / 2.0;  // half steps: rounding makes mean(bits) jump, a full step would oscillate more
  }
  return bits;
}

}  // namespace quantsim
