// Two-pass statistics of an observed tensor; see stats_accumulator.h.
#include "quantsim/quant/stats_accumulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "stats_plane_moments.h"

namespace quantsim {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Moments of one channel over one batch, merged from its planes (one per image).
struct BatchChannelMoments {
  int64_t count = 0;
  double sum = 0.0;
  double m2 = 0.0;
  double min = kInfinity;
  double max = -kInfinity;
};

BatchChannelMoments batch_channel_moments(const stats_detail::PlaneMoments& planes, int64_t channel) {
  BatchChannelMoments batch;
  batch.count = planes.images * planes.plane_size;
  for (int64_t n = 0; n < planes.images; ++n) {
    const size_t p = static_cast<size_t>(n * planes.channels + channel);
    batch.sum += planes.sum[p];
    batch.min = std::min(batch.min, planes.min[p]);
    batch.max = std::max(batch.max, planes.max[p]);
  }
  // Chan's formula for equal-sized parts: within-plane M2 plus the spread of the plane means.
  const double size = static_cast<double>(planes.plane_size);
  const double mean = batch.sum / static_cast<double>(batch.count);
  for (int64_t n = 0; n < planes.images; ++n) {
    const size_t p = static_cast<size_t>(n * planes.channels + channel);
    const double offset = planes.sum[p] / size - mean;
    batch.m2 += planes.m2[p] + size * offset * offset;
  }
  return batch;
}

std::vector<int64_t> per_image_shape(const at::Tensor& batch) {
  return std::vector<int64_t>(batch.sizes().begin() + 1, batch.sizes().end());
}

}  // namespace

void StatsAccumulator::check_batch(const at::Tensor& batch, const char* caller) {
  if (batch.dim() < 2) {
    throw std::invalid_argument(
        fmt::format("StatsAccumulator::{}: need a batch of shape [N, C, ...], got {}", caller, batch.sizes()));
  }
  const std::vector<int64_t> shape = per_image_shape(batch);
  if (sample_shape_.empty()) {
    sample_shape_ = shape;
    channels_.resize(static_cast<size_t>(shape[0]));
  } else if (shape != sample_shape_) {
    throw std::invalid_argument(
        fmt::format("StatsAccumulator::{}: per-image shape {} differs from earlier {}", caller, shape, sample_shape_));
  }
}

void StatsAccumulator::observe(const at::Tensor& batch) {
  if (phase_ != Phase::kFirstPass) throw std::logic_error("StatsAccumulator::observe after finish_first_pass");
  check_batch(batch, "observe");
  if (batch.size(0) == 0) return;
  observe_moments(stats_detail::plane_moments(batch));
}

void StatsAccumulator::observe_moments(const stats_detail::PlaneMoments& planes) {
  double batch_min = kInfinity;
  double batch_max = -kInfinity;
  for (size_t c = 0; c < channels_.size(); ++c) {
    const BatchChannelMoments part = batch_channel_moments(planes, static_cast<int64_t>(c));
    ChannelMoments& channel = channels_[c];
    if (channel.count == 0) {
      channel.min = part.min;
      channel.max = part.max;
    } else {
      // Chan et al.: merging two parts' M2 needs only their counts and means, so no cancellation.
      const double delta = part.sum / part.count - channel.sum / channel.count;
      const double na = static_cast<double>(channel.count);
      const double nb = static_cast<double>(part.count);
      channel.m2 += delta * delta * (na * nb / (na + nb));
      channel.min = std::min(channel.min, part.min);
      channel.max = std::max(channel.max, part.max);
    }
    channel.count += part.count;
    channel.sum += part.sum;
    channel.m2 += part.m2;
    channel.sum_of_batch_min += part.min;
    channel.sum_of_batch_max += part.max;
    batch_min = std::min(batch_min, part.min);
    batch_max = std::max(batch_max, part.max);
  }
  sum_of_batch_min_ += batch_min;
  sum_of_batch_max_ += batch_max;
  ++batches_;
  images_first_pass_ += planes.images;
}

void StatsAccumulator::finish_first_pass() {
  if (phase_ != Phase::kFirstPass) throw std::logic_error("StatsAccumulator::finish_first_pass called twice");
  if (images_first_pass_ == 0) throw std::logic_error("StatsAccumulator::finish_first_pass: no images observed");
  channel_means_.clear();
  for (const ChannelMoments& channel : channels_) {
    channel_means_.push_back(channel.sum / static_cast<double>(channel.count));
  }
  const TensorStats tensor = tensor_stats();
  tensor_mean_ = tensor.mean;
  if (collect_histograms_) {
    std::vector<double> limits;
    for (const ChannelMoments& channel : channels_)
      limits.push_back(std::max(std::abs(channel.min), std::abs(channel.max)));
    histograms_ = HistogramAccumulator(std::max(std::abs(tensor.min), std::abs(tensor.max)), limits);
  }
  phase_ = Phase::kSecondPass;
}

