// Per-plane moments of a batch; see stats_plane_moments.h.
#include "stats_plane_moments.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

namespace quantsim::stats_detail {
namespace {

// Independent accumulators per loop step: they break the add-latency chain and let the compiler vectorize the
// double sums without reassociating anything (no fast-math), so results are the same with and without AVX2.
constexpr int kLanes = 16;
// Planes handed to one thread at a time: enough values to amortize the scheduling.
constexpr int64_t kValuesPerTask = 32768;

// AVX2 clones of the hot loops, picked at load time; the baseline build targets plain x86-64 (SSE2).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QUANTSIM_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define QUANTSIM_VECTOR_CLONES
#endif

struct SumMinMax {
  double sum = 0.0;
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

// GCC vector types: the compiler does not vectorize a float min/max over lane arrays by itself.
using Floats8 = float __attribute__((vector_size(32)));
using Doubles4 = double __attribute__((vector_size(32)));

// Sum (in double), min and max of n values in one read. NaNs are skipped by min/max (they still poison the sum).
QUANTSIM_VECTOR_CLONES SumMinMax sum_min_max(const float* x, int64_t n) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  Doubles4 sum0 = {}, sum1 = {}, sum2 = {}, sum3 = {};
  Floats8 lo0 = {kInf, kInf, kInf, kInf, kInf, kInf, kInf, kInf};
  Floats8 lo1 = lo0, hi0 = -lo0, hi1 = -lo0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Floats8 a, b;
    std::memcpy(&a, x + i, sizeof a);
    std::memcpy(&b, x + i + 8, sizeof b);
    sum0 += __builtin_convertvector(__builtin_shufflevector(a, a, 0, 1, 2, 3), Doubles4);
    sum1 += __builtin_convertvector(__builtin_shufflevector(a, a, 4, 5, 6, 7), Doubles4);
    sum2 += __builtin_convertvector(__builtin_shufflevector(b, b, 0, 1, 2, 3), Doubles4);
    sum3 += __builtin_convertvector(__builtin_shufflevector(b, b, 4, 5, 6, 7), Doubles4);
    lo0 = a < lo0 ? a : lo0;
    lo1 = b < lo1 ? b : lo1;
    hi0 = a > hi0 ? a : hi0;
    hi1 = b > hi1 ? b : hi1;
  }
  SumMinMax result;
  const Doubles4 sum = (sum0 + sum1) + (sum2 + sum3);
  for (int l = 0; l < 4; ++l) result.sum += sum[l];
  for (int l = 0; l < 8; ++l) {
    result.min = std::min({result.min, lo0[l], lo1[l]});
    result.max = std::max({result.max, hi0[l], hi1[l]});
  }
  for (; i < n; ++i) {
    result.sum += x[i];
    if (x[i] < result.min) result.min = x[i];
    if (x[i] > result.max) result.max = x[i];
  }
  return result;
}

// Sum of (x - center)^2 in double. With center = the plane's mean this is the exact two-pass M2: no cancellation
// even for data far from zero (e.g. mean 1e4, std 1).
QUANTSIM_VECTOR_CLONES double squared_deviations(const float* x, int64_t n, double center) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = static_cast<double>(x[i + l]) - center;
      acc[l] += d * d;
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    const double d = static_cast<double>(x[i]) - center;
    acc[l] += d * d;
  }
  double total = 0.0;
  for (int l = 0; l < kLanes; ++l) total += acc[l];
  return total;
}

// Sums of |x - center_a| and |x - center_b| in one read.
QUANTSIM_VECTOR_CLONES void abs_deviations(const float* x, int64_t n, double center_a, double center_b, double* sum_a,
                                           double* sum_b) {
  double acc_a[kLanes] = {};
  double acc_b[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double v = x[i + l];
      acc_a[l] += std::fabs(v - center_a);
      acc_b[l] += std::fabs(v - center_b);
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    const double v = x[i];
    acc_a[l] += std::fabs(v - center_a);
    acc_b[l] += std::fabs(v - center_b);
  }
  *sum_a = 0.0;
  *sum_b = 0.0;
  for (int l = 0; l < kLanes; ++l) {
    *sum_a += acc_a[l];
    *sum_b += acc_b[l];
  }
}

