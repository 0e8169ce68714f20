// Histogram range methods (docs/QUANTIZATION.md, section 2); see range_methods.h.
#include "quantsim/quant/range_methods.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

void check_bits(int bits) {
  if (bits < 1 || bits > 16) throw UserError(fmt::format("clipping: bits must be in 1..16, got {}", bits));
}

// The quantizer of section 1 in double precision: the range widened to hold 0, 2^M levels, rounded zero point.
struct Grid {
  double scale = 0.0;
  double zp = 0.0;
  int64_t qmax = 0;
  double level(int64_t k) const { return (static_cast<double>(k) - zp) * scale; }
  int64_t level_of(double x) const {
    const double q = std::nearbyint(x / scale) + zp;
    return static_cast<int64_t>(std::clamp(q, 0.0, static_cast<double>(qmax)));
  }
};

// Integral of (x - v)^2 over [a, b].
double squared_error_integral(double a, double b, double v) {
  const double hi = b - v, lo = a - v;
  return (hi * hi * hi - lo * lo * lo) / 3.0;
}

// TensorRT's smoothing (as in the open implementations of the talk's procedure): every empty bin gets eps, taken in
// equal parts from the non-empty ones, so that KL(P || Q) stays finite. False when nothing is non-empty.
bool smooth(std::vector<double>& counts) {
  constexpr double kEps = 1e-4;
  size_t zeros = 0;
  for (double c : counts) zeros += c == 0.0 ? 1 : 0;
  const size_t nonzeros = counts.size() - zeros;
  if (nonzeros == 0) return false;
  const double eps1 = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& c : counts) c = c == 0.0 ? kEps : c - eps1;
  return true;
}

// KL(P || Q) of two unnormalized distributions of equal size (each normalized here).
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0.0, sq = 0.0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  double kl = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0.0) continue;
    const double pn = p[i] / sp, qn = q[i] / sq;
    if (qn <= 0.0) return std::numeric_limits<double>::infinity();
    kl += pn * std::log(pn / qn);
  }
  return kl;
}

}  // namespace

bool is_histogram_method(const Clipping& clipping) {
  return clipping.kind == Clipping::Kind::kMse || clipping.kind == Clipping::Kind::kPercentile ||
         clipping.kind == Clipping::Kind::kEntropy;
}

ClipRange histogram_clip_range(double t, double min, double max, Signedness signedness) {
  if (signedness == Signedness::kUnsigned) return {0.0, std::min(max, t)};
  // Clamping to [-T, T] leaves the tensor in [max(min, -T), min(max, T)]; a tensor entirely on one side of -T or T
  // collapses onto it.
  const double lo = std::min(std::max(min, -t), t);
  const double hi = std::max(std::min(max, t), -t);
  return {lo, hi};
}

double percentile_clipping_value(const Histogram& histogram, double percent) {
  if (!(percent > 0.0 && percent <= 100.0)) {
    throw UserError(fmt::format("clipping: percentile:P needs 0 < P <= 100, got {}", percent));
  }
  const std::vector<double> abs_counts = histogram.abs_counts();
  double total = 0.0;
  for (double c : abs_counts) total += c;
  if (total <= 0.0 || histogram.limit <= 0.0) return 0.0;
  const double target = percent / 100.0 * total;
  const double w = histogram.bin_width();
  double cumulative = 0.0;
  for (size_t j = 0; j < abs_counts.size(); ++j) {
    if (abs_counts[j] > 0.0 && cumulative + abs_counts[j] >= target) {
      const double fraction = std::clamp((target - cumulative) / abs_counts[j], 0.0, 1.0);
      return std::min(histogram.limit, (static_cast<double>(j) + fraction) * w);
    }
    cumulative += abs_counts[j];
  }
  return histogram.limit;
}

double entropy_clipping_value(const Histogram& histogram, int bits, Signedness signedness) {
  check_bits(bits);
  std::vector<double> bins = histogram.abs_counts();
  const int64_t h = static_cast<int64_t>(bins.size());
  // The bin at 0 holds every exact zero of a post-ReLU tensor (often half of it): a spike that the merged Q spreads
  // over its group, which KL punishes until the groups are one bin wide, i.e. until T is pulled far in. NVIDIA's
  // pytorch-quantization replaces it by its neighbour's count; so does quant-sim (docs/QUANTIZATION.md, section 2).
  if (h >= 2) bins[0] = bins[1];
  const int64_t levels = int64_t{1} << (signedness == Signedness::kUnsigned ? bits : bits - 1);
  if (h <= levels || histogram.limit <= 0.0) return histogram.limit;
  std::vector<double> suffix(static_cast<size_t>(h + 1), 0.0);  // suffix[i] = sum of bins i..h-1
  for (int64_t i = h - 1; i >= 0; --i) suffix[static_cast<size_t>(i)] = suffix[static_cast<size_t>(i + 1)] + bins[i];
  double best = std::numeric_limits<double>::infinity();
  int64_t best_i = h;
  std::vector<double> p, q;
  for (int64_t i = levels; i <= h; ++i) {
    p.assign(bins.begin(), bins.begin() + i);
    p[static_cast<size_t>(i - 1)] += suffix[static_cast<size_t>(i)];
    q.assign(static_cast<size_t>(i), 0.0);
    const int64_t merged = i / levels;
    for (int64_t j = 0; j < levels; ++j) {
      const int64_t start = j * merged;
      const int64_t stop = j == levels - 1 ? i : start + merged;  // the last group takes the remainder
      double sum = 0.0;
      int64_t nonzero = 0;
      for (int64_t k = start; k < stop; ++k) {
        sum += bins[static_cast<size_t>(k)];  // Q is built from the bins without the outliers
        nonzero += p[static_cast<size_t>(k)] != 0.0 ? 1 : 0;
      }
      if (nonzero == 0) continue;
      for (int64_t k = start; k < stop; ++k) {
        if (p[static_cast<size_t>(k)] != 0.0) q[static_cast<size_t>(k)] = sum / static_cast<double>(nonzero);
      }
    }
    smooth(p);
    const double divergence = smooth(q) ? kl_divergence(p, q) : std::numeric_limits<double>::infinity();
    if (divergence < best) {
      best = divergence;
      best_i = i;
    }
  }
  return static_cast<double>(best_i) * histogram.bin_width();
}