void StatsAccumulator::observe_abs_deviation(const at::Tensor& batch) {
  if (phase_ != Phase::kSecondPass) {
    throw std::logic_error("StatsAccumulator::observe_abs_deviation before finish_first_pass");
  }
  check_batch(batch, "observe_abs_deviation");
  if (batch.size(0) == 0) return;
  observe_deviations(stats_detail::plane_abs_deviations(batch, channel_means_, tensor_mean_), batch.size(0));
  if (collect_histograms_) histograms_.observe(batch);
}

void StatsAccumulator::observe_deviations(const stats_detail::PlaneAbsDeviations& planes, int64_t images) {
  const int64_t channel_count = static_cast<int64_t>(channels_.size());
  for (int64_t c = 0; c < channel_count; ++c) {
    ChannelMoments& channel = channels_[static_cast<size_t>(c)];
    for (int64_t n = 0; n < images; ++n) {
      const size_t p = static_cast<size_t>(n * channel_count + c);
      channel.abs_dev_from_channel_mean += planes.from_channel_mean[p];
      channel.abs_dev_from_tensor_mean += planes.from_tensor_mean[p];
    }
  }
  images_second_pass_ += images;
}

ChannelwiseStats StatsAccumulator::finish() const {
  if (phase_ != Phase::kSecondPass) throw std::logic_error("StatsAccumulator::finish before finish_first_pass");
  if (images_second_pass_ != images_first_pass_) {
    throw std::logic_error(fmt::format("StatsAccumulator::finish: the second pass saw {} images, the first {}",
                                       images_second_pass_, images_first_pass_));
  }
  ChannelwiseStats stats;
  stats.per_tensor = tensor_stats();
  for (const ChannelMoments& channel : channels_) stats.per_channel.push_back(channel_stats(channel));
  if (collect_histograms_) stats.histograms = histograms_.histograms();
  return stats;
}

TensorStats StatsAccumulator::channel_stats(const ChannelMoments& channel) const {
  const double count = static_cast<double>(channel.count);
  TensorStats stats;
  stats.min = channel.min;
  stats.max = channel.max;
  stats.min_batch_mean = channel.sum_of_batch_min / static_cast<double>(batches_);
  stats.max_batch_mean = channel.sum_of_batch_max / static_cast<double>(batches_);
  stats.mean = channel.sum / count;
  stats.std = std::sqrt(channel.m2 / count);
  stats.b = channel.abs_dev_from_channel_mean / count;
  return stats;
}

// The whole tensor, merged from its channels (Chan's formula again).
TensorStats StatsAccumulator::tensor_stats() const {
  int64_t count = 0;
  double sum = 0.0;
  double abs_dev = 0.0;
  TensorStats stats;
  stats.min = kInfinity;
  stats.max = -kInfinity;
  for (const ChannelMoments& channel : channels_) {
    count += channel.count;
    sum += channel.sum;
    abs_dev += channel.abs_dev_from_tensor_mean;
    stats.min = std::min(stats.min, channel.min);
    stats.max = std::max(stats.max, channel.max);
  }
  const double total = static_cast<double>(count);
  stats.mean = sum / total;
  double m2 = 0.0;
  for (const ChannelMoments& channel : channels_) {
    const double offset = channel.sum / static_cast<double>(channel.count) - stats.mean;
    m2 += channel.m2 + static_cast<double>(channel.count) * offset * offset;
  }
  stats.std = std::sqrt(m2 / total);
  stats.b = abs_dev / total;
  stats.min_batch_mean = sum_of_batch_min_ / static_cast<double>(batches_);
  stats.max_batch_mean = sum_of_batch_max_ / static_cast<double>(batches_);
  return stats;
}

void StatsAccumulator::observe_on_device(const at::Tensor& batch) {
  check_batch(batch, "observe");
  const stats_detail::PlaneStats planes = stats_detail::plane_stats_on_device(batch);
  observe_moments(planes.moments);
  finish_first_pass();
  observe_deviations(planes.deviations, batch.size(0));
}

ChannelwiseStats dynamic_batch_stats(const at::Tensor& batch) {
  StatsAccumulator accumulator;
  if (!stats_detail::takes_cpu_kernel(batch) && batch.dim() >= 2 && batch.numel() > 0) {
    accumulator.observe_on_device(batch);  // one transfer of the per-plane results, never the activations
  } else {
    accumulator.observe(batch);
    accumulator.finish_first_pass();
    accumulator.observe_abs_deviation(batch);
  }
  return accumulator.finish();
}

}  // namespace quantsim