struct PlaneLayout {
  int64_t images = 0;
  int64_t channels = 0;
  int64_t plane_size = 0;
  int64_t planes() const { return images * channels; }
};

PlaneLayout plane_layout(const at::Tensor& batch) {
  if (batch.dim() < 2) {
    throw std::invalid_argument("statistics need a batch of shape [N, C, ...], got " + std::to_string(batch.dim()) +
                                " dimension(s)");
  }
  PlaneLayout layout{batch.size(0), batch.size(1), 1};
  for (int64_t d = 2; d < batch.dim(); ++d) layout.plane_size *= batch.size(d);
  return layout;
}

// Runs fn(plane_index, plane_values) for every plane, in parallel.
template <typename Fn>
void for_each_plane(const at::Tensor& contiguous, const PlaneLayout& layout, Fn fn) {
  const float* data = contiguous.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, kValuesPerTask / std::max<int64_t>(1, layout.plane_size));
  at::parallel_for(0, layout.planes(), grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) fn(p, data + p * layout.plane_size);
  });
}

std::vector<double> to_vector(const at::Tensor& values) {
  const at::Tensor host = values.to(at::kCPU, at::kDouble).contiguous();
  const double* data = host.data_ptr<double>();
  return std::vector<double>(data, data + host.numel());
}

PlaneMoments empty_moments(const PlaneLayout& layout) {
  PlaneMoments moments;
  moments.images = layout.images;
  moments.channels = layout.channels;
  moments.plane_size = layout.plane_size;
  return moments;
}

PlaneMoments plane_moments_cpu(const at::Tensor& batch, const PlaneLayout& layout) {
  const at::Tensor x = batch.contiguous();
  PlaneMoments moments = empty_moments(layout);
  const auto planes = static_cast<size_t>(layout.planes());
  moments.sum.resize(planes);
  moments.m2.resize(planes);
  moments.min.resize(planes);
  moments.max.resize(planes);
  for_each_plane(x, layout, [&](int64_t p, const float* values) {
    const SumMinMax first = sum_min_max(values, layout.plane_size);
    // The second read hits the cache: a plane is small (a few KB to a few hundred KB).
    const double mean = first.sum / static_cast<double>(layout.plane_size);
    moments.sum[p] = first.sum;
    moments.m2[p] = squared_deviations(values, layout.plane_size, mean);
    moments.min[p] = first.min;
    moments.max[p] = first.max;
  });
  return moments;
}

PlaneMoments plane_moments_aten(const at::Tensor& batch, const PlaneLayout& layout) {
  const at::Tensor planes = batch.reshape({layout.images, layout.channels, layout.plane_size}).to(at::kDouble);
  const at::Tensor sum = planes.sum(2);
  const at::Tensor mean = sum / static_cast<double>(layout.plane_size);
  const at::Tensor m2 = (planes - mean.unsqueeze(2)).square().sum(2);
  const auto extremes = at::aminmax(planes, 2);
  PlaneMoments moments = empty_moments(layout);
  moments.sum = to_vector(sum);
  moments.m2 = to_vector(m2);
  moments.min = to_vector(std::get<0>(extremes));
  moments.max = to_vector(std::get<1>(extremes));
  return moments;
}

PlaneAbsDeviations plane_abs_deviations_cpu(const at::Tensor& batch, const PlaneLayout& layout,
                                            const std::vector<double>& channel_means, double tensor_mean) {
  const at::Tensor x = batch.contiguous();
  PlaneAbsDeviations deviations;
  deviations.from_channel_mean.resize(static_cast<size_t>(layout.planes()));
  deviations.from_tensor_mean.resize(static_cast<size_t>(layout.planes()));
  for_each_plane(x, layout, [&](int64_t p, const float* values) {
    abs_deviations(values, layout.plane_size, channel_means[p % layout.channels], tensor_mean,
                   &deviations.from_channel_mean[p], &deviations.from_tensor_mean[p]);
  });
  return deviations;
}