double expected_quantization_mse(const Histogram& histogram, const ClipRange& range, int bits) {
  check_bits(bits);
  // The grid exactly as the quantizer builds it, in float32 (section 1): a symmetric range with an odd number of
  // steps puts -lo / scale on a .5 tie, which float32 rounding decides.
  const float lo = std::min(static_cast<float>(range.lo), 0.0f), hi = std::max(static_cast<float>(range.hi), 0.0f);
  const int64_t total = histogram.total();
  if (total == 0 || !(hi - lo > 0.0f)) return 0.0;  // nothing to quantize: the quantizer returns its input
  Grid grid;
  grid.qmax = (int64_t{1} << bits) - 1;
  const float scale = (hi - lo) / static_cast<float>(grid.qmax);
  if (!(scale > 0.0f)) return 0.0;  // underflow: the quantizer returns its input
  grid.scale = scale;
  grid.zp = std::nearbyint(-lo / scale);
  const double w = histogram.bin_width();
  const int64_t bins = static_cast<int64_t>(histogram.counts.size());
  double error = 0.0;
  for (int64_t i = 0; i < bins; ++i) {
    const int64_t n = histogram.counts[static_cast<size_t>(i)];
    if (n == 0) continue;
    if (w <= 0.0) {  // an all-zero tensor: 0 is exact
      continue;
    }
    const double a = -histogram.limit + static_cast<double>(i) * w, b = a + w;
    const int64_t k_first = grid.level_of(a), k_last = grid.level_of(b);
    double integral = 0.0;
    for (int64_t k = k_first; k <= k_last; ++k) {
      const double edge_lo = k == 0 ? -std::numeric_limits<double>::infinity() : grid.level(k) - 0.5 * grid.scale;
      const double edge_hi = k == grid.qmax ? std::numeric_limits<double>::infinity()
                                            : grid.level(k) + 0.5 * grid.scale;
      const double s0 = std::max(a, edge_lo), s1 = std::min(b, edge_hi);
      if (s1 > s0) integral += squared_error_integral(s0, s1, grid.level(k));
    }
    error += static_cast<double>(n) * integral / w;
  }
  return error / static_cast<double>(total);
}

double mse_clipping_value(const Histogram& histogram, double min, double max, int bits, Signedness signedness) {
  check_bits(bits);
  const int64_t h = histogram.half_bins();
  const double w = histogram.bin_width();
  if (h == 0 || w <= 0.0) return histogram.limit;
  // Beyond the extremes the range no longer changes: the last candidate is the first T that reaches them.
  const double reach = signedness == Signedness::kUnsigned ? max : std::max(std::abs(min), std::abs(max));
  double best = std::numeric_limits<double>::infinity();
  double best_t = histogram.limit;
  for (int64_t j = 1; j <= h; ++j) {
    const double t = static_cast<double>(j) * w;
    const double error = expected_quantization_mse(histogram, histogram_clip_range(t, min, max, signedness), bits);
    if (error < best) {
      best = error;
      best_t = t;
    }
    if (t >= reach) break;
  }
  return best_t;
}

double histogram_clipping_value(const Clipping& clipping, const Histogram& histogram, double min, double max, int bits,
                                Signedness signedness) {
  switch (clipping.kind) {
    case Clipping::Kind::kMse: return mse_clipping_value(histogram, min, max, bits, signedness);
    case Clipping::Kind::kPercentile: return percentile_clipping_value(histogram, clipping.percentile);
    case Clipping::Kind::kEntropy: return entropy_clipping_value(histogram, bits, signedness);
    default: break;
  }
  throw UserError(fmt::format("clipping: -c {} is not a histogram method", to_string(clipping)));
}

ClipRange histogram_method_range(const Clipping& clipping, const Histogram& histogram, double min, double max, int bits,
                                 Signedness signedness) {
  return histogram_clip_range(histogram_clipping_value(clipping, histogram, min, max, bits, signedness), min, max,
                              signedness);
}

}  // namespace quantsim
