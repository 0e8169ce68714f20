// Clipping ranges of docs/QUANTIZATION.md, section 2, following the public ACIQ code's placement of the range around
// the mean.
#include "quantsim/quant/clipping.h"

#include <algorithm>
#include <string>

#include "quantsim/core/errors.h"
#include "quantsim/quant/aciq.h"

namespace quantsim {
namespace {

double aciq_unit_alpha(Prior prior, int bits, Signedness signedness) {
  return signedness == Signedness::kUnsigned ? optimal_alpha_unsigned(prior, bits) : optimal_alpha(prior, bits);
}

}  // namespace

RangeStats range_stats(const TensorStats& stats, StatsKind kind) {
  RangeStats range;
  range.min = kind == StatsKind::kMean ? stats.min_batch_mean : stats.min;
  range.max = kind == StatsKind::kMean ? stats.max_batch_mean : stats.max;
  range.mean = stats.mean;
  range.std = stats.std;
  range.b = stats.b;
  return range;
}

double clipping_alpha(const Clipping& clipping, const RangeStats& stats, int bits, Signedness signedness) {
  switch (clipping.kind) {
    case Clipping::Kind::kLaplace: return stats.b * aciq_unit_alpha(Prior::kLaplace, bits, signedness);
    case Clipping::Kind::kGauss: return stats.std * aciq_unit_alpha(Prior::kGauss, bits, signedness);
    case Clipping::Kind::kNStd:
      if (!(clipping.n_std >= 0.0)) {
        throw UserError("clipping: Nstd needs N >= 0, got " + std::to_string(clipping.n_std));
      }
      return clipping.n_std * stats.std;
    case Clipping::Kind::kMse:
    case Clipping::Kind::kPercentile:
    case Clipping::Kind::kEntropy:
      throw UserError("clipping: -c " + to_string(clipping) + " takes its value from a histogram (range_methods.h)");
    case Clipping::Kind::kNone: break;
  }
  throw UserError("clipping: -c no has no clipping value alpha");
}

ClipRange signed_clip_range(const Clipping& clipping, const RangeStats& stats, int bits) {
  if (clipping.kind == Clipping::Kind::kNone) return {stats.min, stats.max};
  const double alpha = clipping_alpha(clipping, stats, bits, Signedness::kSigned);
  // Centred on the mean, but never below the observed min; the 2 alpha width is kept by moving hi, not lo.
  const double lo = std::max(stats.min, stats.mean - alpha);
  const double hi = std::min(stats.max, lo + 2.0 * alpha);
  return {lo, hi};
}

ClipRange unsigned_clip_range(const Clipping& clipping, const RangeStats& pre_relu, double max_post, int bits) {
  if (clipping.kind == Clipping::Kind::kNone) return {0.0, max_post};
  const double alpha = clipping_alpha(clipping, pre_relu, bits, Signedness::kUnsigned);
  // A negative pre-ReLU mean does not shrink the range below alpha: the ReLU output starts at 0.
  return {0.0, std::min(max_post, std::max(pre_relu.mean, 0.0) + alpha)};
}

}  // namespace quantsim