PlaneAbsDeviations plane_abs_deviations_aten(const at::Tensor& batch, const PlaneLayout& layout,
                                             const std::vector<double>& channel_means, double tensor_mean) {
  const at::Tensor planes = batch.reshape({layout.images, layout.channels, layout.plane_size}).to(at::kDouble);
  const at::Tensor means = at::tensor(channel_means, at::kDouble).to(planes.device()).view({1, -1, 1});
  PlaneAbsDeviations deviations;
  deviations.from_channel_mean = to_vector((planes - means).abs_().sum(2));
  deviations.from_tensor_mean = to_vector((planes - tensor_mean).abs_().sum(2));
  return deviations;
}

}  // namespace

bool takes_cpu_kernel(const at::Tensor& batch) { return batch.device().is_cpu() && batch.scalar_type() == at::kFloat; }

PlaneStats plane_stats_on_device(const at::Tensor& batch) {
  const PlaneLayout layout = plane_layout(batch);
  if (layout.planes() == 0 || layout.plane_size == 0) {
    throw std::invalid_argument("plane_stats_on_device: a batch without values");
  }
  const at::Tensor planes = batch.reshape({layout.images, layout.channels, layout.plane_size}).to(at::kDouble);
  const at::Tensor sum = planes.sum(2);
  const at::Tensor m2 = (planes - (sum / static_cast<double>(layout.plane_size)).unsqueeze(2)).square().sum(2);
  const auto extremes = at::aminmax(planes, 2);
  const auto channel_count = static_cast<double>(layout.images * layout.plane_size);
  const at::Tensor channel_means = sum.sum(0) / channel_count;
  const at::Tensor tensor_mean = sum.sum() / (channel_count * static_cast<double>(layout.channels));  // on the device
  const at::Tensor from_channel_mean = (planes - channel_means.view({1, -1, 1})).abs_().sum(2);
  const at::Tensor from_tensor_mean = (planes - tensor_mean).abs_().sum(2);
  const std::vector<double> all = to_vector(
      at::stack({sum, m2, std::get<0>(extremes), std::get<1>(extremes), from_channel_mean, from_tensor_mean}));
  const auto part = [&](int64_t k) {
    const auto size = static_cast<size_t>(layout.planes());
    return std::vector<double>(all.begin() + static_cast<std::ptrdiff_t>(k * size),
                               all.begin() + static_cast<std::ptrdiff_t>((k + 1) * size));
  };
  PlaneStats stats{empty_moments(layout), {}};
  stats.moments.sum = part(0);
  stats.moments.m2 = part(1);
  stats.moments.min = part(2);
  stats.moments.max = part(3);
  stats.deviations.from_channel_mean = part(4);
  stats.deviations.from_tensor_mean = part(5);
  return stats;
}

PlaneMoments plane_moments(const at::Tensor& batch) {
  const PlaneLayout layout = plane_layout(batch);
  if (layout.planes() == 0) return empty_moments(layout);
  if (layout.plane_size == 0) throw std::invalid_argument("statistics of a batch with empty planes");
  return takes_cpu_kernel(batch) ? plane_moments_cpu(batch, layout) : plane_moments_aten(batch, layout);
}

PlaneAbsDeviations plane_abs_deviations(const at::Tensor& batch, const std::vector<double>& channel_means,
                                        double tensor_mean) {
  const PlaneLayout layout = plane_layout(batch);
  if (static_cast<int64_t>(channel_means.size()) != layout.channels) {
    throw std::invalid_argument("plane_abs_deviations: " + std::to_string(channel_means.size()) +
                                " channel means for a batch of " + std::to_string(layout.channels) + " channels");
  }
  if (layout.planes() == 0) return {};
  if (layout.plane_size == 0) throw std::invalid_argument("statistics of a batch with empty planes");
  return takes_cpu_kernel(batch) ? plane_abs_deviations_cpu(batch, layout, channel_means, tensor_mean)
                                 : plane_abs_deviations_aten(batch, layout, channel_means, tensor_mean);
}

}  // namespace quantsim::stats_detail
