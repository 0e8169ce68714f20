#pragma once
// Per-channel bit allocation (-baa / -baw, docs/QUANTIZATION.md, section 3): channels with a wider distribution get
// more bits, keeping the average at the budget. The quantization noise of channel i scales as a_i^2 / bins_i^2;
// minimizing its sum for a fixed total number of bins gives bins_i proportional to a_i^(2/3) (ACIQ paper, eq. 10),
// where a_i is the channel's sigma (-bap gaus) or b (-bap laplace).
#include <vector>

#include "quantsim/quant/choices.h"

namespace quantsim {

constexpr int kMinAllocatedBits = 1;
constexpr int kMaxAllocatedBits = 8;
constexpr double kBitBudgetTolerance = 0.01;  // stop when |mean(bits) - target| <= this
constexpr int kMaxBitBudgetSteps = 10;

// Bits of each channel for an average budget of `target_bits`:
//   bins_i = 2^T * n * a_i^(2/3) / sum_j a_j^(2/3),  bits_i = round|ceil(log2(bins_i)) clamped to [1, 8],
// starting with T = target_bits and, while |mean(bits) - target_bits| > 0.01, T += (target_bits - mean(bits)) / 2,
// at most 10 steps; the bits of the last step are returned (the budget may be missed when it is unreachable,
// e.g. a target above 8, or when rounding makes the mean jump over it).
// Rounding is half-to-even (std::nearbyint, as torch.round in the public code); log2 of a real statistic is
// practically never exactly k + 0.5, so the tie rule hardly ever matters.
// A channel with a_i == 0 (constant) needs no bins: log2(0) = -inf and it gets the floor of 1 bit. When every a_i
// is 0 the channels are treated as equal. Throws UserError for a negative or non-finite a_i or target.
std::vector<int> allocate_bits(const std::vector<double>& range_statistics, double target_bits, BitRounding rounding);

}  // namespace quantsim
