#pragma once
// The quantization range [lo, hi] of an activation site (or one channel of it) under the run's clipping
// (-c no|laplace|gaus|Nstd), docs/QUANTIZATION.md, section 2. Pure functions of statistics; the caller chooses which
// statistics.
#include "quantsim/quant/choices.h"
#include "quantsim/quant/tensor_stats.h"

namespace quantsim {

// The statistics a range is computed from. min/max are whichever extremes the caller uses (global, or the mean of
// per-batch extremes for -sk mean); mean, std (population) and b = mean(|x - mean|) describe the prior.
struct RangeStats {
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  double std = 0.0;
  double b = 0.0;
};

// Picks the extremes of `stats` for -sk: kMean takes the means of per-batch extremes, kMax the global ones.
RangeStats range_stats(const TensorStats& stats, StatsKind kind);

struct ClipRange {
  double lo = 0.0;
  double hi = 0.0;
};

// Signed: the tensor itself is quantized. Unsigned: a ReLU-like op follows and its (non-negative) output is
// quantized, with the statistics of the pre-ReLU tensor describing the prior.
enum class Signedness { kSigned, kUnsigned };

// The clipping value alpha in data units: laplace: b * alpha*(bits); gaus: sigma * alpha*(bits); Nstd: N * sigma.
// For unsigned sites the ACIQ priors use the alpha of bits + 1 (see optimal_alpha_unsigned); Nstd has no bit
// dependence and is the same for both. Throws UserError for -c no (there is no alpha) or bits outside 1..16.
double clipping_alpha(const Clipping& clipping, const RangeStats& stats, int bits, Signedness signedness);

// Range of a signed site: no: [min, max]; otherwise lo = max(min, mean - alpha), hi = min(max, lo + 2 alpha).
ClipRange signed_clip_range(const Clipping& clipping, const RangeStats& stats, int bits);

// Range of an unsigned (post-ReLU) site: lo = 0 and no: hi = max_post; otherwise
// hi = min(max_post, max(mean, 0) + alpha_pos). `pre_relu` holds the pre-ReLU statistics (mean, std, b; its
// min/max are not used); `max_post` is the maximum of the post-ReLU tensor.
ClipRange unsigned_clip_range(const Clipping& clipping, const RangeStats& pre_relu, double max_post, int bits);

}  // namespace quantsim
